package census

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// fakeObj is one object of a synthetic heap.
type fakeObj struct {
	typ     uint64 // address of its type object
	refs    []ref
	size    int64
	tracked bool // its header says the collector tracks it
}

type ref struct {
	to           uint64
	via          Ref
	conservative bool
}

func field(name string) Ref  { return Ref{Kind: RefField, Name: name} }
func item(i int64) Ref       { return Ref{Kind: RefItem, Index: i} }
func key(repr string) Ref    { return Ref{Kind: RefKey, Name: repr} }
func attribute(n string) Ref { return Ref{Kind: RefAttribute, Name: n} }
func word(off int64) Ref     { return Ref{Kind: RefWord, Offset: off} }

// fakeModel is a heap written down by hand: objects at addresses, each
// with a type (itself an object) and labelled references.
type fakeModel struct {
	objs   map[uint64]*fakeObj
	names  map[uint64]string // type object address -> type name
	gc     []uint64
	roots  []Root
	hidden []uint64
	span   uint64 // of the address range; 0x10000 when zero
}

const (
	base     = 0x10000
	typeType = base + 0x8 // "type", its own type
)

func newFake() *fakeModel {
	m := &fakeModel{objs: map[uint64]*fakeObj{}, names: map[uint64]string{}}
	m.typ(typeType, "type")
	return m
}

func (m *fakeModel) typ(addr uint64, name string) uint64 {
	m.objs[addr] = &fakeObj{typ: typeType, size: 400}
	m.names[addr] = name
	return addr
}

func (m *fakeModel) obj(addr, typ uint64, refs ...ref) uint64 {
	m.objs[addr] = &fakeObj{typ: typ, refs: refs, size: int64(addr-base) / 8}
	return addr
}

func (m *fakeModel) Ranges() [][2]uint64 {
	if m.span != 0 {
		return [][2]uint64{{base, base + m.span}}
	}
	return [][2]uint64{{base, base + 0x10000}}
}

func (m *fakeModel) Seed(gc func(uint64)) (Seeds, error) {
	for _, a := range m.gc {
		gc(a)
	}
	return Seeds{Roots: slices.Clone(m.roots), Hidden: m.hidden}, nil
}

func (m *fakeModel) NewReader() Reader[string] { return fakeReader{m} }

type fakeReader struct{ m *fakeModel }

func (r fakeReader) TypeOf(addr uint64) (string, uint64, error) {
	o, ok := r.m.objs[addr]
	if !ok {
		return "", 0, fmt.Errorf("no object at 0x%x", addr)
	}
	return r.m.names[o.typ], o.typ, nil
}

func (r fakeReader) Refs(obj uint64, _ string, emit func(uint64, Ref, bool)) {
	for _, e := range r.m.objs[obj].refs {
		emit(e.to, Ref{}, e.conservative)
	}
}

func (r fakeReader) Labelled(obj uint64, _ string, emit func(uint64, Ref, bool)) {
	o := r.m.objs[obj]
	emit(o.typ, field("__class__"), false)
	for _, e := range o.refs {
		emit(e.to, e.via, e.conservative)
	}
}

func (r fakeReader) Size(obj uint64, _ string) int64 { return r.m.objs[obj].size }

func (r fakeReader) GCType(t string) bool { return t != "untracked" }

func (r fakeReader) Tracked(obj uint64, t string) bool {
	if t == "untracked" {
		panic("Tracked asked about an object of a type GCType said is never tracked")
	}
	return r.m.objs[obj].tracked
}

