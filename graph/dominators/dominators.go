// Package dominators computes the dominator tree of a directed graph given
// in compressed sparse row form (uint32 node ids, per-node edge offsets,
// edge targets) from a virtual root whose children are the graph's named
// roots, and the retained size and count of every node: the sum of the
// shallow sizes (and the number) of the nodes it dominates, itself included.
//
// It knows nothing of Python or of core dumps: it owns the algorithm only.
// The algorithm is semi-NCA (Georgiadis; the variant LLVM uses): a
// depth-first search numbers the nodes, semi-dominators are computed in
// reverse preorder with a path-compressed forest, and immediate dominators
// as nearest common ancestors in preorder. Nothing recurses: the search
// walks back through its parent array, path compression reverses pointers
// instead of keeping a stack, so the stack depth of a graph is irrelevant.
package dominators

import (
	"errors"
	"fmt"
	"math"

	"github.com/pycoroner/pycoroner/bigarray"
)

// Node is a node of the input graph.
type Node = uint32

const (
	// Root is the Idom of a node whose only dominator is the virtual root
	// (a named root, or a node reached from two roots' sides).
	Root Node = math.MaxUint32 - 1
	// Unreachable is the Idom of a node that no root reaches.
	Unreachable Node = math.MaxUint32
	// MaxNodes is the most nodes a graph can have.
	MaxNodes = math.MaxUint32 - 2
)

// ID is how a caller numbers nodes: uint32, or a signed 32-bit id type
// (negative ids are invalid). Graph is generic in it so that a caller's
// arrays are used as they are, not copied.
type ID interface{ ~uint32 | ~int32 }

// Graph is a directed graph in compressed sparse row form: the edges of
// node u are Targets[Off[u]:Off[u+1]], so there are len(Off)-1 nodes.
// Roots are the virtual root's children.
type Graph[I ID] struct {
	Off     []uint32
	Targets []I
	Roots   []I
	// PredsOf, when set, appends the predecessors of v (the sources of
	// the edges to v, repeats allowed) to buf and returns it: a caller
	// that already has a reverse index saves Compute building its own
	// (4 bytes per node and per edge). It must agree with Targets.
	PredsOf func(v Node, buf []Node) []Node
}

// Len is the number of nodes.
func (g Graph[I]) Len() int {
	if len(g.Off) == 0 {
		return 0
	}
	return len(g.Off) - 1
}

// Options tune Compute.
type Options struct {
	// Sizes, when set (one per node), are the shallow sizes whose sums
	// are the retained sizes.
	Sizes []uint32
	// OrphansAsRoots searches the nodes no root reaches too, as if
	// something unseen held them (a core's objects held by C code only):
	// first from each such node that nothing refers to, then from the rest
	// in node order; each search's start becomes a child of the virtual
	// root. Otherwise those nodes are Unreachable.
	OrphansAsRoots bool
	// ReachFrom, when above 0, asks for Tree.Reach: the nodes the first
	// ReachFrom roots reach (the search numbers them first).
	ReachFrom int
	// Step, when set, is told when a step of Compute ends, so that the
	// caller can give back what the rest does not read: StepSearch, once
	// the out-edges (Off, Targets) are no longer read (with PredsOf set:
	// without it, the predecessors are built from them after), and
	// StepSemi, once the predecessors are no longer read.
	Step func(Step)
}

// Step names a step of Compute (Options.Step).
type Step int

const (
	StepSearch Step = iota // the depth-first search: out-edges read
	StepSemi               // the semi-dominators: predecessors read
)

// Tree is the dominator tree, node-indexed.
type Tree struct {
	// Idom is each node's immediate dominator, Root or Unreachable.
	Idom []Node
	// Count is the number of nodes each node dominates, itself included
	// (see Retained); nil without Options.Sizes, 0 for an unreachable node.
	Count []uint32
	// TotalRetained is the retained size of the virtual root: the sum of
	// the sizes of every reachable node.
	TotalRetained uint64
	// Reach is the set of nodes the first Options.ReachFrom roots reach,
	// a bit per node (node u: Reach[u/64] bit u%64); nil without it.
	Reach []uint64
	Stats Stats

	children *children
	// n is the number of nodes of a tree restored without Idom
	// (RestorePart); Len otherwise.
	n int
	// retained sizes, as low and high 32-bit halves (the memory of the
	// computation's forest arrays, reused)
	retLo, retHi []uint32
}

