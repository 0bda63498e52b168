package census

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/bigarray"
)

// memArrays is an ArraySink and ArraySource in memory.
type memArrays map[string]any

func (m memArrays) Uint64s(name string, v []uint64) { m[name] = slices.Clone(v) }
func (m memArrays) Uint32s(name string, v []uint32) { m[name] = slices.Clone(v) }
func (m memArrays) IDs(name string, v []ObjectID)   { m[name] = slices.Clone(v) }
func (m memArrays) Bytes(name string, v []byte)     { m[name] = slices.Clone(v) }

type memSource map[string]any

func (m memSource) Has(name string) bool { _, ok := m[name]; return ok }

// Trusted: an array is trusted when the test says so ("trusted NAME").
func (m memSource) Trusted(name string) bool { _, ok := m["trusted "+name]; return ok }
func get[V any](m memSource, name string) (V, error) {
	v, ok := m[name].(V)
	if !ok {
		return v, fmt.Errorf("no %s", name)
	}
	return v, nil
}
func (m memSource) Uint64s(name string) ([]uint64, error) { return get[[]uint64](m, name) }
func (m memSource) Uint32s(name string) ([]uint32, error) { return get[[]uint32](m, name) }
func (m memSource) IDs(name string) ([]ObjectID, error)   { return get[[]ObjectID](m, name) }
func (m memSource) Bytes(name string) ([]byte, error)     { return get[[]byte](m, name) }

// answers is everything a heap answers, as text, for comparing heaps.
func answers(h *Heap[string]) string {
	var b strings.Builder
	for i := 0; i < h.Len(); i++ {
		id := ObjectID(i)
		fmt.Fprintf(&b, "%d %x %s %x %d %d refs=%v out=%v edges=%v\n", i, h.Addr(id), h.Type(id), h.TypeAddr(id), h.Size(id),
			h.TypeObject(id), h.Referrers(id), h.Out(id), h.Edges(id))
		if got, ok := h.Find(h.Addr(id)); !ok || got != id {
			fmt.Fprintf(&b, "find %x: %d %v\n", h.Addr(id), got, ok)
		}
	}
	types, counts, sizes := h.TypeTotals()
	fmt.Fprintf(&b, "totals %v %v %v\n", types, counts, sizes)
	_, missing := h.Find(base + 0x1008)
	fmt.Fprintf(&b, "roots %+v\nstats %d %d %d %d\nmissing %v\n", h.Roots(), h.Stats.Objects, h.Stats.GCTracked, h.Stats.Edges, h.Stats.Conservative, missing)
	for i := 0; i < h.Len(); i++ {
		fmt.Fprintf(&b, "paths %d %+v\n", i, h.ShortestPaths(ObjectID(i), true, 5, func(Root) int { return 0 }))
	}
	return b.String()
}

func saved(t *testing.T, m *fakeModel) (memSource, *Heap[string]) {
	t.Helper()
	h := build(t, m, 2)
	arrays := memArrays{}
	if err := h.Save(arrays); err != nil {
		t.Fatal(err)
	}
	return memSource(arrays), h
}

// A restored census answers every question as the census did, and a
// census that was saved (and so laid out flat) too.
func TestRestoredCensusAnswersTheSame(t *testing.T) {
	m, _ := chainHeap()
	// an object that refers to its own type besides through its header
	m.obj(base+0x1600, base+0x300, ref{base + 0x300, attribute("cls"), false})
	m.roots = append(m.roots, Root{Kind: "local", Name: "self", Addr: base + 0x1600})
	want := answers(build(t, m, 1))
	src, flat := saved(t, m)
	if got := answers(flat); got != want {
		t.Errorf("after saving:\n%s\nwant:\n%s", got, want)
	}
	h, err := Restore[string](m, src)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Stats.Restored {
		t.Error("restored census not marked Restored")
	}
	if got := answers(h); got != want {
		t.Errorf("restored:\n%s\nwant:\n%s", got, want)
	}
	if h.totals == nil {
		t.Error("the restored census counts its types again: the saved totals were not read")
	}
	// Saved before the type totals were: counted from the arrays.
	old := maps.Clone(src)
	delete(old, "type_counts")
	delete(old, "type_sizes")
	if h, err := Restore[string](m, old); err != nil || h.totals != nil || answers(h) != want {
		t.Errorf("restored without saved totals (%v): %v", err, h != nil && h.totals != nil)
	}
	// A restored heap saved again, before it read anything lazily,
	// restores the same.
	lazy, err := Restore[string](m, src)
	if err != nil {
		t.Fatal(err)
	}
	again := memArrays{}
	if err := lazy.Save(again); err != nil {
		t.Fatal(err)
	}
	h2, err := Restore[string](m, memSource(again))
	if err != nil {
		t.Fatal(err)
	}
	if got := answers(h2); got != want {
		t.Errorf("saved again and restored:\n%s\nwant:\n%s", got, want)
	}
	// Out-edges derived from the reverse index hold the same edges.
	g, built := h.Graph(), build(t, m, 1).Graph()
	for i := 0; i < g.N; i++ {
		a := slices.Clone(g.Targets[g.Off[i]:g.Off[i+1]])
		b := slices.Clone(built.Targets[built.Off[i]:built.Off[i+1]])
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("object %d: out-edges %v, the census's %v", i, a, b)
		}
	}
}

