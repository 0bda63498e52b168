package reports

import (
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/pyrepr"
)

// GrepHit is one object a search outside BuildGrep (the saved string
// table of cmd/pycoroner) found matching: its text as BuildGrep matches
// it.
type GrepHit struct {
	ID    pyheap.ObjectID
	Bytes bool   // a bytes object, else a str
	Text  []byte // a str's UTF-8, a bytes object's bytes, cut at GrepMaxValue
	Cut   bool   // the object is longer than GrepMaxValue
}

// BuildGrepHits is the answer BuildGrep gives when the search found hits
// (in object order) among searched objects, cut of them longer than
// GrepMaxValue: the first opts.Max hits with their holders, the rest
// counted.
func BuildGrepHits(h *pyheap.Heap, pattern string, hits []GrepHit, searched, cut int, opts GrepOptions) *Grep {
	g := &Grep{Pattern: pattern, Matches: []GrepMatch{}, Searched: searched, Cut: cut}
	var finder *HolderFinder
	for _, hit := range hits {
		if opts.Max > 0 && len(g.Matches) >= opts.Max {
			g.More++ // not made into a match only to be counted
			continue
		}
		m := GrepMatch{Type: "str", Value: string(hit.Text), Truncated: hit.Cut}
		if hit.Bytes {
			m = GrepMatch{Type: "bytes", Value: pyrepr.Bytes(hit.Text), Truncated: hit.Cut}
		}
		g.keep(h, &finder, hit.ID, m, opts.Max)
	}
	return g
}

// keep adds the match m of object id with its address and holders, or
// counts it in More once max matches are kept (max 0: no bound). The
// holder finder is made on the first match kept.
func (g *Grep) keep(h *pyheap.Heap, finder **HolderFinder, id pyheap.ObjectID, m GrepMatch, max int) {
	if max > 0 && len(g.Matches) >= max {
		g.More++
		return
	}
	if *finder == nil {
		*finder = NewHolderFinder(h)
	}
	m.Address = hexAddr(h.Addr(id))
	m.Holders = (*finder).Holders(id)
	g.Matches = append(g.Matches, m)
}
