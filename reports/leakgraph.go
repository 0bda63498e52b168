package reports

import (
	"fmt"
	"time"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/pyheap"
)

// LeakGraph is a census as the graph algorithms (graph/dominators,
// graph/suspects, graph/heapdiff) see it: compact arrays over object ids,
// and the dominator tree from the named roots.
//
// The roots are the census's named roots (modules, sys, builtins, the
// threads' locals, exceptions being handled, thread-state dicts); objects
// none of them reaches (held by C code, the interpreter's frames, static
// state) are searched from too, as if something unseen held them: first
// those nothing refers to, then the rest in address order. So "retained"
// never claims an object some holder outside the tree keeps alive.
type LeakGraph struct {
	H      *pyheap.Heap
	Graph  dominators.Graph
	Sizes  []uint32 // shallow size (sys.getsizeof) per object
	TypeOf []uint32 // index into Types per object
	Types  []*pyheap.Type
	Tree   *dominators.Tree
	// Times: the arrays, and the dominator tree with its retained sizes.
	ArraysTime, TreeTime time.Duration
}

// NewLeakGraph builds the arrays and the dominator tree of a census.
func NewLeakGraph(h *pyheap.Heap) (*LeakGraph, error) {
	start := time.Now()
	g := &LeakGraph{H: h}
	n := h.Len()
	// Forward edges, from the census's reverse index (it holds every
	// reference once per edge, the type-object edge included).
	off := make([]uint32, n+1)
	for t := 0; t < n; t++ {
		for _, src := range h.Referrers(pyheap.ObjectID(t)) {
			off[src+1]++
		}
	}
	for i := 1; i <= n; i++ {
		off[i] += off[i-1]
	}
	targets := make([]uint32, off[n])
	fill := append([]uint32(nil), off[:n]...)
	for t := 0; t < n; t++ {
		for _, src := range h.Referrers(pyheap.ObjectID(t)) {
			targets[fill[src]] = uint32(t)
			fill[src]++
		}
	}
	fill = nil
	g.Graph = dominators.Graph{Off: off, Targets: targets}
	for _, r := range h.Roots() {
		if r.ID >= 0 {
			g.Graph.Roots = append(g.Graph.Roots, uint32(r.ID))
		}
	}
	g.Sizes = make([]uint32, n)
	g.TypeOf = make([]uint32, n)
	index := map[*pyheap.Type]uint32{}
	for i := 0; i < n; i++ {
		id := pyheap.ObjectID(i)
		g.Sizes[i] = uint32(h.Size(id))
		t := h.Type(id)
		k, ok := index[t]
		if !ok {
			k = uint32(len(g.Types))
			index[t] = k
			g.Types = append(g.Types, t)
		}
		g.TypeOf[i] = k
	}
	g.ArraysTime = time.Since(start)
	start = time.Now()
	tree, err := dominators.Compute(g.Graph, dominators.Options{Sizes: g.Sizes, OrphansAsRoots: true})
	if err != nil {
		return nil, fmt.Errorf("dominator tree: %w", err)
	}
	g.Tree = tree
	g.TreeTime = time.Since(start)
	return g, nil
}

// Type is an object's type.
func (g *LeakGraph) Type(u dominators.Node) *pyheap.Type { return g.Types[g.TypeOf[u]] }

// HeapSize is the sum of every object's shallow size.
func (g *LeakGraph) HeapSize() uint64 { return g.Tree.TotalRetained }

// typeName is what reports print for a type: tp_name.
func typeName(t *pyheap.Type) string { return t.Name }