// Saved arrays whose values do not hold together are refused, never
// trusted (an index out of range would crash a later question).
func TestRestoreRefusesInconsistentArrays(t *testing.T) {
	m, a := chainHeap()
	tests := []struct {
		name   string
		damage func(s memSource)
		want   string
	}{
		{"reverse id out of range", func(s memSource) { s["rev"].([]ObjectID)[0] = 1000 }, "reverse index"},
		{"negative reverse id", func(s memSource) { s["rev"].([]ObjectID)[1] = -1 }, "reverse index"},
		{"offsets out of order", func(s memSource) { o := s["rev_off"].([]uint32); o[3], o[4] = o[4]+1, o[3] }, "reverse index"},
		{"offsets too short", func(s memSource) { s["rev_off"] = s["rev_off"].([]uint32)[:3] }, "reverse index"},
		{"type index out of range", func(s memSource) { s["type_of"].([]uint32)[2] = 99 }, "type 99"},
		{"type object out of range", func(s memSource) { s["type_objects"].([]ObjectID)[0] = 77 }, "type objects"},
		{"sizes too short", func(s memSource) { s["sizes"] = s["sizes"].([]uint32)[1:] }, "sizes"},
		{"type not where the census found it", func(s memSource) { s["type_addrs"].([]uint64)[1] = a["dict"] }, "not of the type"},
		{"bad meta", func(s memSource) { s["meta"] = []byte("{") }, "saved census"},
		{"root id out of range", func(s memSource) {
			roots, err := decodeRoots(s["roots"].([]byte))
			if err != nil || len(roots) == 0 {
				panic(fmt.Sprintf("roots %v: %v", roots, err))
			}
			roots[0].ID = 9999
			s["roots"] = encodeRoots(roots)
		}, "root"},
		{"roots cut short", func(s memSource) { r := s["roots"].([]byte); s["roots"] = r[:len(r)-1] }, "roots cut short"},
		{"roots missing", func(s memSource) { delete(s, "roots") }, "no roots"},
		{"array missing", func(s memSource) { delete(s, "addr_words") }, "no addr_words"},
		{"eager array missing", func(s memSource) { delete(s, "type_of") }, "no type_of"},
		{"type counts not adding up", func(s memSource) { s["type_counts"].([]uint64)[0]++ }, "add up"},
		{"type count beyond the objects", func(s memSource) { s["type_counts"].([]uint64)[0] = 1 << 40 }, "objects of"},
		{"type size beyond its objects'", func(s memSource) { s["type_sizes"].([]uint64)[0] = 1 << 62 }, "bytes in all"},
		{"type totals too short", func(s memSource) { s["type_sizes"] = s["type_sizes"].([]uint64)[1:] }, "type sizes"},
		{"type sizes missing", func(s memSource) { delete(s, "type_sizes") }, "no type_sizes"},
		{"type samples too short", func(s memSource) { s["type_samples"] = s["type_samples"].([]uint64)[1:] }, "samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := saved(t, m)
			tt.damage(src)
			h, err := Restore[string](m, src)
			if err == nil {
				// Read lazily: found when preloaded.
				err = h.Preload(SavedAll)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// Arrays an earlier process checked (ArraySource.Trusted: its stamp) are
// not scanned again, but their shape is: a length that does not fit is
// refused even then.
func TestRestoreTrustsCheckedArraysButTheirShape(t *testing.T) {
	m, _ := chainHeap()
	src, _ := saved(t, m)
	for _, name := range []string{"rev", "rev_off", "type_of"} {
		src["trusted "+name] = true
	}
	src["rev"].([]ObjectID)[0] = 1000 // not looked at again
	h, err := Restore[string](m, src)
	if err == nil {
		err = h.Preload(SavedReverse)
	}
	if err != nil {
		t.Fatalf("trusted arrays were checked again: %v", err)
	}
	src, _ = saved(t, m)
	for _, name := range []string{"rev", "rev_off"} {
		src["trusted "+name] = true
	}
	src["rev_off"] = src["rev_off"].([]uint32)[:3]
	if h, err = Restore[string](m, src); err == nil {
		err = h.Preload(SavedReverse)
	}
	if err == nil || !strings.Contains(err.Error(), "reverse index") {
		t.Fatalf("short trusted offsets: err = %v", err)
	}
}

// A census bigger than MaxObjects stops with a TooBigError: early, from
// the GC lists, or when it gets there.
func TestCensusTooBig(t *testing.T) {
	m, _ := chainHeap() // 10 objects, 3 on the GC lists: about 24 estimated
	for _, tt := range []struct {
		max    int
		tooBig bool
	}{{11, true}, {5, true}, {12, false}, {0, false}} {
		_, err := Build[string](m, Options{MaxObjects: tt.max})
		var tb *TooBigError
		if !tt.tooBig {
			if err != nil {
				t.Errorf("MaxObjects %d: %v", tt.max, err)
			}
			continue
		}
		if !errors.As(err, &tb) || !tb.Estimated || tb.Max != tt.max || tb.GCTracked != 3 {
			t.Errorf("MaxObjects %d: err = %v, want an estimated TooBigError", tt.max, err)
		}
	}
	// The estimate passes but the heap is bigger than its GC lists say.
	big := newFake()
	nodeT := big.typ(base+0x80, "node")
	var refs []ref
	for i := 0; i < 100; i++ {
		refs = append(refs, ref{big.obj(uint64(base+0x1000+i*0x20), nodeT), item(int64(i)), false})
	}
	big.gc = []uint64{big.obj(base+0x8000, nodeT, refs...)}
	_, err := Build[string](big, Options{MaxObjects: 50, Workers: 1})
	var tb *TooBigError
	if !errors.As(err, &tb) || tb.Estimated || tb.Objects != 50 {
		t.Errorf("err = %v (%+v), want a TooBigError after 50 objects", err, tb)
	}
}

// A heap big enough for the census's arrays to live outside the Go heap
// and for its layout to be split among CPUs (at least 1<<16 objects)
// answers as before it was laid out: sizes, addresses, referrers in the
// same order.
func TestLaidOutHeapAnswersTheSame(t *testing.T) {
	m := newFake()
	nodeT := m.typ(base+0x80, "node")
	const n = 150000
	m.span = 0x100 + n*0x20 + 0x1000
	addr := func(i int) uint64 { return base + 0x100 + uint64(i)*0x20 }
	seed := uint64(1)
	for i := 0; i < n; i++ {
		seed = seed*6364136223846793005 + 1442695040888963407
		refs := []ref{{addr(int(seed>>33) % n), item(0), false}, {addr((i + 1) % n), field("next"), false}}
		if i%7 == 0 {
			refs = append(refs, ref{addr(0), field("head"), false})
		}
		m.obj(addr(i), nodeT, refs...)
	}
	m.roots = []Root{{Kind: "module", Name: "head", Addr: addr(0)}}
	want := build(t, m, 2)
	got := build(t, m, 2)
	if err := got.Save(memArrays{}); err != nil {
		t.Fatal(err)
	}
	if want.Len() != n+2 || got.Len() != want.Len() {
		t.Fatalf("%d and %d objects, want %d", want.Len(), got.Len(), n+2)
	}
	for i := 0; i < want.Len(); i++ {
		id := ObjectID(i)
		if want.Addr(id) != got.Addr(id) || want.Size(id) != got.Size(id) || want.Type(id) != got.Type(id) ||
			!slices.Equal(want.Referrers(id), got.Referrers(id)) {
			t.Fatalf("object %d: %x %d %s %v, laid out: %x %d %s %v", i, want.Addr(id), want.Size(id), want.Type(id), want.Referrers(id),
				got.Addr(id), got.Size(id), got.Type(id), got.Referrers(id))
		}
	}
	if len(want.Referrers(1)) < n/7 {
		t.Fatalf("object 1 (the head) has %d referrers", len(want.Referrers(1)))
	}
}

// Where the system refuses the census's mappings (ulimit -v, strict
// overcommit), its arrays are on the Go heap, sized from the estimate,
// and the heap answers the same.
func TestCensusWithoutMappings(t *testing.T) {
	m := newFake()
	nodeT := m.typ(base+0x80, "node")
	const n = 120000
	m.span = 0x100 + n*0x20 + 0x1000
	addr := func(i int) uint64 { return base + 0x100 + uint64(i)*0x20 }
	for i := 0; i < n; i++ {
		m.obj(addr(i), nodeT, ref{addr((i*7919 + 1) % n), item(0), false}, ref{addr((i + 1) % n), field("next"), false})
	}
	m.roots = []Root{{Kind: "module", Name: "head", Addr: addr(0)}}
	want := build(t, m, 2)
	if err := want.Save(memArrays{}); err != nil {
		t.Fatal(err)
	}
	bigarray.RefuseMappings = true
	defer func() { bigarray.RefuseMappings = false }()
	mapped := bigarray.Mapped()
	got := build(t, m, 2)
	if err := got.Save(memArrays{}); err != nil {
		t.Fatal(err)
	}
	if bigarray.Mapped() > mapped {
		t.Errorf("%d bytes mapped with mappings refused", bigarray.Mapped()-mapped)
	}
	if got.Len() != want.Len() || got.Len() != n+2 {
		t.Fatalf("%d objects, want %d", got.Len(), want.Len())
	}
	for i := 0; i < want.Len(); i++ {
		id := ObjectID(i)
		if want.Addr(id) != got.Addr(id) || want.Size(id) != got.Size(id) || !slices.Equal(want.Referrers(id), got.Referrers(id)) {
			t.Fatalf("object %d differs without mappings", i)
		}
	}
}
