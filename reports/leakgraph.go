package reports

import (
	"fmt"
	"time"

	"github.com/pycoroner/pycoroner/bigarray"
	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/pyheap"
)

// LeakGraph is a census as the graph algorithms (graph/dominators,
// graph/suspects, graph/heapdiff) see it: the census's compact arrays
// (census.Heap.Graph: out-edges, shallow sizes, root ids), a type index per
// object, and the dominator tree from the roots.
//
// The roots are the census's: what the named roots name (modules, sys,
// builtins, the threads' locals, exceptions being handled, thread-state
// dicts) and what the interpreter's own frames refer to (3.11+). Objects
// none of them reaches (held by C code, static state, garbage not yet
// collected) are searched from too, as if something unseen held them:
// first those nothing refers to, then the rest in address order. So
// "retained" never claims an object some holder outside the tree keeps
// alive.
type LeakGraph struct {
	H     *pyheap.Heap
	Graph dominators.Graph[pyheap.ObjectID]
	Sizes []uint32 // shallow size (sys.getsizeof) per object
	// TypeOf is an index into Types per object, types numbered in the
	// order of their first object (NewLeakTypes). A graph restored for a command that needs
	// neither (cmd/pycoroner's leakNeeds) has neither, nor Sizes, nor
	// child lists unless asked for; one for a command that only groups
	// types (leaks, instances) may have the census's numbering instead.
	TypeOf []uint32
	Types  []*pyheap.Type
	Tree   *dominators.Tree
	// LargestShallow, when a saved tree gave it, lists the objects with
	// the largest shallow sizes in `top`'s order (see LargestShallow):
	// `top` reads it instead of every size when it asks for no more.
	LargestShallow []uint32
	// TypeTops, when a saved tree gave it, is each type's count and
	// largest retained objects, for `instances` (see NewTypeTops).
	TypeTops *TypeTops
	sums     *dominators.TypeSums // typeSums, once
	// Times: the arrays, and the dominator tree with its retained sizes.
	ArraysTime, TreeTime time.Duration
}

// NewLeakGraph builds the arrays and the dominator tree of a census.
func NewLeakGraph(h *pyheap.Heap) (*LeakGraph, error) {
	g := NewLeakArrays(h)
	if err := g.ComputeTree(); err != nil {
		return nil, err
	}
	return g, nil
}

// NewLeakArrays builds the arrays only (Tree stays nil).
func NewLeakArrays(h *pyheap.Heap) *LeakGraph {
	start := time.Now()
	g := NewLeakTypes(h)
	g.AddGraph()
	g.ArraysTime = time.Since(start)
	return g
}

// NewLeakTypes builds the sizes and the type index of every object, not
// the out-edges (AddGraph): what the answers read beside a dominator tree
// restored from a saved index.
func NewLeakTypes(h *pyheap.Heap) *LeakGraph {
	start := time.Now()
	g := &LeakGraph{H: h, Sizes: h.Sizes()}
	g.AddTypes()
	g.ArraysTime = time.Since(start)
	return g
}

// AddTypes gives g the type index of every object (TypeOf, Types): what
// NewLeakTypes adds to the sizes.
func (g *LeakGraph) AddTypes() {
	h := g.H
	n := h.Len()
	// Outside the Go heap: 84 MB on 21 M objects, where a dominator
	// tree's freed work arrays can be reused (package bigarray).
	g.TypeOf = bigarray.Make[uint32](n)
	// Types are numbered in the order of their first object; a flat
	// census has a type index per object already, so the numbering is
	// one pass over it and a table per census type, not a map lookup per
	// object.
	if typeOf, types := h.TypeIndexes(); typeOf != nil && len(typeOf) == n {
		const unseen = ^uint32(0)
		remap := make([]uint32, len(types))
		for i := range remap {
			remap[i] = unseen
		}
		index := map[*pyheap.Type]uint32{}
		for i, ix := range typeOf {
			k := remap[ix]
			if k == unseen {
				t := types[ix]
				var ok bool
				if k, ok = index[t]; !ok {
					k = uint32(len(g.Types))
					index[t] = k
					g.Types = append(g.Types, t)
				}
				remap[ix] = k
			}
			g.TypeOf[i] = k
		}
	} else {
		index := map[*pyheap.Type]uint32{}
		for i := 0; i < n; i++ {
			t := h.Type(pyheap.ObjectID(i))
			k, ok := index[t]
			if !ok {
				k = uint32(len(g.Types))
				index[t] = k
				g.Types = append(g.Types, t)
			}
			g.TypeOf[i] = k
		}
	}
}

