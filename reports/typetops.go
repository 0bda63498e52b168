package reports

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/pyheap"
)

// TypeTops is, for every type, how many objects it has and its
// TypeTopsKept largest retained (then by node), saved with the dominator
// tree: `instances` with --top up to that reads them instead of every
// object's type. Types are named by their type object's address, which
// any numbering of the census's types agrees on.
type TypeTops struct {
	Addrs  []uint64 // per type
	Off    []uint32 // per type, its nodes in Nodes[Off[i]:Off[i+1]]
	Nodes  []uint32
	Counts []uint32 // per type, every object of it
	// Sums, when saved, are `top --by type`'s per type (trees saved
	// before 2026-12-04 have none).
	Sums  *TypeTopsSums
	index map[uint64]int
	types []*pyheap.Type // per type, the census's (Resolve)
}

// TypeTopsSums are, per type of a TypeTops, its instances' shallow sizes
// summed and what those no other instance dominates retain
// (dominators.TypeSums): `top --by type` reads them instead of walking
// the whole tree (0.5-0.8 s on 21 M objects).
type TypeTopsSums struct {
	Shallow  []uint64
	Counted  []uint32
	Retained []uint64
	Objects  []uint64
}

// TypeTopsKept is how many of each type's largest TypeTops keeps: more
// than `instances` lists by default (25).
const TypeTopsKept = 32

// NewTypeTops gathers g's types' largest instances, in one pass over
// every object; nil when two of g's types share an address (no key).
func NewTypeTops(g *LeakGraph) *TypeTops {
	nt := len(g.Types)
	tt := &TypeTops{Addrs: make([]uint64, nt), Off: make([]uint32, nt+1), Counts: make([]uint32, nt)}
	seen := make(map[uint64]bool, nt)
	for i, t := range g.Types {
		if seen[t.Addr] {
			return nil
		}
		seen[t.Addr] = true
		tt.Addrs[i] = t.Addr
	}
	kept := make([][]dominators.Node, nt)
	least := make([]uint64, nt) // the least retained kept, once full
	shallow := make([]uint64, nt)
	for u, ti := range g.TypeOf {
		tt.Counts[ti]++
		shallow[ti] += uint64(g.Sizes[u])
		n := dominators.Node(u)
		k := kept[ti]
		switch {
		case len(k) < TypeTopsKept:
			kept[ti] = append(k, n)
			if len(k)+1 == TypeTopsKept {
				slices.SortFunc(kept[ti], g.Tree.ByRetained)
				least[ti] = g.Tree.Retained(kept[ti][TypeTopsKept-1])
			}
		case g.Tree.Retained(n) > least[ti]:
			// Nodes come in increasing order: one of the least's size
			// does not displace it. The list stays sorted: insert, drop
			// the last.
			r := g.Tree.Retained(n)
			at, _ := slices.BinarySearchFunc(k, r, func(x dominators.Node, r uint64) int {
				return cmp.Compare(r, g.Tree.Retained(x)) // descending
			})
			for at < len(k) && g.Tree.Retained(k[at]) == r {
				at++ // after the ties, which have smaller nodes
			}
			copy(k[at+1:], k[at:len(k)-1])
			k[at] = n
			least[ti] = g.Tree.Retained(k[len(k)-1])
		}
	}
	for i, k := range kept {
		slices.SortFunc(k, g.Tree.ByRetained)
		tt.Off[i+1] = tt.Off[i] + uint32(len(k))
		for _, n := range k {
			tt.Nodes = append(tt.Nodes, uint32(n))
		}
	}
	sums := g.typeSums()
	tt.Sums = &TypeTopsSums{Shallow: shallow, Counted: make([]uint32, nt), Retained: sums.Retained, Objects: sums.Objects}
	for i, c := range sums.Counted {
		tt.Sums.Counted[i] = uint32(c)
	}
	return tt
}

