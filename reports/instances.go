package reports

import (
	"container/heap"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/internal/faultgroup"
	"github.com/pycoroner/pycoroner/pyheap"
)

// Instance is one object of the type asked for, with its holders.
type Instance struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// Repr is the object's repr (an asyncio Task's name, coroutine and
	// state; a file's name), cut as stacks cuts values.
	Repr            string   `json:"repr"`
	ShallowSize     uint64   `json:"shallow_size"`
	RetainedSize    uint64   `json:"retained_size"`
	RetainedObjects uint32   `json:"retained_objects"`
	Holders         []Holder `json:"holders"`
}

// Instances is the answer of `instances`: Count objects of the type, the
// Instances listed being the biggest retained.
type Instances struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
	// Types are the module-qualified names of the types counted: more
	// than one when the name given is ambiguous (two classes Widget of two
	// modules, or one module imported under two names).
	Types     []string   `json:"types"`
	Instances []Instance `json:"instances"`
}

// Warning says, when the name matched several types, that their objects
// were counted together and how to pick one; "" otherwise.
func (in *Instances) Warning() string {
	if len(in.Types) < 2 {
		return ""
	}
	return fmt.Sprintf("%q names %d types: %s; their objects are counted together (give the module-qualified name to count one)",
		in.Type, len(in.Types), strings.Join(in.Types, ", "))
}

// BuildInstances lists the objects of the types name matches (see
// LeakGraph.MatchesType), largest retained first, top of them (0: all).
func BuildInstances(g *LeakGraph, name string, top int) (*Instances, error) {
	want := make([]bool, len(g.Types))
	found := false
	for _, ti := range g.FindType(name) {
		want[ti], found = true, true
	}
	if !found {
		hint := ""
		if near := g.typesNamedLike(name); len(near) > 0 {
			hint = "; did you mean " + strings.Join(near, " or ") + "?"
		}
		return nil, fmt.Errorf("no object of a type named %q in the census (give tp_name, __name__ or module.__name__, as histogram prints them)%s", name, hint)
	}
	nodes, count, ok := g.TypeTops.largest(g, want, top)
	if !ok {
		nodes, count = largestOfTypes(g.Tree, g.TypeOf, want, top)
	}
	out := &Instances{Type: name, Count: count, Types: []string{}, Instances: []Instance{}}
	rt := g.H.Runtime()
	qualified := map[*pyheap.Type]string{} // each type's, once
	for ti, w := range want {
		if w {
			t := g.Types[ti]
			qualified[t] = rt.ClassName(t)
			if !slices.Contains(out.Types, qualified[t]) {
				out.Types = append(out.Types, qualified[t])
			}
		}
	}
	sort.Strings(out.Types)
	finder := NewHolderFinder(g.H)
	ids := make([]pyheap.ObjectID, len(nodes))
	for i, u := range nodes {
		ids[i] = pyheap.ObjectID(u)
	}
	finder.idx.Prefetch(ids)
	for _, u := range nodes {
		id := pyheap.ObjectID(u)
		typ := g.Type(u).ShortName()
		if len(out.Types) > 1 {
			t := g.Type(u) // which of them
			if _, ok := qualified[t]; !ok {
				qualified[t] = rt.ClassName(t)
			}
			typ = qualified[t]
		}
		out.Instances = append(out.Instances, Instance{Address: hexAddr(g.H.Addr(id)), Type: typ, Repr: rt.Describe(g.H.Addr(id)).Repr,
			ShallowSize: uint64(g.Sizes[u]), RetainedSize: g.Tree.Retained(u), RetainedObjects: g.Tree.Count[u],
			Holders: finder.Holders(id)})
	}
	return out, nil
}

