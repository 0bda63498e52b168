package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/pycoroner/pycoroner/graph/suspects"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/census"
)

// Accumulated is one type a suspect holds many of.
type Accumulated struct {
	Type         string `json:"type"`
	Count        int    `json:"count"`
	RetainedSize uint64 `json:"retained_size"`
}

// Suspect is one place where memory accumulates.
type Suspect struct {
	Address      string        `json:"address"`
	Type         string        `json:"type"`
	RetainedSize uint64        `json:"retained_size"`
	Share        float64       `json:"share"`
	Path         *RefPath      `json:"path"` // null: no named root reaches it
	Accumulates  []Accumulated `json:"accumulates"`
	Summary      string        `json:"summary"`
}

// Leaks is the answer of `leaks`.
type Leaks struct {
	HeapSize uint64    `json:"heap_size"`
	Suspects []Suspect `json:"suspects"`
}

// BuildLeaks lists the leak suspects (graph/suspects), biggest first, each
// with a path from a root and a one-line summary.
func BuildLeaks(g *LeakGraph, opts suspects.Options) *Leaks {
	out := &Leaks{HeapSize: g.HeapSize(), Suspects: []Suspect{}}
	h := g.H
	paths := newPathLabeller(h)
	for _, s := range suspects.Find(g.Tree, g.TypeOf, opts) {
		id := pyheap.ObjectID(s.Node)
		sp := Suspect{Address: hexAddr(h.Addr(id)), Type: g.Type(s.Node).ShortName(), RetainedSize: s.Retained,
			Share: s.Share, Accumulates: []Accumulated{}}
		sp.Path = paths.rootPath(id)
		for _, a := range s.Accumulates {
			sp.Accumulates = append(sp.Accumulates, Accumulated{Type: g.Types[a.Type].ShortName(), Count: a.Count, RetainedSize: a.Retained})
		}
		sp.Summary = suspectSummary(sp)
		out.Suspects = append(out.Suspects, sp)
	}
	return out
}

// suspectSummary: "<dict at 0x…> held by sys.modules["app"] › __dict__ ›
// key 'CACHE' retains 41 MiB (38% of the heap) in 3000 Blob objects".
func suspectSummary(s Suspect) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<%s at %s>", s.Type, s.Address)
	if s.Path != nil {
		parts := []string{s.Path.Root.Name}
		for _, hop := range s.Path.Hops {
			if hop.Via != nil {
				parts = append(parts, *hop.Via)
			}
		}
		fmt.Fprintf(&b, " held by %s", strings.Join(parts, " › "))
	} else {
		b.WriteString(" held by no named root")
	}
	fmt.Fprintf(&b, " retains %s (%s of the heap)", byteSize(int64(s.RetainedSize)), percentF(s.Share))
	if len(s.Accumulates) > 0 {
		a := s.Accumulates[0]
		fmt.Fprintf(&b, " in %d %s objects", a.Count, a.Type)
	}
	return b.String()
}

func percentF(share float64) string {
	if share < 0.01 {
		return fmt.Sprintf("%.2f%%", 100*share)
	}
	return fmt.Sprintf("%.0f%%", 100*share)
}

// JSON is the answer itself.
func (l *Leaks) JSON() any { return l }

// WriteText prints one paragraph per suspect.
func (l *Leaks) WriteText(w io.Writer) error {
	if len(l.Suspects) == 0 {
		_, err := fmt.Fprintf(w, "no leak suspect: no object retains 5%% or more of the heap (%s) in many children\n", byteSize(int64(l.HeapSize)))
		return err
	}
	fmt.Fprintf(w, "heap: %s; %d suspect(s), biggest first\n", byteSize(int64(l.HeapSize)), len(l.Suspects))
	for i, s := range l.Suspects {
		fmt.Fprintf(w, "\n%d. %s\n", i+1, s.Summary)
		if s.Path != nil {
			fmt.Fprintf(w, "   path: %s\n", PathText(*s.Path))
		}
		for _, a := range s.Accumulates {
			fmt.Fprintf(w, "   %8d × %-24s retaining %s\n", a.Count, a.Type, byteSize(int64(a.RetainedSize)))
		}
	}
	return nil
}

// rootPath is the path a retention report prints: the shortest, unless a
// module reaches the object within two more hops. A script's globals are
// also its <module> frame's locals, and sys.modules["app"] › __dict__ ›
// key 'CACHE' says better where to look than that frame's local.
//
// It is the first module path among the first rootPathsMax paths of
// `path --all`, if one is at most rootPathSlack hops longer than the
// shortest, else the shortest: the search need not go further than that
// (census.Heap.ShortestPathsWithin), and only the path shown is labelled,
// with the labeller's labels and descriptions (an answer of many rows).
func (pl *pathLabeller) rootPath(id pyheap.ObjectID) *RefPath {
	h := pl.h
	found := h.ShortestPathsWithin(id, rootPathsMax, rootPathSlack, rankRoot)
	if len(found) == 0 {
		return nil
	}
	pick := found[0]
	for _, p := range found {
		if p.Root.Kind == pyheap.RootModule && len(p.Objects) <= len(found[0].Objects)+rootPathSlack {
			pick = p
			break
		}
	}
	return &pl.label([]census.Path{pick})[0]
}

// The paths rootPath chooses from.
const (
	rootPathsMax  = 8
	rootPathSlack = 2
)

// The answer types of the leak-hunting commands and --paths.
var (
	_ Answer = (*Retained)(nil)
	_ Answer = (*Top)(nil)
	_ Answer = (*Leaks)(nil)
	_ Answer = (*Instances)(nil)
	_ Answer = (*Diff)(nil)
	_ Answer = (*RefsPaths)(nil)
	_ Answer = (*GrepPaths)(nil)
)