// Retained is the sum of Options.Sizes over the nodes u dominates, itself
// included: 0 without sizes, for an unreachable node, or for Root (see
// TotalRetained).
func (t *Tree) Retained(u Node) uint64 {
	if t.retLo == nil || int(u) >= len(t.retLo) {
		return 0
	}
	if t.retHi == nil {
		return uint64(t.retLo[u]) // every size below 4 GiB (RestorePart)
	}
	return uint64(t.retHi[u])<<32 | uint64(t.retLo[u])
}

// Len is the number of nodes.
func (t *Tree) Len() int {
	if t.Idom != nil {
		return len(t.Idom)
	}
	return t.n
}

// HasSizes reports whether the tree has retained sizes.
func (t *Tree) HasSizes() bool { return t.retLo != nil }

// Stats says what Compute found and what it cost.
type Stats struct {
	Reachable int // nodes some root reaches (orphans included when they are roots)
	Orphans   int // nodes only OrphansAsRoots made reachable
	// WorkBytes is the most memory Compute held at once beyond its input
	// and its result (Idom, Count and Retained: 16 bytes per node, which
	// the computation borrows first): the peak of the arrays alive together.
	WorkBytes int64
}

// MemoryNeeded bounds the memory Compute with Sizes holds at its peak for
// a graph of nodes nodes and edges edges, its result included (Idom,
// Count, Retained: 16 bytes per node), besides its input, the caller's
// predecessor buffer (PredsOf: its largest in-degree) and the child
// lists built later (8 bytes per node, in the spent work arrays' memory):
// 24 bytes per node, and 4 more per node and per edge when Compute builds
// its own predecessors (ownPreds: no PredsOf). A caller checks it against
// the memory it may use before it starts.
func MemoryNeeded(nodes, edges int, ownPreds bool) int64 {
	n := int64(nodes)
	bits := 8 * ((n + 64) / 64)
	// pre (Idom); order, parent, semi (Count); wide (Retained);
	// isRoot and referred, or isRoot and Reach.
	need := 4*n + 3*4*(n+1) + 2*4*(n+1) + 2*bits
	if ownPreds {
		need += 4*(n+2) + 4*int64(edges)
	}
	return need
}

// Check validates a graph: monotone offsets, targets and roots in range.
func (g Graph[I]) Check() error {
	n := g.Len()
	if n > MaxNodes {
		return fmt.Errorf("%d nodes: at most %d", n, MaxNodes)
	}
	if n == 0 {
		if len(g.Targets) != 0 || len(g.Roots) != 0 {
			return errors.New("edges or roots without nodes")
		}
		return nil
	}
	if g.Off[0] != 0 || int(g.Off[n]) != len(g.Targets) {
		return fmt.Errorf("offsets span [%d, %d), want [0, %d)", g.Off[0], g.Off[n], len(g.Targets))
	}
	for u := 0; u < n; u++ {
		if g.Off[u] > g.Off[u+1] {
			return fmt.Errorf("node %d: offsets decrease (%d > %d)", u, g.Off[u], g.Off[u+1])
		}
	}
	for i, t := range g.Targets {
		if uint64(uint32(t)) >= uint64(n) { // a negative id is out of range too
			return fmt.Errorf("edge %d: target %d out of range (%d nodes)", i, t, n)
		}
	}
	for _, r := range g.Roots {
		if uint64(uint32(r)) >= uint64(n) {
			return fmt.Errorf("root %d out of range (%d nodes)", r, n)
		}
	}
	return nil
}

// none marks the end of a reversed pointer chain in compression.
const none = math.MaxUint32

