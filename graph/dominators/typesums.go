package dominators

import (
	"runtime"
	"sync/atomic"

	"github.com/pycoroner/pycoroner/internal/faultgroup"
)

// TypeSums is, per type, what the nodes of the type that no other node of
// the type dominates retain: a linked list's head counts, its nodes (all
// dominated by the head) do not count again.
type TypeSums struct {
	Counted  []int    // such nodes
	Retained []uint64 // their retained sizes summed
	Objects  []uint64 // their counts summed
}

func newTypeSums(types int) TypeSums {
	return TypeSums{Counted: make([]int, types), Retained: make([]uint64, types), Objects: make([]uint64, types)}
}

func (s *TypeSums) add(o TypeSums) {
	for i := range s.Counted {
		s.Counted[i] += o.Counted[i]
		s.Retained[i] += o.Retained[i]
		s.Objects[i] += o.Objects[i]
	}
}

// SumByType walks the tree depth first, without recursion, to give
// TypeSums; typeOf gives each node's type, below types. A node counts
// when no node of its type is on the path above it.
//
// The walk is shared among the CPUs (on 21 M objects it was 0.7 s on
// one, every time `top --by type` ran): one goroutine walks the nodes
// whose subtrees are big and hands out runs of siblings whose subtrees
// are small, each with the types on the path above them, which is all a
// walk below needs to know of what is above.
func (t *Tree) SumByType(typeOf []uint32, types int) TypeSums {
	return t.sumByType(typeOf, types, min(runtime.GOMAXPROCS(0), 8), 1<<16)
}

// sumByType is SumByType with workers goroutines for trees of at least
// minParallel nodes (for tests).
func (t *Tree) sumByType(typeOf []uint32, types, workers, minParallel int) TypeSums {
	out := newTypeSums(types)
	if t.Count == nil {
		return out
	}
	n := t.Len()
	if workers < 2 || n < minParallel {
		w := newSumWalker(t, typeOf, types)
		w.walk(Root, t.Children(Root), nil)
		return w.sums
	}
	// Runs of about a share of the nodes each, several per worker, so
	// that one big run does not leave the others idle.
	share := uint64(max(n/(workers*8), 1))
	spine := newSumWalker(t, typeOf, types)
	tasks := spine.split(share)
	var next atomic.Int64
	parts := make([]TypeSums, workers)
	// The tree's arrays may be a saved file's mapping: a fault in a
	// walker is a panic raised again by Wait, not a crash.
	var g faultgroup.Group
	for i := range parts {
		g.Go(func() {
			w := newSumWalker(t, typeOf, types)
			for {
				k := int(next.Add(1)) - 1
				if k >= len(tasks) {
					break
				}
				task := tasks[k]
				w.walk(task.parent, t.Children(task.parent)[task.lo:task.hi], task.above)
			}
			parts[i] = w.sums
		})
	}
	g.Wait()
	out = spine.sums
	for _, p := range parts {
		out.add(p)
	}
	return out
}

// sumWalker walks subtrees, counting into sums.
type sumWalker struct {
	t      *Tree
	typeOf []uint32
	sums   TypeSums
	active []int32 // nodes of each type on the current path
	stack  []sumFrame
}

type sumFrame struct {
	u    Node
	kids []Node
	next int
}

// sumTask is a run of siblings, parent's children [lo, hi), and the
// types on the path from the root to parent (parent's included), each
// once.
type sumTask struct {
	parent Node
	lo, hi int
	above  []uint32
}

func newSumWalker(t *Tree, typeOf []uint32, types int) *sumWalker {
	return &sumWalker{t: t, typeOf: typeOf, sums: newTypeSums(types), active: make([]int32, types)}
}

// count counts node k, whose path above is in active.
func (w *sumWalker) count(k Node) {
	ti := w.typeOf[k]
	if w.active[ti] == 0 {
		w.sums.Counted[ti]++
		w.sums.Retained[ti] += w.t.Retained(k)
		w.sums.Objects[ti] += uint64(w.t.Count[k])
	}
}

// walk counts the subtrees of kids, below a path whose types are above.
// Siblings share the path above them: they are counted together as
// their parent is entered, in a loop whose reads of each node's type,
// retained size and count do not wait on each other (one by one, as the
// walk reaches them, each waited for its cache misses). Leaves are not
// entered.
func (w *sumWalker) walk(parent Node, kids []Node, above []uint32) {
	for _, ti := range above {
		w.active[ti]++
	}
	w.countAll(kids)
	stack := append(w.stack[:0], sumFrame{u: parent, kids: kids})
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.kids) {
			k := f.kids[f.next]
			f.next++
			below := w.t.Children(k)
			if len(below) == 0 {
				continue
			}
			w.active[w.typeOf[k]]++
			w.countAll(below)
			stack = append(stack, sumFrame{u: k, kids: below})
			continue
		}
		if len(stack) > 1 {
			w.active[w.typeOf[f.u]]--
		}
		stack = stack[:len(stack)-1]
	}
	w.stack = stack
	for _, ti := range above {
		w.active[ti]--
	}
}

// countAll counts siblings, whose path above is in active.
func (w *sumWalker) countAll(kids []Node) {
	for _, k := range kids {
		w.count(k)
	}
}

// split walks, and counts, the nodes that dominate more than share nodes,
// from the root down, and returns the rest as runs of siblings of about
// share nodes in all.
func (w *sumWalker) split(share uint64) []sumTask {
	var tasks []sumTask
	var above []uint32 // the types with active > 0, in the order they became so
	type frame struct {
		u             Node
		kids          []Node
		next, runFrom int
		run           uint64 // nodes in kids[runFrom:next]
	}
	flush := func(f *frame) {
		if f.runFrom < f.next {
			tasks = append(tasks, sumTask{parent: f.u, lo: f.runFrom, hi: f.next, above: append([]uint32(nil), above...)})
		}
		f.runFrom, f.run = f.next, 0
	}
	stack := []frame{{u: Root, kids: w.t.Children(Root)}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.kids) {
			k := f.kids[f.next]
			size := uint64(w.t.Count[k])
			if size <= share {
				f.next++
				if f.run += size; f.run >= share {
					flush(f)
				}
				continue
			}
			flush(f)
			f.next++
			f.runFrom = f.next
			w.count(k)
			ti := w.typeOf[k]
			if w.active[ti] == 0 {
				above = append(above, ti)
			}
			w.active[ti]++
			stack = append(stack, frame{u: k, kids: w.t.Children(k)})
			continue
		}
		flush(f)
		if f.u != Root {
			// Types leave the path in the reverse order they came.
			ti := w.typeOf[f.u]
			if w.active[ti]--; w.active[ti] == 0 {
				above = above[:len(above)-1]
			}
		}
		stack = stack[:len(stack)-1]
	}
	return tasks
}