// AddGraph adds the census's out-edges and roots (census.Heap.Graph),
// which the dominator tree is computed from, with the reverse index as
// its predecessors.
func (g *LeakGraph) AddGraph() {
	h := g.H
	cg := h.Graph()
	g.Graph = dominators.Graph[pyheap.ObjectID]{Off: cg.Off, Targets: cg.Targets, Roots: cg.Roots,
		PredsOf: func(v dominators.Node, buf []dominators.Node) []dominators.Node {
			// The census's reverse index: the dominator tree need not
			// build its own (4 bytes per object and per reference).
			for _, src := range h.Referrers(pyheap.ObjectID(v)) {
				buf = append(buf, dominators.Node(src))
			}
			return buf
		}}
}

// ComputeTree computes the dominator tree and the retained sizes.
func (g *LeakGraph) ComputeTree() error {
	if g.Graph.Off == nil {
		g.AddGraph()
	}
	start := time.Now()
	tree, err := dominators.Compute(g.Graph, dominators.Options{Sizes: g.Sizes, OrphansAsRoots: true})
	if err != nil {
		return fmt.Errorf("dominator tree: %w", err)
	}
	g.Tree = tree
	g.TreeTime = time.Since(start)
	return nil
}

// ComputeTreeLean computes the dominator tree and the retained sizes as
// ComputeTree does, in less memory, for a census restored from its saved
// index (cmd/pycoroner: the first leak command on a core): the out-edges
// are built for the search and freed after it (census.Heap.OutEdges; g
// keeps no Graph: diff builds it when asked), the predecessors are the
// census's reverse index, and the set of objects the named roots reach
// (census.Heap.NamedRootReach) comes from the same search (returned). step
// is told when the out-edges are built ("out-edges"), when the search is
// done and they are freed ("search") and when the reverse index is no
// longer read ("semi-dominators"), so that the caller can drop the mapped
// pages it read. Sizes are read only at the end; types are not read
// (AddTypes).
func (g *LeakGraph) ComputeTreeLean(step func(string)) (reach []uint64, err error) {
	h := g.H
	start := time.Now()
	roots, named := h.GraphRoots()
	off, fwd, fresh := h.OutEdges()
	step("out-edges")
	sizes := h.Sizes()
	dg := dominators.Graph[pyheap.ObjectID]{Off: off, Targets: fwd, Roots: roots, PredsOf: g.predsOf}
	tree, err := dominators.Compute(dg, dominators.Options{Sizes: sizes, OrphansAsRoots: true, ReachFrom: named,
		Step: func(s dominators.Step) {
			switch s {
			case dominators.StepSearch:
				if fresh {
					bigarray.Free(fwd)
					bigarray.Free(off)
				}
				step("search")
			case dominators.StepSemi:
				step("semi-dominators")
			}
		}})
	if err != nil {
		return nil, fmt.Errorf("dominator tree: %w", err)
	}
	g.Tree, g.Sizes = tree, sizes
	g.TreeTime = time.Since(start)
	if named == 0 {
		return make([]uint64, (h.Len()+63)/64), nil
	}
	return tree.Reach, nil
}

// predsOf is the census's reverse index as a dominator tree's
// predecessors: the tree need not build its own (4 bytes per object and
// per reference).
func (g *LeakGraph) predsOf(v dominators.Node, buf []dominators.Node) []dominators.Node {
	for _, src := range g.H.Referrers(pyheap.ObjectID(v)) {
		buf = append(buf, dominators.Node(src))
	}
	return buf
}

// Type is an object's type: the census's when the graph was restored
// without its own numbering (TypeOf nil; the same type either way).
func (g *LeakGraph) Type(u dominators.Node) *pyheap.Type {
	if g.TypeOf == nil {
		return g.H.Type(pyheap.ObjectID(u))
	}
	return g.Types[g.TypeOf[u]]
}

// HeapSize is the sum of every object's shallow size.
func (g *LeakGraph) HeapSize() uint64 { return g.Tree.TotalRetained }

// MatchesType reports whether t is the type a user named: its tp_name
// ("collections.OrderedDict", "Session"), its __name__, or module.__name__
// ("app.models.Session").
func (g *LeakGraph) MatchesType(t *pyheap.Type, name string) bool {
	if t.Name == name || t.ShortName() == name {
		return true
	}
	mod := g.H.Runtime().TypeModule(t)
	return mod != "" && mod+"."+t.ShortName() == name
}

// FindType lists the type indexes a user's type name matches.
func (g *LeakGraph) FindType(name string) []uint32 {
	var out []uint32
	for i, t := range g.Types {
		if g.MatchesType(t, name) {
			out = append(out, uint32(i))
		}
	}
	return out
}

// typeSums is the tree's dominators.TypeSums by g's types, walked once
// (an answer and the saved tree both read them).
func (g *LeakGraph) typeSums() dominators.TypeSums {
	if g.sums == nil {
		s := g.Tree.SumByType(g.TypeOf, len(g.Types))
		g.sums = &s
	}
	return *g.sums
}