func build(t *testing.T, m *fakeModel, workers int) *Heap[string] {
	t.Helper()
	h, err := Build[string](m, Options{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func id(t *testing.T, h *Heap[string], addr uint64) ObjectID {
	t.Helper()
	i, ok := h.Find(addr)
	if !ok {
		t.Fatalf("0x%x is not in the census", addr)
	}
	return i
}

// chain: module dict -> list -> holder -> target, and a local that holds
// the holder directly.
func chainHeap() (*fakeModel, map[string]uint64) {
	m := newFake()
	dictT := m.typ(base+0x100, "dict")
	listT := m.typ(base+0x200, "list")
	objT := m.typ(base+0x300, "Holder")
	a := map[string]uint64{}
	a["target"] = m.obj(base+0x1000, objT)
	a["holder"] = m.obj(base+0x1100, objT, ref{a["target"], attribute("payload"), false})
	a["list"] = m.obj(base+0x1200, listT, ref{a["holder"], item(0), false}, ref{a["holder"], item(1), false})
	a["dict"] = m.obj(base+0x1300, dictT, ref{a["list"], key("'CACHE'"), false})
	a["module"] = m.obj(base+0x1400, objT, ref{a["dict"], field("__dict__"), false})
	// garbage: on the GC list, reached from no root
	a["garbage"] = m.obj(base+0x1500, listT, ref{a["target"], item(0), false})
	m.gc = []uint64{a["list"], a["dict"], a["garbage"]}
	m.roots = []Root{
		{Kind: "module", Name: "sys.modules['app']", Addr: a["module"]},
		{Kind: "local", Name: "thread 1 › frame f › local h", Addr: a["holder"]},
	}
	return m, a
}

// The census asks the model about every object its GC lists did not name,
// and only about those: tracked objects on the lists are fine, tracked
// objects found only through roots or references are counted, however many
// workers share the census.
func TestCensusCountsTrackedObjectsNotListed(t *testing.T) {
	for _, workers := range []int{1, 3} {
		m, a := chainHeap()
		for _, name := range []string{"list", "dict", "garbage", "holder", "module"} {
			m.objs[a[name]].tracked = true // holder and module are on no list
		}
		m.obj(base+0x1600, m.typ(base+0x400, "untracked"))
		m.roots = append(m.roots, Root{Kind: "local", Name: "untracked", Addr: base + 0x1600})
		h := build(t, m, workers)
		if h.Stats.GCUnlisted != 2 {
			t.Errorf("%d workers: %d tracked objects not listed, want 2 (holder, module)", workers, h.Stats.GCUnlisted)
		}
		m.gc = append(m.gc, a["holder"], a["module"])
		if h := build(t, m, workers); h.Stats.GCUnlisted != 0 {
			t.Errorf("%d workers, every tracked object listed: %d counted as not listed", workers, h.Stats.GCUnlisted)
		}
	}
}

func TestCensusFindsEveryObjectInAddressOrder(t *testing.T) {
	m, a := chainHeap()
	h := build(t, m, 0)
	// Objects: the six, plus the four type objects they reach.
	if h.Len() != 10 {
		t.Fatalf("%d objects, want 10", h.Len())
	}
	for i := 1; i < h.Len(); i++ {
		if h.Addr(ObjectID(i-1)) >= h.Addr(ObjectID(i)) {
			t.Fatalf("ids not in address order at %d", i)
		}
	}
	if got := h.Type(id(t, h, a["dict"])); got != "dict" {
		t.Errorf("type of the dict: %q", got)
	}
	if h.Stats.GCTracked != 3 || h.Stats.Edges != 6 {
		t.Errorf("stats %+v, want 3 GC-tracked and 6 edges", h.Stats)
	}
	if got := h.TypeObject(id(t, h, a["list"])); got != id(t, h, base+0x200) {
		t.Errorf("type object of the list: %d", got)
	}
	// The holder is referred to by the list (twice) and held by the local.
	if n := h.ReferrerCount(id(t, h, a["holder"])); n != 1 {
		t.Errorf("holder has %d distinct referrers, want 1", n)
	}
	if got := len(h.Referrers(id(t, h, a["holder"]))); got != 2 {
		t.Errorf("holder has %d referring edges, want 2", got)
	}
}

func TestCensusWorkersAgreeOnSyntheticHeap(t *testing.T) {
	m := newFake()
	nodeT := m.typ(base+0x80, "node")
	// A long linked list spread over the range, so that several workers
	// own parts of it and must pass marks along.
	const n = 1500
	next := uint64(0)
	for i := n - 1; i >= 0; i-- {
		addr := uint64(base + 0x400 + i*0x28)
		var refs []ref
		if next != 0 {
			refs = append(refs, ref{next, field("next"), false})
		}
		refs = append(refs, ref{addr + 8, word(8), true}) // not an object: dropped
		next = m.obj(addr, nodeT, refs...)
	}
	m.roots = []Root{{Kind: "module", Name: "head", Addr: next}}
	one := build(t, m, 1)
	for _, w := range []int{2, 3} {
		many := build(t, m, w)
		if one.Len() != many.Len() || one.Stats.Edges != many.Stats.Edges {
			t.Fatalf("%d workers: %d objects %d edges; one: %d %d", w, many.Len(), many.Stats.Edges, one.Len(), one.Stats.Edges)
		}
		for i := 0; i < one.Len(); i++ {
			if one.Addr(ObjectID(i)) != many.Addr(ObjectID(i)) || !slices.Equal(one.EdgeAddrs(ObjectID(i)), many.EdgeAddrs(ObjectID(i))) {
				t.Fatalf("%d workers: object %d differs", w, i)
			}
		}
	}
	if one.Len() != n+2 || one.Stats.Conservative != 0 {
		t.Fatalf("%d objects (%d conservative edges), want %d and none", one.Len(), one.Stats.Conservative, n+2)
	}
}

func TestShortestPaths(t *testing.T) {
	m, a := chainHeap()
	h := build(t, m, 0)
	target := id(t, h, a["target"])
	// The local (distance 1) is nearer than the module (distance 4).
	paths := h.ShortestPaths(target, false, 20, nil)
	if len(paths) != 1 || paths[0].Root.Kind != "local" || len(paths[0].Objects) != 2 {
		t.Fatalf("shortest path: %+v", paths)
	}
	if paths[0].Objects[0] != id(t, h, a["holder"]) || paths[0].Objects[1] != target {
		t.Errorf("path objects %v", paths[0].Objects)
	}
	all := h.ShortestPaths(target, true, 20, nil)
	if len(all) != 2 || all[1].Root.Kind != "module" {
		t.Fatalf("--all: %+v", all)
	}
	want := []uint64{a["module"], a["dict"], a["list"], a["holder"], a["target"]}
	for i, o := range all[1].Objects {
		if h.Addr(o) != want[i] {
			t.Fatalf("module path hop %d is 0x%x, want 0x%x", i, h.Addr(o), want[i])
		}
	}
	if via, cons := h.EdgeLabel(id(t, h, a["dict"]), id(t, h, a["list"])); via.String() != "key 'CACHE'" || cons {
		t.Errorf("label dict → list: %q %v", via, cons)
	}
	// The garbage list reaches the target but no root reaches it.
	if p := h.ShortestPaths(id(t, h, a["garbage"]), true, 20, nil); len(p) != 0 {
		t.Errorf("paths to garbage: %+v", p)
	}
	// Two roots at one distance: rank decides.
	m.roots = append(m.roots, Root{Kind: "exception", Name: "exc", Addr: a["holder"]})
	h = build(t, m, 0)
	rank := func(r Root) int {
		if r.Kind == "exception" {
			return 0
		}
		return 1
	}
	if p := h.ShortestPaths(id(t, h, a["target"]), false, 20, rank); len(p) != 1 || p[0].Root.Kind != "exception" {
		t.Errorf("ranked: %+v", p)
	}
}

func TestHolders(t *testing.T) {
	m, a := chainHeap()
	h := build(t, m, 0)
	f := h.NewHolders("local")
	holder := id(t, h, a["holder"])
	if rs := f.RootsOf(holder); len(rs) != 1 || rs[0].Kind != "local" {
		t.Errorf("roots of the holder: %+v", rs)
	}
	refs := f.Referrals(holder)
	if len(refs) != 1 || refs[0].From != id(t, h, a["list"]) || len(refs[0].Edges) != 2 ||
		refs[0].Edges[0].Via.String() != "item 0" || refs[0].Edges[1].Via.String() != "item 1" {
		t.Fatalf("referrals of the holder: %+v", refs)
	}
	dict := id(t, h, a["dict"])
	isDict := func(o ObjectID) bool { return h.Type(o) == "dict" }
	owner, ok := f.Owner(dict, func(o ObjectID) bool { return !isDict(o) }, func(e Edge) bool { return e.Via.IsField("__dict__") })
	if !ok || owner != id(t, h, a["module"]) {
		t.Errorf("owner of the dict: %d %v", owner, ok)
	}
	if _, ok := f.Owner(id(t, h, a["list"]), func(ObjectID) bool { return true }, func(e Edge) bool { return e.Via.IsField("__dict__") }); ok {
		t.Error("the list has an owner")
	}
}

func TestGraphArrays(t *testing.T) {
	m, a := chainHeap()
	m.hidden = []uint64{a["garbage"]}
	h := build(t, m, 0)
	g := h.Graph()
	if g.N != h.Len() || len(g.Off) != g.N+1 || len(g.Sizes) != g.N || int(g.Off[g.N]) != len(g.Targets) {
		t.Fatalf("shape: N %d, %d offsets, %d sizes, %d targets (last offset %d)", g.N, len(g.Off), len(g.Sizes), len(g.Targets), g.Off[g.N])
	}
	list := id(t, h, a["list"])
	holder := id(t, h, a["holder"])
	want := []ObjectID{holder, holder, id(t, h, base+0x200)} // items, then the type
	if got := g.Targets[g.Off[list]:g.Off[list+1]]; !slices.Equal(got, want) {
		t.Errorf("out-edges of the list %v, want %v", got, want)
	}
	if !slices.Equal(h.Out(list), want) {
		t.Errorf("Out(list) %v", h.Out(list))
	}
	if g.Sizes[list] != uint32(h.Size(list)) || h.Size(list) != int64(a["list"]-base)/8 {
		t.Errorf("size of the list %d", g.Sizes[list])
	}
	wantRoots := []ObjectID{id(t, h, a["module"]), holder, id(t, h, a["garbage"])}
	if !slices.Equal(g.Roots, wantRoots) {
		t.Errorf("roots %v, want %v", g.Roots, wantRoots)
	}
	edges := 0
	for i := 0; i < h.Len(); i++ {
		edges += len(h.EdgeAddrs(ObjectID(i)))
		if h.TypeObject(ObjectID(i)) >= 0 {
			edges++
		}
	}
	if edges != len(g.Targets) {
		t.Errorf("%d targets, want %d", len(g.Targets), edges)
	}
}

func TestBadSeedsAndDanglingEdges(t *testing.T) {
	m, a := chainHeap()
	m.gc = append(m.gc, base+0x7000, base+0x7003) // not objects; the second misaligned
	m.objs[a["target"]].refs = []ref{{base + 0x7100, word(0x10), true}, {base + 0x7200, attribute("x"), false}}
	h := build(t, m, 0)
	if h.Stats.Unreadable != 3 {
		t.Errorf("%d unreadable, want 3 (two bad seeds, one precise edge to nothing)", h.Stats.Unreadable)
	}
	if _, ok := h.Find(base + 0x7200); ok {
		t.Error("a precise edge to nothing made an object")
	}
	if n := len(h.EdgeAddrs(id(t, h, a["target"]))); n != 0 {
		t.Errorf("target keeps %d edges to nothing", n)
	}
}

func TestRefString(t *testing.T) {
	for _, tc := range []struct {
		ref  Ref
		text string
		kind string
	}{
		{Ref{Kind: RefItem, Index: 3}, "item 3", "item"},
		{Ref{Kind: RefKey, Name: "'CACHE'"}, "key 'CACHE'", "key"},
		{Ref{Kind: RefKeyItself, Name: "'CACHE'"}, "key 'CACHE' (the key itself)", "key-itself"},
		{Ref{Kind: RefElement}, "element", "element"},
		{Ref{Kind: RefAttribute, Name: "items"}, "attribute items", "attribute"},
		{Ref{Kind: RefSlot, Name: "x"}, "attribute x (slot)", "slot"},
		{Ref{Kind: RefField, Name: "__dict__"}, "__dict__", "field"},
		{Ref{Kind: RefLocal, Name: "tmp"}, "local tmp", "local"},
		{Ref{Kind: RefStack, Index: 2}, "value stack slot 2", "stack"},
		{Ref{Kind: RefWord, Offset: 0x18}, "word at +0x18", "word"},
		{Ref{Kind: RefWord, Offset: 0x60, Name: "its C state"}, "word at +0x60 of its C state", "word"},
		{Ref{}, "?", "unknown"},
		{Ref{Kind: 200}, "?", "unknown"},
	} {
		if got := tc.ref.String(); got != tc.text {
			t.Errorf("%+v: %q, want %q", tc.ref, got, tc.text)
		}
		if got := tc.ref.Kind.String(); got != tc.kind {
			t.Errorf("%+v: kind %q, want %q", tc.ref, got, tc.kind)
		}
	}
	if !(Ref{Kind: RefField, Name: "__dict__"}).IsField("__dict__") || (Ref{Kind: RefKey, Name: "__dict__"}).IsField("__dict__") {
		t.Error("IsField")
	}
}

// The census's parallel steps use the CPUs the process may use
// (GOMAXPROCS, which follows a container's CPU quota), not the host's.
func TestParallelFollowsGOMAXPROCS(t *testing.T) {
	for _, procs := range []int{1, 2, 3} {
		old := runtime.GOMAXPROCS(procs)
		var mu sync.Mutex
		var parts [][2]int
		parallel(1<<20, func(lo, hi int) {
			mu.Lock()
			parts = append(parts, [2]int{lo, hi})
			mu.Unlock()
		})
		runtime.GOMAXPROCS(old)
		if len(parts) != procs {
			t.Errorf("GOMAXPROCS %d: %d parts %v", procs, len(parts), parts)
		}
		covered := 0
		for _, p := range parts {
			covered += p[1] - p[0]
		}
		if covered != 1<<20 {
			t.Errorf("GOMAXPROCS %d: parts cover %d of %d", procs, covered, 1<<20)
		}
	}
}