// CheckSums checks saved sums (after Check) against a tree of objects
// nodes retaining totalRetained bytes in all: one of each per type, no
// more instances counted than the type has, and no more retained than
// the tree holds (the instances counted of a type dominate none of each
// other: what they retain is disjoint).
func (tt *TypeTops) CheckSums(objects int, totalRetained uint64) error {
	s, nt := tt.Sums, len(tt.Addrs)
	if len(s.Shallow) != nt || len(s.Counted) != nt || len(s.Retained) != nt || len(s.Objects) != nt {
		return fmt.Errorf("%d types, sums of %d, %d, %d, %d", nt, len(s.Shallow), len(s.Counted), len(s.Retained), len(s.Objects))
	}
	for i := 0; i < nt; i++ {
		if s.Counted[i] > tt.Counts[i] || s.Objects[i] > uint64(objects) || s.Retained[i] > totalRetained {
			return fmt.Errorf("type 0x%x: %d of %d counted, retaining %d objects of %d, %d bytes of %d",
				tt.Addrs[i], s.Counted[i], tt.Counts[i], s.Objects[i], objects, s.Retained[i], totalRetained)
		}
	}
	return nil
}

// Resolve names the saved types by the census's (types): an error when
// one is not among them.
func (tt *TypeTops) Resolve(types []*pyheap.Type) error {
	byAddr := make(map[uint64]*pyheap.Type, len(types))
	for _, t := range types {
		byAddr[t.Addr] = t
	}
	tt.types = make([]*pyheap.Type, len(tt.Addrs))
	for i, a := range tt.Addrs {
		t, ok := byAddr[a]
		if !ok {
			return fmt.Errorf("type 0x%x is not the census's", a)
		}
		tt.types[i] = t
	}
	return nil
}

// topTypes is topTypes's rows from the saved sums: false without them or
// their types' names.
func (tt *TypeTops) topTypes(rt *pyheap.Runtime) ([]TopType, bool) {
	if tt == nil || tt.Sums == nil || len(tt.types) != len(tt.Addrs) {
		return nil, false
	}
	s := tt.Sums
	rows := make([]TopType, len(tt.Addrs))
	for i, t := range tt.types {
		rows[i] = TopType{Type: t.Name, Module: rt.TypeModule(t), Count: int(tt.Counts[i]), Counted: int(s.Counted[i]),
			ShallowSize: s.Shallow[i], RetainedSize: s.Retained[i], RetainedObjects: s.Objects[i], addr: t.Addr}
	}
	return rows, true
}

// Check checks saved TypeTops against a census of objects objects: one
// offset and count per type, offsets in order, no more than
// TypeTopsKept per type nor more than its count, nodes in range, each
// address once.
func (tt *TypeTops) Check(objects int) error {
	nt := len(tt.Addrs)
	if len(tt.Off) != nt+1 || len(tt.Counts) != nt || tt.Off[0] != 0 || int(tt.Off[nt]) != len(tt.Nodes) {
		return fmt.Errorf("%d types, %d offsets, %d counts, %d nodes", nt, len(tt.Off), len(tt.Counts), len(tt.Nodes))
	}
	tt.index = make(map[uint64]int, nt)
	for i := 0; i < nt; i++ {
		k := tt.Off[i+1] - tt.Off[i]
		if tt.Off[i+1] < tt.Off[i] || k > TypeTopsKept || k > tt.Counts[i] {
			return fmt.Errorf("type %d: %d nodes kept of %d", i, int64(tt.Off[i+1])-int64(tt.Off[i]), tt.Counts[i])
		}
		if _, dup := tt.index[tt.Addrs[i]]; dup {
			return fmt.Errorf("type 0x%x twice", tt.Addrs[i])
		}
		tt.index[tt.Addrs[i]] = i
	}
	for _, u := range tt.Nodes {
		if int(u) >= objects {
			return fmt.Errorf("node %d of %d", u, objects)
		}
	}
	return nil
}

// largest is the top largest retained objects of the types want marks
// (indexes into g.Types), and how many there are, from the saved lists:
// false when they cannot tell (more asked for than kept, a type not
// listed).
func (tt *TypeTops) largest(g *LeakGraph, want []bool, top int) ([]dominators.Node, int, bool) {
	if tt == nil || tt.index == nil || top <= 0 || top > TypeTopsKept {
		return nil, 0, false
	}
	var nodes []dominators.Node
	count := 0
	for ti, w := range want {
		if !w {
			continue
		}
		i, ok := tt.index[g.Types[ti].Addr]
		if !ok {
			return nil, 0, false
		}
		count += int(tt.Counts[i])
		for _, u := range tt.Nodes[tt.Off[i]:tt.Off[i+1]] {
			nodes = append(nodes, dominators.Node(u))
		}
	}
	slices.SortFunc(nodes, g.Tree.ByRetained)
	return nodes[:min(top, len(nodes))], count, true
}
