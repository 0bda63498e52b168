package reports

import (
	"bytes"
	"fmt"
	"io"

	"github.com/pycoroner/pycoroner/pyheap"
)

// PathedHolder is a holder with its shortest path from a root (refs and
// grep with --paths): one command answers why each holder is alive.
type PathedHolder struct {
	Holder
	// Path leads from a root to the holder object; nil for a frame or
	// thread holder (a root itself) and for an object no root reaches.
	Path *RefPath
}

// MarshalJSON is the holder's JSON with a "path" member (null when Path is
// nil).
func (p PathedHolder) MarshalJSON() ([]byte, error) {
	b, err := p.Holder.MarshalJSON()
	if err != nil {
		return nil, err
	}
	path, err := marshalPlain(p.Path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSuffix(b, []byte("}"))
	return append(append(append(b, `,"path":`...), path...), '}'), nil
}

// PathFinder finds holders' paths, once per holder object.
type PathFinder struct {
	h     *pyheap.Heap
	paths map[uint64]*RefPath
}

// NewPathFinder is a PathFinder over a census.
func NewPathFinder(h *pyheap.Heap) *PathFinder {
	return &PathFinder{h: h, paths: map[uint64]*RefPath{}}
}

// WithPaths gives each holder its path.
func (f *PathFinder) WithPaths(holders []Holder) []PathedHolder {
	out := make([]PathedHolder, 0, len(holders))
	for _, hd := range holders {
		ph := PathedHolder{Holder: hd}
		if hd.Kind == "object" {
			p, ok := f.paths[hd.Address]
			if !ok {
				if id, found := f.h.Find(hd.Address); found {
					if paths := BuildPaths(f.h, id, false, 1); len(paths) > 0 {
						p = &paths[0]
					}
				}
				f.paths[hd.Address] = p
			}
			ph.Path = p
		}
		out = append(out, ph)
	}
	return out
}

// WritePathedHolders prints each holder on one line and its path under it.
func WritePathedHolders(w io.Writer, hs []PathedHolder) error {
	for _, h := range hs {
		who, via := h.Describe()
		fmt.Fprintf(w, "  held by %s, %s\n", who, via)
		switch {
		case h.Kind != "object":
			fmt.Fprintln(w, "      (a root)")
		case h.Path == nil:
			fmt.Fprintln(w, "      no named root reaches it (garbage, or held only by C code)")
		default:
			fmt.Fprintf(w, "      path: %s\n", PathText(*h.Path))
		}
	}
	return nil
}

// GrepMatchPaths is a grep match whose holders have their paths.
type GrepMatchPaths struct {
	Address   string         `json:"address"`
	Type      string         `json:"type"`
	Value     string         `json:"value"`
	Truncated bool           `json:"truncated,omitempty"`
	Holders   []PathedHolder `json:"holders"`
}

// GrepPaths is the answer of grep --paths: the matches, their holders
// with their paths.
type GrepPaths struct {
	Grep    *Grep
	Matches []GrepMatchPaths
}

// GrepWithPaths gives every match's holders their paths.
func GrepWithPaths(h *pyheap.Heap, g *Grep) *GrepPaths {
	f := NewPathFinder(h)
	out := &GrepPaths{Grep: g, Matches: make([]GrepMatchPaths, 0, len(g.Matches))}
	for _, m := range g.Matches {
		out.Matches = append(out.Matches, GrepMatchPaths{Address: m.Address, Type: m.Type, Value: m.Value, Truncated: m.Truncated,
			Holders: f.WithPaths(m.Holders)})
	}
	return out
}

// JSON is the matches.
func (gp *GrepPaths) JSON() any { return gp.Matches }

// WriteText prints each match, its holders and their paths, as
// Grep.WriteText does with a path under each holder.
func (gp *GrepPaths) WriteText(w io.Writer) error {
	g, matches := gp.Grep, gp.Matches
	fmt.Fprintf(w, "%d match(es) of /%s/ among %d str/bytes objects\n", len(matches)+g.More, g.Pattern, g.Searched)
	for _, m := range matches {
		if !writeMatch(w, m.Type, m.Address, m.Value, m.Truncated, len(m.Holders)) {
			continue
		}
		if err := WritePathedHolders(w, m.Holders); err != nil {
			return err
		}
	}
	return nil
}

// RefsPaths is the answer of refs --paths: the holders with their paths.
type RefsPaths struct {
	Refs    *Refs
	Holders []PathedHolder
}

// BuildRefsPaths lists the holders of id, at most max (0: all), each with
// its path from a root.
func BuildRefsPaths(h *pyheap.Heap, id pyheap.ObjectID, max int) *RefsPaths {
	r := BuildRefs(h, id, max)
	return &RefsPaths{Refs: r, Holders: NewPathFinder(h).WithPaths(r.Holders)}
}

// JSON is the holders.
func (r *RefsPaths) JSON() any { return r.Holders }

// WriteText prints each holder and its path under it.
func (r *RefsPaths) WriteText(w io.Writer) error {
	fmt.Fprint(w, r.Refs.header())
	return WritePathedHolders(w, r.Holders)
}
