package dominators

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/pycoroner/pycoroner/internal/faultgroup"
)

// A tree can be kept as plain arrays and restored from them (a saved
// index maps them): the immediate dominators, the counts and the retained
// sizes as low and high halves; the child lists are built again on first
// use.

// Arrays is a tree's saved form: Idom, Count and the retained sizes'
// low and high 32-bit halves (Count and the halves nil without sizes).
func (t *Tree) Arrays() (idom, count, retLo, retHi []uint32) {
	return t.Idom, t.Count, t.retLo, t.retHi
}

// Restore rebuilds a tree from its saved arrays (Arrays), checking what
// the questions asked of a tree rely on: one entry per node in every
// array, each immediate dominator a node, Root or Unreachable. The
// arrays are used in place, not copied.
func Restore(idom, count, retLo, retHi []uint32, totalRetained uint64, stats Stats) (*Tree, error) {
	n := len(idom)
	sized := count != nil || retLo != nil || retHi != nil
	if sized && (len(count) != n || len(retLo) != n || len(retHi) != n) {
		return nil, fmt.Errorf("saved dominator tree: %d nodes, %d counts, %d+%d retained sizes", n, len(count), len(retLo), len(retHi))
	}
	if err := checkIdom(idom); err != nil {
		return nil, fmt.Errorf("saved dominator tree: %w", err)
	}
	t := &Tree{Idom: idom, TotalRetained: totalRetained, Stats: stats}
	if sized {
		t.Count, t.retLo, t.retHi = count, retLo, retHi
	}
	return t, nil
}

// RestorePart rebuilds a tree of n nodes from its saved counts and
// retained sizes only, without its immediate dominators: for the
// questions that need no more (Retained, Count, and Children once
// RestoreChildren gave the child lists), the other arrays are neither
// read nor checked. Dominates and Children without RestoreChildren are
// not to be asked of it. retHi may be nil when totalRetained is below
// 4 GiB: no node retains more than the whole, so every high half is 0 (a
// command then reads 4 bytes per node less).
func RestorePart(n int, count, retLo, retHi []uint32, totalRetained uint64, stats Stats) (*Tree, error) {
	if retHi == nil && totalRetained < NoHighHalves {
		if len(count) != n || len(retLo) != n {
			return nil, fmt.Errorf("saved dominator tree: %d nodes, %d counts, %d retained sizes", n, len(count), len(retLo))
		}
		return &Tree{n: n, Count: count, retLo: retLo, TotalRetained: totalRetained, Stats: stats}, nil
	}
	if len(count) != n || len(retLo) != n || len(retHi) != n {
		return nil, fmt.Errorf("saved dominator tree: %d nodes, %d counts, %d+%d retained sizes", n, len(count), len(retLo), len(retHi))
	}
	return &Tree{n: n, Count: count, retLo: retLo, retHi: retHi, TotalRetained: totalRetained, Stats: stats}, nil
}

// NoHighHalves is the total retained size below which a tree's retained
// sizes need no high halves (RestorePart).
const NoHighHalves = 1 << 32

// checkIdom checks every immediate dominator, the nodes split among the
// CPUs: a node below n that is not the node itself, Root or Unreachable.
func checkIdom(idom []uint32) error {
	n := len(idom)
	workers := min(runtime.GOMAXPROCS(0), 8)
	if n < 1<<16 {
		workers = 1
	}
	step := (n + workers - 1) / max(workers, 1)
	var mu sync.Mutex
	var bad error
	var wg faultgroup.Group // idom is a saved file's mapping
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Go(func() {
			for u := lo; u < hi; u++ {
				d := idom[u]
				if d == Root || d == Unreachable {
					continue
				}
				if int(d) >= n || int(d) == u {
					mu.Lock()
					bad = fmt.Errorf("node %d has immediate dominator %d of %d nodes", u, d, n)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return bad
}

// ChildArrays is the child lists in their saved form (built first if they
// were not): per node, and the virtual root last, the offsets of its
// children in kids (n+2 offsets), each list the biggest retained first.
func (t *Tree) ChildArrays() (off []uint32, kids []Node) {
	t.Children(Root)
	return t.children.off, t.children.kids
}

// RestoreChildren gives a restored tree its saved child lists
// (ChildArrays), used in place: the offsets in order, every child a node,
// each node a child once at most.
// checked: the caller vouches that these very arrays passed these checks
// before (an index file unchanged since a process checked them): only
// their lengths are checked again, not their 8 bytes per node.
func (t *Tree) RestoreChildren(off []uint32, kids []Node, checked bool) error {
	n := t.Len()
	if len(off) != n+2 || off[0] != 0 || int(off[n+1]) != len(kids) {
		return fmt.Errorf("saved dominator tree: %d child offsets for %d nodes and %d children", len(off), n, len(kids))
	}
	if checked {
		t.children = &children{off: off, kids: kids}
		t.children.once.Do(func() {})
		return nil
	}
	for i := 1; i < len(off); i++ {
		if off[i] < off[i-1] {
			return fmt.Errorf("saved dominator tree: child offsets out of order at %d", i)
		}
	}
	// Each node a child once at most: then every walk down from Root
	// (suspects, SumByType, Largest) ends, whatever else the file says.
	seen := make([]uint64, (n+63)/64)
	for _, k := range kids {
		if int(k) >= n {
			return fmt.Errorf("saved dominator tree: child %d of %d nodes", k, n)
		}
		if seen[k/64]&(1<<(k%64)) != 0 {
			return fmt.Errorf("saved dominator tree: node %d is a child twice", k)
		}
		seen[k/64] |= 1 << (k % 64)
	}
	c := &children{off: off, kids: kids}
	c.once.Do(func() {})
	t.children = c
	return nil
}
