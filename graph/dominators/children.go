package dominators

import (
	"cmp"
	"runtime"
	"slices"
	"sync"

	"github.com/pycoroner/pycoroner/bigarray"
	"github.com/pycoroner/pycoroner/internal/faultgroup"
)

// children is the dominator tree's child lists, biggest retained first.
type children struct {
	once sync.Once
	off  []uint32 // per node, and the virtual root last
	kids []Node
}

// Children lists the nodes u immediately dominates (Root for the virtual
// root's), the biggest retained size first (then by node). The lists are
// built on first use: 8 bytes per node.
func (t *Tree) Children(u Node) []Node {
	if t.children == nil {
		t.children = &children{}
	}
	c := t.children
	c.once.Do(func() { t.buildChildren(c) })
	i := int(u)
	if u == Root {
		i = t.Len()
	} else if i >= t.Len() {
		return nil
	}
	return c.kids[c.off[i]:c.off[i+1]]
}

func (t *Tree) buildChildren(c *children) {
	if t.Idom == nil && t.n > 0 {
		// A caller's bug, not bad input: it restored the tree without
		// the arrays it asks about.
		panic("dominators: child lists of a tree restored without them or its immediate dominators")
	}
	n := len(t.Idom)
	slot := func(d Node) int {
		if d == Root {
			return n
		}
		return int(d)
	}
	c.off = bigarray.Make[uint32](n + 2)
	for _, d := range t.Idom {
		if d != Unreachable {
			c.off[slot(d)+1]++
		}
	}
	for i := 1; i < len(c.off); i++ {
		c.off[i] += c.off[i-1]
	}
	c.kids = bigarray.Make[Node](int(c.off[n+1]))
	fill := bigarray.Make[uint32](n + 1)
	copy(fill, c.off[:n+1])
	for u, d := range t.Idom {
		if d != Unreachable {
			c.kids[fill[slot(d)]] = Node(u)
			fill[slot(d)]++
		}
	}
	bigarray.Free(fill)
	if !t.HasSizes() {
		return
	}
	t.sortChildLists(c, n)
}

// bigList is the length from which a child list is sorted by both CPUs
// on its own, its sizes and nodes copied into one array of keys.
const bigList = 1 << 16

// sortChildLists sorts each child list biggest retained first (then by
// node). A big list (a dict of millions of records) is sorted as keys
// that hold both (below 4 GiB in all), two halves at once then merged:
// compared through the retained sizes in place, the 3 M records of
// bigheap_large took a second of random reads. The keys take 8 bytes a
// child, no more than the fill array just freed (4 bytes a node) unless
// the list holds most nodes, when it is sorted in place instead. The
// other lists are split among the CPUs.
func (t *Tree) sortChildLists(c *children, n int) {
	list := func(i int) []Node { return c.kids[c.off[i]:c.off[i+1]] }
	var keys []uint64
	for i := 0; i <= n; i++ {
		kids := list(i)
		if len(kids) < bigList {
			continue
		}
		if t.TotalRetained >= NoHighHalves || 2*len(kids) > n+1 {
			slices.SortFunc(kids, t.ByRetained)
			continue
		}
		if keys == nil {
			keys = bigarray.Make[uint64]((n + 1) / 2)
		}
		sortKeyed(t, kids, keys[:len(kids)])
	}
	if keys != nil {
		bigarray.Free(keys)
	}
	workers := runtime.GOMAXPROCS(0)
	var wg faultgroup.Group // the arrays may be a saved file's mapping
	for w := range workers {
		lo, hi := (n+1)*w/workers, (n+1)*(w+1)/workers
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				if kids := list(i); len(kids) > 1 && len(kids) < bigList {
					slices.SortFunc(kids, t.ByRetained)
				}
			}
		})
	}
	wg.Wait()
}

// sortKeyed sorts kids (every retained size below 4 GiB) biggest retained
// first, then by node, through keys (as long as kids): the complement of
// the size above the node, so that ascending keys are the order wanted.
func sortKeyed(t *Tree, kids []Node, keys []uint64) {
	for i, u := range kids {
		keys[i] = uint64(^uint32(t.Retained(u)))<<32 | uint64(u)
	}
	half := len(keys) / 2
	a, b := keys[:half], keys[half:]
	var wg faultgroup.Group // the arrays may be a saved file's mapping
	wg.Go(func() { slices.Sort(a) })
	slices.Sort(b)
	wg.Wait()
	i, j := 0, 0
	for k := range kids {
		if j >= len(b) || i < len(a) && a[i] < b[j] {
			kids[k] = Node(uint32(a[i]))
			i++
		} else {
			kids[k] = Node(uint32(b[j]))
			j++
		}
	}
}

// ByRetained orders nodes the largest retained size first, then by node:
// the order of child lists and of every "largest" answer.
func (t *Tree) ByRetained(a, b Node) int {
	if c := cmp.Compare(t.Retained(b), t.Retained(a)); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// Dominates reports whether a dominates b (every node dominates itself).
// It walks up from b: its cost is b's depth in the tree.
func (t *Tree) Dominates(a, b Node) bool {
	if t.Idom == nil && t.n > 0 {
		panic("dominators: Dominates asked of a tree restored without its immediate dominators")
	}
	if int(b) >= len(t.Idom) || t.Idom[b] == Unreachable {
		return false
	}
	for x := b; x != Root; x = t.Idom[x] {
		if x == a {
			return true
		}
	}
	return a == Root
}
