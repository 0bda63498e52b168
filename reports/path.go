package reports

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap"
)

// RefPath is a chain of references from a named root to an object.
type RefPath struct {
	Root PathRoot `json:"root"`
	// Hops are the objects from the root's object to the target, both
	// included: hops[0] is what the root names (its via is null) and the
	// last hop is the target.
	Hops []Hop `json:"hops"`
}

// PathRoot is the named root a path starts at.
type PathRoot struct {
	Kind string `json:"kind"` // module, sys, builtins, local, exception, thread-dict
	Name string `json:"name"`
}

// Hop is one object on a path and the reference that led to it.
type Hop struct {
	Via          *string `json:"via"`
	Address      string  `json:"address"`
	Type         string  `json:"type"`
	Repr         string  `json:"repr"`
	Conservative bool    `json:"conservative,omitempty"`

	desc string
}

// MaxPaths bounds `path --all`.
const MaxPaths = 20

// rootRank orders roots at one distance: a module global explains more
// than a local function object's __globals__ reaching the same dict.
var rootRank = map[pyheap.RootKind]int{
	pyheap.RootModule: 0, pyheap.RootLocal: 1, pyheap.RootException: 2,
	pyheap.RootThreadDict: 3, pyheap.RootSys: 4, pyheap.RootBuiltins: 5,
}

// BuildPaths finds the shortest reference path from a named root to id;
// with all, one shortest path per root that reaches it (at most max).
// It searches backwards from id over the reverse index, so it touches
// only what can reach the target.
func BuildPaths(h *pyheap.Heap, id pyheap.ObjectID, all bool, max int) []RefPath {
	if max <= 0 {
		max = MaxPaths
	}
	rootsOf := map[pyheap.ObjectID][]pyheap.Root{}
	for _, r := range h.Roots() {
		if r.ID >= 0 {
			rootsOf[r.ID] = append(rootsOf[r.ID], r)
		}
	}
	// next[o] is the object after o on its shortest path to id; -1 for id
	// itself, -2 not reached yet.
	next := make([]int32, h.Len())
	for i := range next {
		next[i] = -2
	}
	next[id] = -1
	type found struct {
		obj  pyheap.ObjectID
		root pyheap.Root
		dist int
		rank int
	}
	var hits []found
	layer := []pyheap.ObjectID{id}
	for dist := 0; len(layer) > 0; dist++ {
		var nextLayer []pyheap.ObjectID
		for _, o := range layer {
			for _, r := range rootsOf[o] {
				hits = append(hits, found{o, r, dist, rootRank[r.Kind]})
			}
			for _, src := range h.Referrers(o) {
				if next[src] == -2 {
					next[src] = int32(o)
					nextLayer = append(nextLayer, src)
				}
			}
		}
		if len(hits) > 0 && (!all || len(hits) >= max) {
			break
		}
		layer = nextLayer
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].dist != hits[j].dist {
			return hits[i].dist < hits[j].dist
		}
		return hits[i].rank < hits[j].rank
	})
	if !all && len(hits) > 1 {
		hits = hits[:1]
	}
	if len(hits) > max {
		hits = hits[:max]
	}
	rt := h.Runtime()
	out := []RefPath{}
	// Paths share hops, and labelling a big dict's edges is the costly
	// part: label each pair once.
	type pair struct{ from, to pyheap.ObjectID }
	type label struct {
		via  string
		cons bool
	}
	labels := map[pair]label{}
	for _, hit := range hits {
		p := RefPath{Root: PathRoot{Kind: string(hit.root.Kind), Name: hit.root.Name}}
		prev := pyheap.ObjectID(-1)
		for o := hit.obj; ; o = pyheap.ObjectID(next[o]) {
			v := rt.Describe(h.Addr(o))
			hop := Hop{Address: hexAddr(h.Addr(o)), Type: v.Type, Repr: v.Repr, desc: rt.ShortDesc(h.Addr(o))}
			if prev >= 0 {
				l, ok := labels[pair{prev, o}]
				if !ok {
					l.via, l.cons = edgeLabel(h, prev, o)
					labels[pair{prev, o}] = l
				}
				via := l.via
				hop.Via, hop.Conservative = &via, l.cons
			}
			p.Hops = append(p.Hops, hop)
			if next[o] == -1 || len(p.Hops) > h.Len() {
				break
			}
			prev = o
		}
		out = append(out, p)
	}
	return out
}

// edgeLabel is how from refers to to: the first labelled edge, preferring
// exact references to conservative ones.
func edgeLabel(h *pyheap.Heap, from, to pyheap.ObjectID) (string, bool) {
	label, cons := "?", false
	for _, e := range h.Edges(from) {
		if e.Target != to {
			continue
		}
		if !e.Conservative {
			return e.Via, false
		}
		if label == "?" {
			label, cons = e.Via, true
		}
	}
	return label, cons
}

// PathText renders a path on one line:
// sys.modules["app"] › __dict__ › key 'CACHE' › <list at 0x7f…>.
func PathText(p RefPath) string {
	parts := []string{p.Root.Name}
	for _, hop := range p.Hops {
		if hop.Via != nil {
			v := *hop.Via
			if hop.Conservative {
				v += " (conservative)"
			}
			parts = append(parts, v)
		}
	}
	if n := len(p.Hops); n > 0 {
		last := p.Hops[n-1]
		desc := last.desc
		if desc == "" {
			desc = fmt.Sprintf("<%s at %s>", last.Type, last.Address)
		}
		parts = append(parts, desc)
	}
	return strings.Join(parts, " › ")
}

// WritePathsText prints one path per line.
func WritePathsText(w io.Writer, target Value, paths []RefPath) error {
	if len(paths) == 0 {
		_, err := fmt.Fprintf(w, "no named root reaches <%s at %s> %s (it may be garbage, or held only by C code)\n", target.Type, target.Address, target.Repr)
		return err
	}
	for _, p := range paths {
		if _, err := fmt.Fprintln(w, PathText(p)); err != nil {
			return err
		}
	}
	return nil
}