// Compute builds the dominator tree of g.
//
// Numbers: the virtual root is 0, reachable nodes are numbered 1..R in
// depth-first preorder, so a node's dominators all have smaller numbers.
func Compute[I ID](g Graph[I], opts Options) (*Tree, error) {
	if err := g.Check(); err != nil {
		return nil, err
	}
	n := g.Len()
	if opts.Sizes != nil && len(opts.Sizes) != n {
		return nil, fmt.Errorf("%d sizes for %d nodes", len(opts.Sizes), n)
	}
	var work, peak int64
	hold := func(b int64) {
		work += b
		peak = max(peak, work)
	}

	// pre: node -> number (0: not reached). It becomes the result's Idom.
	// The arrays of 4 bytes per node live outside the Go heap (package
	// bigarray): a heap of 21 M objects needs 0.5 GB of them, which the
	// Go heap would keep after they are freed and back with 4 KB pages.
	pre := bigarray.Make[uint32](n)
	// order: number -> node; parent: number -> DFS parent number (it
	// becomes the immediate dominator); semi starts as each number's edge
	// cursor during the search.
	order := bigarray.Make[uint32](n + 1)
	parent := bigarray.Make[uint32](n + 1)
	semi := bigarray.Make[uint32](n + 1)
	// What the caller freed and these did not reuse would stay in memory.
	bigarray.Trim()
	hold(int64(4 * (2*n + 2)))
	// semi becomes Count, and wide (allocated below: the forest's ancestor
	// and label arrays) becomes Retained: with sizes, both are the result's
	// memory, lent to the computation first.
	withSizes := opts.Sizes != nil
	if !withSizes {
		hold(int64(4 * (n + 1)))
	}

	next := uint32(1)
	search := func(start Node) {
		if pre[start] != 0 {
			return
		}
		pre[start], order[next], parent[next], semi[next] = next, start, 0, g.Off[start]
		cur := next
		next++
		for cur != 0 {
			u := order[cur]
			if semi[cur] < g.Off[u+1] {
				v := uint32(g.Targets[semi[cur]])
				semi[cur]++
				if pre[v] == 0 {
					pre[v], order[next], parent[next], semi[next] = next, v, cur, g.Off[v]
					cur = next
					next++
				}
				continue
			}
			cur = parent[cur] // done with u: back up (0 ends the search)
		}
	}
	// isRoot flags the numbers whose predecessor is the virtual root: the
	// named roots and the orphans' search starts.
	isRoot := make([]uint64, (n+64)/64)
	hold(int64(8 * len(isRoot)))
	flag := func(u Node) {
		if pre[u] == 0 {
			search(u)
			isRoot[pre[u]/64] |= 1 << (pre[u] % 64)
		}
	}
	reachCut := uint32(0) // numbers up to it: reached from the first ReachFrom roots
	for k, r := range g.Roots {
		search(Node(r))
		if k+1 == opts.ReachFrom {
			reachCut = next - 1
		}
	}
	if opts.ReachFrom >= len(g.Roots) {
		reachCut = next - 1
	}
	for _, r := range g.Roots {
		isRoot[pre[r]/64] |= 1 << (pre[r] % 64)
	}
	named := next - 1
	if opts.OrphansAsRoots && named < uint32(n) {
		referred := make([]uint64, (n+63)/64)
		hold(int64(8 * len(referred)))
		for _, v := range g.Targets {
			referred[v/64] |= 1 << (v % 64)
		}
		for u := 0; u < n; u++ {
			if referred[u/64]&(1<<(u%64)) == 0 {
				flag(Node(u))
			}
		}
		work -= int64(8 * len(referred))
		referred = nil
		for u := 0; u < n; u++ {
			flag(Node(u))
		}
	}
	R := next - 1
	if opts.Step != nil && g.PredsOf != nil {
		opts.Step(StepSearch)
	}

	// Predecessors, by number (self-loops dropped: they never dominate),
	// unless the caller has them.
	var predOff, preds []uint32
	if g.PredsOf == nil {
		predOff, preds = numberedPreds(g, pre, semi, R)
		hold(int64(4*len(predOff)) + int64(4*len(preds)))
	}
	var buf []Node
	predsOf := func(i uint32) []uint32 {
		if g.PredsOf == nil {
			return preds[predOff[i]:predOff[i+1]]
		}
		u := order[i]
		buf = g.PredsOf(u, buf[:0])
		k := 0
		for _, src := range buf {
			if int(src) < n && src != u && pre[src] != 0 {
				buf[k] = pre[src]
				k++
			}
		}
		return buf[:k]
	}

	// Semi-dominators in reverse preorder. Numbers above i are linked in
	// the forest (anc: forest parent); label[x] is the least semi on the
	// path from x up to anc[x], anc[x] excluded.
	wide := bigarray.Make[uint32](2 * (n + 1))
	bigarray.Trim()
	if !withSizes {
		hold(int64(4 * len(wide)))
	}
	anc, label := wide[:R+1], wide[n+1:n+2+int(R)]
	copy(anc, parent[:R+1])
	for i := R; i >= 1; i-- {
		s := parent[i]
		if isRoot[i/64]&(1<<(i%64)) != 0 {
			s = 0
		}
		for _, v := range predsOf(i) {
			if v < s {
				s = v // an unlinked number is its own semi
			} else if v > i {
				if c := eval(anc, label, v, i); c < s {
					s = c
				}
			}
		}
		semi[i], label[i] = s, s
	}
	peak = max(peak, work+int64(4*cap(buf)))
	work -= int64(4*len(preds)) + int64(4*len(predOff)) + int64(8*len(isRoot))
	bigarray.Free(preds)
	bigarray.Free(predOff)
	preds, predOff, isRoot = nil, nil, nil
	if opts.Step != nil {
		opts.Step(StepSemi)
	}

	// Immediate dominators: the nearest ancestor at or above semi.
	idom := parent
	for i := uint32(1); i <= R; i++ {
		x := idom[i]
		for x > semi[i] {
			x = idom[x]
		}
		idom[i] = x
	}

	t := &Tree{Stats: Stats{Reachable: int(R), Orphans: int(R - named)}}
	if withSizes {
		// Retained sizes as 32-bit halves, in the forest's spent arrays.
		clear(wide)
		lo, hi := wide[:n], wide[n+1:2*n+1]
		count := semi[:n]
		clear(count)
		for i := R; i >= 1; i-- {
			u := order[i]
			r := uint64(hi[u])<<32 | uint64(lo[u]) + uint64(opts.Sizes[u])
			lo[u], hi[u] = uint32(r), uint32(r>>32)
			count[u]++
			if d := idom[i]; d != 0 {
				p := order[d]
				rp := uint64(hi[p])<<32 | uint64(lo[p]) + r
				lo[p], hi[p] = uint32(rp), uint32(rp>>32)
				count[p] += count[u]
			} else {
				t.TotalRetained += r
			}
		}
		t.retLo, t.retHi, t.Count = lo, hi, count
	}
	if opts.ReachFrom > 0 {
		t.Reach = make([]uint64, (n+63)/64)
		for u, p := range pre {
			if p != 0 && p <= reachCut {
				t.Reach[u/64] |= 1 << (u % 64)
			}
		}
	}
	// Number space to node space, in place over pre.
	for u := 0; u < n; u++ {
		switch p := pre[u]; {
		case p == 0:
			pre[u] = Unreachable
		case idom[p] == 0:
			pre[u] = Root
		default:
			pre[u] = order[idom[p]]
		}
	}
	t.Idom = pre
	t.Stats.WorkBytes = peak
	bigarray.Free(order)
	bigarray.Free(parent)
	if !withSizes {
		bigarray.Free(semi)
		bigarray.Free(wide)
	}
	return t, nil
}

