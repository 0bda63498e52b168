// Package heapdiff compares two snapshots of one process's object graph,
// object by object. It works on compact arrays (addresses in ascending
// order, a type key per node, shallow sizes, forward edges) and knows
// nothing of Python or of cores: the caller gives the same type key to the
// same type in both snapshots.
//
// An object's identity is its address and its type: objects that never
// move (CPython's) and are still at the same address with the same type
// are taken to be the same object. An object freed and another of the same
// type allocated at its address look like one object that survived: the
// per-type counts stay exact, only the "new" flag of that object is lost.
package heapdiff

import (
	"fmt"
	"slices"

	"github.com/pycoroner/pycoroner/graph/dominators"
)

// Snapshot is one side of a comparison; I is how the caller numbers
// objects (see dominators.ID).
type Snapshot[I dominators.ID] struct {
	Addr []uint64 // per node, strictly ascending
	Type []uint32 // per node: the caller's type key
	Size []uint32 // per node: shallow size
	// Edges are the forward references (only the new snapshot's are used).
	Edges dominators.Graph[I]
	// Retained, when set (new snapshot only), weighs the growth points.
	Retained func(dominators.Node) uint64
}

func (s Snapshot[I]) check(name string) error {
	n := len(s.Addr)
	if len(s.Type) != n || len(s.Size) != n {
		return fmt.Errorf("%s snapshot: %d addresses, %d types, %d sizes", name, n, len(s.Type), len(s.Size))
	}
	for i := 1; i < n; i++ {
		if s.Addr[i] <= s.Addr[i-1] {
			return fmt.Errorf("%s snapshot: addresses not ascending at node %d", name, i)
		}
	}
	return nil
}

// Options tune Compare; the zero value takes the defaults.
type Options struct {
	// MinGrowth is the fewest new referents that make a growth point
	// (default 10); MaxGrowth bounds the growth points listed (default 20).
	MinGrowth int
	MaxGrowth int
}

// Result is what changed.
type Result struct {
	// OldOf maps a node of the new snapshot to the same object in the old
	// one, or -1 when it is new.
	OldOf   []int32
	Types   []TypeDelta // biggest size change first
	Growth  []Growth    // most new referents first
	Matched int         // objects in both
	Added   int         // objects only in the new snapshot
	Freed   int         // objects only in the old snapshot
}

// TypeDelta is one type's count and size in each snapshot.
type TypeDelta struct {
	Type               uint32
	CountOld, CountNew int
	SizeOld, SizeNew   uint64
}

// CountDelta is CountNew - CountOld.
func (d TypeDelta) CountDelta() int { return d.CountNew - d.CountOld }

// SizeDelta is SizeNew - SizeOld.
func (d TypeDelta) SizeDelta() int64 { return int64(d.SizeNew) - int64(d.SizeOld) }

// Growth is an object present in both snapshots that refers to many new
// objects in the new one (a list that got 1,234 new sessions).
type Growth struct {
	Node         dominators.Node // in the new snapshot
	NewReferents int             // distinct new objects it refers to
	// NewRetained is their retained size (their shallow size without
	// Snapshot.Retained).
	NewRetained uint64
}

// IsNew reports whether node u of the new snapshot is a new object.
func (r *Result) IsNew(u dominators.Node) bool { return r.OldOf[u] < 0 }

// Compare matches the objects of two snapshots and says what changed.
func Compare[I dominators.ID](old, cur Snapshot[I], opts Options) (*Result, error) {
	if err := old.check("old"); err != nil {
		return nil, err
	}
	if err := cur.check("new"); err != nil {
		return nil, err
	}
	if cur.Edges.Len() != len(cur.Addr) {
		return nil, fmt.Errorf("new snapshot: edges for %d nodes, %d addresses", cur.Edges.Len(), len(cur.Addr))
	}
	if err := cur.Edges.Check(); err != nil {
		return nil, fmt.Errorf("new snapshot: %w", err)
	}
	if opts.MinGrowth <= 0 {
		opts.MinGrowth = 10
	}
	if opts.MaxGrowth <= 0 {
		opts.MaxGrowth = 20
	}
	r := &Result{OldOf: make([]int32, len(cur.Addr))}
	// Merge by address: both are in ascending order.
	i := 0
	for j, a := range cur.Addr {
		for i < len(old.Addr) && old.Addr[i] < a {
			i++
		}
		r.OldOf[j] = -1
		if i < len(old.Addr) && old.Addr[i] == a && old.Type[i] == cur.Type[j] {
			r.OldOf[j] = int32(i)
			r.Matched++
		}
	}
	r.Added = len(cur.Addr) - r.Matched
	r.Freed = len(old.Addr) - r.Matched
	r.Types = typeDeltas(old, cur)
	r.Growth = growth(r, cur, opts)
	return r, nil
}

func typeDeltas[I dominators.ID](old, cur Snapshot[I]) []TypeDelta {
	index := map[uint32]int{}
	var out []TypeDelta
	at := func(t uint32) *TypeDelta {
		i, ok := index[t]
		if !ok {
			i = len(out)
			index[t] = i
			out = append(out, TypeDelta{Type: t})
		}
		return &out[i]
	}
	for u, t := range old.Type {
		d := at(t)
		d.CountOld++
		d.SizeOld += uint64(old.Size[u])
	}
	for u, t := range cur.Type {
		d := at(t)
		d.CountNew++
		d.SizeNew += uint64(cur.Size[u])
	}
	slices.SortStableFunc(out, func(a, b TypeDelta) int {
		da, db := abs(a.SizeDelta()), abs(b.SizeDelta())
		if da != db {
			if da > db {
				return -1
			}
			return 1
		}
		if ca, cb := abs(int64(a.CountDelta())), abs(int64(b.CountDelta())); ca != cb {
			if ca > cb {
				return -1
			}
			return 1
		}
		return int(a.Type) - int(b.Type)
	})
	return out
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// growth finds the surviving objects with the most distinct new referents.
func growth[I dominators.ID](r *Result, cur Snapshot[I], opts Options) []Growth {
	n := len(cur.Addr)
	// stamp[t] is 1 + the last node that counted t: counts distinct targets
	// without a set per node.
	stamp := make([]uint32, n)
	var out []Growth
	g := cur.Edges
	for u := 0; u < n; u++ {
		if r.OldOf[u] < 0 {
			continue
		}
		var k int
		var w uint64
		for _, t := range g.Targets[g.Off[u]:g.Off[u+1]] {
			if r.OldOf[t] >= 0 || stamp[t] == uint32(u)+1 {
				continue
			}
			stamp[t] = uint32(u) + 1
			k++
			if cur.Retained != nil {
				w += cur.Retained(dominators.Node(t))
			} else {
				w += uint64(cur.Size[t])
			}
		}
		if k >= opts.MinGrowth {
			out = append(out, Growth{Node: dominators.Node(u), NewReferents: k, NewRetained: w})
		}
	}
	slices.SortStableFunc(out, func(a, b Growth) int {
		if a.NewReferents != b.NewReferents {
			return b.NewReferents - a.NewReferents
		}
		if a.NewRetained != b.NewRetained {
			if a.NewRetained > b.NewRetained {
				return -1
			}
			return 1
		}
		return int(a.Node) - int(b.Node)
	})
	if len(out) > opts.MaxGrowth {
		out = out[:opts.MaxGrowth]
	}
	return out
}
