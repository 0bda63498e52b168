package dominators

import (
	"slices"
	"sync"

	"github.com/pycoroner/pycoroner/bigarray"
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
	for i := 0; i <= n; i++ {
		kids := c.kids[c.off[i]:c.off[i+1]]
		if len(kids) > 1 {
			slices.SortFunc(kids, func(a, b Node) int {
				if ra, rb := t.Retained(a), t.Retained(b); ra != rb {
					if ra > rb {
						return -1
					}
					return 1
				}
				return int(a) - int(b)
			})
		}
	}
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

// TypeSums is, per type, what the nodes of the type that no other node of
// the type dominates retain: a linked list's head counts, its nodes (all
// dominated by the head) do not count again.
type TypeSums struct {
	Counted  []int    // such nodes
	Retained []uint64 // their retained sizes summed
	Objects  []uint64 // their counts summed
}

// SumByType walks the tree once (depth first, without recursion) to give
// TypeSums; typeOf gives each node's type, below types.
func (t *Tree) SumByType(typeOf []uint32, types int) TypeSums {
	out := TypeSums{Counted: make([]int, types), Retained: make([]uint64, types), Objects: make([]uint64, types)}
	active := make([]int32, types) // nodes of each type on the current path
	type frame struct {
		u    Node
		next int
	}
	stack := []frame{{u: Root}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		kids := t.Children(f.u)
		if f.next < len(kids) {
			k := kids[f.next]
			f.next++
			ti := typeOf[k]
			if active[ti] == 0 {
				out.Counted[ti]++
				out.Retained[ti] += t.Retained(k)
				out.Objects[ti] += uint64(t.Count[k])
			}
			active[ti]++
			stack = append(stack, frame{u: k})
			continue
		}
		if f.u != Root {
			active[typeOf[f.u]]--
		}
		stack = stack[:len(stack)-1]
	}
	return out
}
