package dominators

import (
	"container/heap"
	"slices"
)

// Largest returns the k nodes with the largest retained sizes, largest
// first (ties: the smaller node first), without visiting every node: a
// node retains at least what each node it dominates retains, and child
// lists are sorted biggest first, so a best-first walk from the root
// meets the nodes in order of retained size and stops once it has passed
// the k-th. false when the walk cannot answer alone (no sizes or child
// lists; nodes of no retained size among the k, which the tree may not
// list; or more ties with the k-th than maxTies, whose order is by node,
// not by the walk): the caller then looks at every node.
func (t *Tree) Largest(k int) ([]Node, bool) {
	if k <= 0 || !t.HasSizes() || t.children == nil && t.Idom == nil {
		return nil, false
	}
	t.Children(Root) // the lists, built if they were not restored
	c := t.children
	n := t.Len()
	q := &cursorHeap{t: t, kids: c.kids}
	q.push(c.off[n], c.off[n+1])
	var out []Node
	var kth uint64
	for q.Len() > 0 {
		top := q.cur[0]
		u := c.kids[top.at]
		r := t.Retained(u)
		if len(out) >= k && r < kth {
			break
		}
		// Every node of the k-th's size must be seen to keep the
		// smallest of them; a saved list that is not a tree must not
		// loop.
		if len(out) >= k+maxTies || len(out) >= n {
			return nil, false
		}
		out = append(out, u)
		if len(out) == k {
			kth = r
		}
		// The next sibling replaces u (it retains no more), and u's
		// biggest child joins.
		if top.at+1 < top.end {
			q.cur[0].at++
			heap.Fix(q, 0)
		} else {
			heap.Pop(q)
		}
		if int(u) < n {
			q.push(c.off[u], c.off[u+1])
		}
	}
	if len(out) < k || kth == 0 {
		return nil, false
	}
	slices.SortFunc(out, t.ByRetained)
	return out[:k], true
}

// maxTies bounds the nodes Largest takes beyond k that retain as much as
// the k-th.
const maxTies = 4096

// cursor is a place in one child list: its next node at, its end.
type cursor struct{ at, end uint32 }

// cursorHeap orders child-list cursors by their next node's retained
// size, largest first (ties: the smaller node).
type cursorHeap struct {
	t    *Tree
	kids []Node
	cur  []cursor
}

func (q *cursorHeap) push(at, end uint32) {
	if at < end {
		heap.Push(q, cursor{at, end})
	}
}

func (q *cursorHeap) Len() int { return len(q.cur) }
func (q *cursorHeap) Less(i, j int) bool {
	a, b := q.kids[q.cur[i].at], q.kids[q.cur[j].at]
	ra, rb := q.t.Retained(a), q.t.Retained(b)
	if ra != rb {
		return ra > rb
	}
	return a < b
}
func (q *cursorHeap) Swap(i, j int) { q.cur[i], q.cur[j] = q.cur[j], q.cur[i] }
func (q *cursorHeap) Push(x any)    { q.cur = append(q.cur, x.(cursor)) }
func (q *cursorHeap) Pop() any {
	x := q.cur[len(q.cur)-1]
	q.cur = q.cur[:len(q.cur)-1]
	return x
}
