package heapdiff

import (
	"slices"
	"testing"

	"github.com/pycoroner/pycoroner/graph/dominators"
)

// obj is one object of a test snapshot; refs are indexes into the same
// snapshot's objects.
type obj struct {
	addr uint64
	typ  uint32
	size uint32
	refs []int
}

func snapshot(objs []obj) Snapshot[dominators.Node] {
	s := Snapshot[dominators.Node]{Edges: dominators.Graph[dominators.Node]{Off: make([]uint32, len(objs)+1)}}
	for i, o := range objs {
		s.Addr = append(s.Addr, o.addr)
		s.Type = append(s.Type, o.typ)
		s.Size = append(s.Size, o.size)
		for _, r := range o.refs {
			s.Edges.Targets = append(s.Edges.Targets, uint32(r))
		}
		s.Edges.Off[i+1] = uint32(len(s.Edges.Targets))
	}
	return s
}

const (
	tList = iota + 1
	tSession
	tOrder
	tStr
)

func TestCompare(t *testing.T) {
	// old: a list (0x100) of 3 orders, and a str.
	old := snapshot([]obj{
		{0x100, tList, 100, []int{1, 2, 3}},
		{0x200, tOrder, 50, nil}, {0x300, tOrder, 50, nil}, {0x400, tOrder, 50, nil},
		{0x500, tStr, 60, nil},
	})
	// new: orders 0x300 and 0x400 freed, a Session took 0x400's place (a
	// new object: another type), the list grew by 12 sessions (one listed
	// twice), the str is still there.
	objs := []obj{{0x100, tList, 200, nil}, {0x200, tOrder, 50, nil}, {0x400, tSession, 70, nil}, {0x500, tStr, 60, nil}}
	list := []int{1, 2, 2}
	for i := 0; i < 11; i++ {
		objs = append(objs, obj{0x1000 + uint64(i)*0x100, tSession, 70, nil})
		list = append(list, len(objs)-1)
	}
	objs[0].refs = list
	cur := snapshot(objs)
	r, err := Compare(old, cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Matched != 3 || r.Added != 12 || r.Freed != 2 {
		t.Errorf("matched %d added %d freed %d, want 3 12 2", r.Matched, r.Added, r.Freed)
	}
	if want := []int32{0, 1, -1, 4}; !slices.Equal(r.OldOf[:4], want) {
		t.Errorf("OldOf %v, want %v", r.OldOf[:4], want)
	}
	want := []TypeDelta{
		{Type: tSession, CountOld: 0, CountNew: 12, SizeOld: 0, SizeNew: 840},
		// same size change as the list: the bigger count change first
		{Type: tOrder, CountOld: 3, CountNew: 1, SizeOld: 150, SizeNew: 50},
		{Type: tList, CountOld: 1, CountNew: 1, SizeOld: 100, SizeNew: 200},
		{Type: tStr, CountOld: 1, CountNew: 1, SizeOld: 60, SizeNew: 60},
	}
	if !slices.Equal(r.Types, want) {
		t.Errorf("types %+v\nwant %+v", r.Types, want)
	}
	if len(r.Growth) != 1 || r.Growth[0] != (Growth{Node: 0, NewReferents: 12, NewRetained: 840}) {
		t.Errorf("growth %+v, want the list with 12 new referents", r.Growth)
	}
	cur.Retained = func(dominators.Node) uint64 { return 1000 }
	r, _ = Compare(old, cur, Options{MinGrowth: 13})
	if len(r.Growth) != 0 {
		t.Errorf("MinGrowth 13: growth %+v", r.Growth)
	}
	r, _ = Compare(old, cur, Options{})
	if r.Growth[0].NewRetained != 12000 {
		t.Errorf("NewRetained %d with Retained set, want 12000", r.Growth[0].NewRetained)
	}
}

func TestCompareRejects(t *testing.T) {
	good := snapshot([]obj{{0x10, 1, 8, nil}, {0x20, 1, 8, []int{0}}})
	unsorted := snapshot([]obj{{0x20, 1, 8, nil}, {0x10, 1, 8, nil}})
	short := good
	short.Size = short.Size[:1]
	badEdge := snapshot([]obj{{0x10, 1, 8, []int{7}}})
	for name, pair := range map[string][2]Snapshot[dominators.Node]{
		"old unsorted": {unsorted, good}, "new unsorted": {good, unsorted},
		"sizes short": {good, short}, "edge out of range": {good, badEdge},
	} {
		if _, err := Compare(pair[0], pair[1], Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if r, err := Compare(Snapshot[dominators.Node]{}, Snapshot[dominators.Node]{}, Options{}); err != nil || r.Matched != 0 {
		t.Errorf("empty: %v", err)
	}
}
