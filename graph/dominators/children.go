package dominators

import (
	"slices"
	"sync"
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
		i = len(t.Idom)
	} else if i >= len(t.Idom) {
		return nil
	}
	return c.kids[c.off[i]:c.off[i+1]]
}

func (t *Tree) buildChildren(c *children) {
	n := len(t.Idom)
	slot := func(d Node) int {
		if d == Root {
			return n
		}
		return int(d)
	}
	c.off = make([]uint32, n+2)
	for _, d := range t.Idom {
		if d != Unreachable {
			c.off[slot(d)+1]++
		}
	}
	for i := 1; i < len(c.off); i++ {
		c.off[i] += c.off[i-1]
	}
	c.kids = make([]Node, c.off[n+1])
	fill := append([]uint32(nil), c.off[:n+1]...)
	for u, d := range t.Idom {
		if d != Unreachable {
			c.kids[fill[slot(d)]] = Node(u)
			fill[slot(d)]++
		}
	}
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
