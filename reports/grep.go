package reports

import (
	"bytes"
	"fmt"
	"io"
	"regexp"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/pyrepr"
	"github.com/pycoroner/pycoroner/pyheap/strtable"
)

// GrepMatch is one str or bytes object whose value matched.
type GrepMatch struct {
	Address string `json:"address"`
	Type    string `json:"type"` // "str" or "bytes"
	// Value is the text of a str, or Python's repr() of a bytes object
	// (b'...'), cut at GrepMaxValue characters or bytes of the object.
	Value string `json:"value"`
	// Truncated is true when the object is longer than GrepMaxValue: the
	// regexp saw only the first GrepMaxValue characters (bytes).
	Truncated bool     `json:"truncated,omitempty"`
	Holders   []Holder `json:"holders"`
}

// GrepMaxValue bounds what is decoded of one object (code points or bytes).
const GrepMaxValue = 1 << 20

// GrepOptions choose what grep searches.
type GrepOptions struct {
	Str, Bytes bool
	Max        int // matches reported; more are counted only
}

// Grep is the answer of `grep`.
type Grep struct {
	Pattern  string
	Matches  []GrepMatch
	More     int // matches beyond Max
	Searched int // objects decoded
	Cut      int // objects longer than GrepMaxValue
}

// BuildGrep searches every str and bytes object of the census (exact
// types: subclasses are not searched) for re.
func BuildGrep(h *pyheap.Heap, re *regexp.Regexp, opts GrepOptions) *Grep {
	rt := h.Runtime()
	g := &Grep{Pattern: re.String(), Matches: []GrepMatch{}}
	var finder *HolderFinder
	lit := requiredLiteral(re)
	for i := 0; i < h.Len(); i++ {
		id := pyheap.ObjectID(i)
		kind := h.Type(id).Kind
		var m GrepMatch
		switch {
		case kind == pyheap.KindStr && opts.Str:
			// An all-ASCII str is matched where it lies, and made a Go
			// string only when it matches; any other is decoded.
			raw, cut, ascii, err := rt.StrASCII(h.Addr(id), GrepMaxValue)
			if err != nil {
				continue
			}
			var s string
			if ascii && pyheap.IsASCII(raw) {
				// A str without a literal every match contains is
				// skipped without running the regexp.
				g.Searched++
				if (lit != nil && !bytes.Contains(raw, lit)) || !re.Match(raw) {
					if cut {
						g.Cut++
					}
					continue
				}
				s = string(raw)
			} else {
				cps, c, err := rt.StrLimited(h.Addr(id), GrepMaxValue)
				if err != nil {
					continue
				}
				g.Searched++
				if s, cut = string(cps), c; !re.MatchString(s) {
					if cut {
						g.Cut++
					}
					continue
				}
			}
			m = GrepMatch{Type: "str", Value: s, Truncated: cut}
		case kind == pyheap.KindBytes && opts.Bytes:
			b, cut, err := rt.Bytes(h.Addr(id), GrepMaxValue)
			if err != nil {
				continue
			}
			g.Searched++
			if !re.Match(b) {
				if cut {
					g.Cut++
				}
				continue
			}
			m = GrepMatch{Type: "bytes", Value: pyrepr.Bytes(b), Truncated: cut}
		default:
			continue
		}
		if m.Truncated {
			g.Cut++
		}
		g.keep(h, &finder, id, m, opts.Max)
	}
	return g
}

// requiredLiteral is a string every match of re contains, or nil (the
// string table's own analysis: pyheap/strtable).
func requiredLiteral(re *regexp.Regexp) []byte { return strtable.RequiredLiteral(re) }

// Warnings says what the search left out.
func (g *Grep) Warnings() []string {
	var out []string
	if g.More > 0 {
		out = append(out, fmt.Sprintf("%d more match(es) not shown (raise --max)", g.More))
	}
	if g.Cut > 0 {
		out = append(out, fmt.Sprintf("%d object(s) longer than %d characters were searched in their first %d only", g.Cut, GrepMaxValue, GrepMaxValue))
	}
	return out
}

// WriteText prints each match with its holders.
func (g *Grep) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%d match(es) of /%s/ among %d str/bytes objects\n", len(g.Matches)+g.More, g.Pattern, g.Searched)
	for _, m := range g.Matches {
		if !writeMatch(w, m.Type, m.Address, m.Value, m.Truncated, len(m.Holders)) {
			continue
		}
		for _, hd := range m.Holders {
			who, via := hd.Describe()
			fmt.Fprintf(w, "  held by %s, %s\n", who, via)
		}
	}
	return nil
}

// ReprWidth is how much of a long value text output shows.
const ReprWidth = pyheap.ReprLimit

// writeMatch prints one grep match's line (its value as Python's repr,
// cut to ReprWidth) and, when it has no holders, says so; it reports
// whether holders follow.
func writeMatch(w io.Writer, typ, addr, value string, truncated bool, holders int) bool {
	val := value
	if typ == "str" {
		val = pyrepr.Str([]rune(val))
	}
	val, cut := pyrepr.Truncate(val, ReprWidth)
	if truncated && !cut {
		val += "..."
	}
	fmt.Fprintf(w, "\n%s %s %s\n", typ, addr, val)
	if holders == 0 {
		fmt.Fprintln(w, "  no holders found (garbage, or held only by C code)")
		return false
	}
	return true
}