// largestOfTypes lists the nodes whose type want marks, the largest
// retained first (then by node), top of them (0: all), and counts them
// all.
func largestOfTypes(tree *dominators.Tree, typeOf []uint32, want []bool, top int) ([]dominators.Node, int) {
	wantOne := make([]uint8, len(want))
	for i, w := range want {
		if w {
			wantOne[i] = 1
		}
	}
	// The largest retained first, then by id (Tree.ByRetained): with
	// --top only the top are kept while counting (a type of millions is
	// not sorted whole).
	// The type indexes are scanned in parts, one per CPU (21 M objects:
	// ~30 ms on one), each keeping its own top; the top of their union is
	// the top of all, and the order below is total, so the answer does not
	// depend on the split.
	parts := 1
	if len(typeOf) >= 1<<20 {
		parts = runtime.GOMAXPROCS(0)
	}
	counts := make([]int, parts)
	perPart := make([][]dominators.Node, parts)
	var wg faultgroup.Group // the arrays may be a saved file's mapping
	for p := range parts {
		lo, hi := len(typeOf)*p/parts, len(typeOf)*(p+1)/parts
		wg.Go(func() {
			var nodes []dominators.Node
			kept := &nodeHeap{worse: func(a, b dominators.Node) bool { return tree.ByRetained(a, b) > 0 }}
			// The least retained kept: nodes come in increasing order,
			// so one that retains no more than it is not kept (a type
			// of millions: one comparison each, not a call of ByRetained).
			var least uint64
			count := 0
			// The objects of the type are gathered a block at a time
			// without a branch (a type of every seventh object foils
			// the branch predictor: half the scan's time), then kept.
			var block [4096]dominators.Node
			for base := lo; base < hi; base += len(block) {
				m := gatherTypes(typeOf[base:min(base+len(block), hi)], base, wantOne, &block)
				count += m
				for _, n := range block[:m] {
					switch {
					case top <= 0:
						nodes = append(nodes, n)
					case kept.Len() < top:
						heap.Push(kept, n)
						least = tree.Retained(kept.nodes[0])
					case tree.Retained(n) > least:
						kept.nodes[0] = n
						heap.Fix(kept, 0)
						least = tree.Retained(kept.nodes[0])
					}
				}
			}
			counts[p] = count
			if top > 0 {
				nodes = kept.nodes
			}
			perPart[p] = nodes
		})
	}
	wg.Wait()
	count := 0
	var nodes []dominators.Node
	for p := range parts {
		count += counts[p]
		nodes = append(nodes, perPart[p]...)
	}
	slices.SortFunc(nodes, tree.ByRetained)
	if top > 0 && len(nodes) > top {
		nodes = nodes[:top]
	}
	return nodes, count
}

// gatherTypes puts in block the nodes of typeOf (the first numbered
// base) whose type want marks with 1, and returns how many; no more than
// len(block) types are given. A function of its own, so that its few
// variables stay in registers (inlined into the caller, they did not).
//
//go:noinline
func gatherTypes(typeOf []uint32, base int, want []uint8, block *[4096]dominators.Node) int {
	m := 0
	for u, ti := range typeOf[:min(len(typeOf), len(block))] {
		block[m&(len(block)-1)] = dominators.Node(base + u)
		m += int(want[ti])
	}
	return m
}

// nodeHeap keeps the best nodes seen, the worst on top.
type nodeHeap struct {
	nodes []dominators.Node
	worse func(a, b dominators.Node) bool
}

func (h *nodeHeap) Len() int           { return len(h.nodes) }
func (h *nodeHeap) Less(i, j int) bool { return h.worse(h.nodes[i], h.nodes[j]) }
func (h *nodeHeap) Swap(i, j int)      { h.nodes[i], h.nodes[j] = h.nodes[j], h.nodes[i] }
func (h *nodeHeap) Push(x any)         { h.nodes = append(h.nodes, x.(dominators.Node)) }
func (h *nodeHeap) Pop() any {
	x := h.nodes[len(h.nodes)-1]
	h.nodes = h.nodes[:len(h.nodes)-1]
	return x
}

// JSON is the answer itself.
func (in *Instances) JSON() any { return in }

// WriteText prints each instance with its holders.
func (in *Instances) WriteText(w io.Writer) error {
	noun := "objects"
	if in.Count == 1 {
		noun = "object"
	}
	fmt.Fprintf(w, "%d %s of type %s", in.Count, noun, in.Type)
	if len(in.Instances) < in.Count {
		fmt.Fprintf(w, "; the %d with the largest retained size shown (--top 0 shows all)", len(in.Instances))
	}
	fmt.Fprintln(w)
	for _, o := range in.Instances {
		objects := "objects"
		if o.RetainedObjects == 1 {
			objects = "object"
		}
		fmt.Fprintf(w, "\n%s %s: retains %s in %d %s (shallow %s), %d holder(s)\n  %s\n", o.Address, o.Type,
			byteSize(int64(o.RetainedSize)), o.RetainedObjects, objects, byteSize(int64(o.ShallowSize)), len(o.Holders), o.Repr)
		for _, h := range o.Holders {
			who, via := h.Describe()
			fmt.Fprintf(w, "  %s: %s\n", who, via)
		}
	}
	return nil
}

// typesNamedLike lists the census's types whose __name__ is the last part
// of name: asyncio.Task is _asyncio.Task, its C type's tp_name.
func (g *LeakGraph) typesNamedLike(name string) []string {
	short := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		short = name[i+1:]
	}
	var out []string
	for _, t := range g.Types {
		if t.ShortName() == short && !slices.Contains(out, g.H.Runtime().ClassName(t)) {
			out = append(out, g.H.Runtime().ClassName(t))
			if len(out) == 3 {
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