// numberedPreds lists each number's predecessors by number, in CSR form
// (self-loops dropped); fill is scratch of R+1 entries.
func numberedPreds[I ID](g Graph[I], pre, fill []uint32, R uint32) (predOff, preds []uint32) {
	n := g.Len()
	predOff = bigarray.Make[uint32](int(R) + 2)
	edges := 0
	for u := 0; u < n; u++ {
		if pre[u] == 0 {
			continue
		}
		for _, v := range g.Targets[g.Off[u]:g.Off[u+1]] {
			if Node(v) != Node(u) {
				predOff[pre[v]+1]++
				edges++
			}
		}
	}
	for i := 1; i < len(predOff); i++ {
		predOff[i] += predOff[i-1]
	}
	preds = bigarray.Make[uint32](edges)
	fill = fill[:R+1]
	copy(fill, predOff[:R+1])
	for u := 0; u < n; u++ {
		pu := pre[u]
		if pu == 0 {
			continue
		}
		for _, v := range g.Targets[g.Off[u]:g.Off[u+1]] {
			if Node(v) != Node(u) {
				pv := pre[v]
				preds[fill[pv]] = pu
				fill[pv]++
			}
		}
	}
	return predOff, preds
}

// eval compresses the forest path above the linked number v (v > i) and
// returns the least semi on it below its forest root. The path is walked
// twice, up reversing anc pointers and down restoring them to the root, so
// no stack grows with the path.
func eval(anc, label []uint32, v, i uint32) uint32 {
	if anc[v] <= i {
		return label[v]
	}
	// Up: reverse the pointers of every x whose anc is linked.
	prev, x := uint32(none), v
	for anc[x] > i {
		nx := anc[x]
		anc[x] = prev
		prev, x = x, nx
	}
	// x is the highest linked number on the path (its anc is the root).
	root, least := anc[x], label[x]
	for y := prev; y != none; {
		below := anc[y]
		if least < label[y] {
			label[y] = least
		} else {
			least = label[y]
		}
		anc[y] = root
		y = below
	}
	return label[v]
}
