package census

import (
	"slices"
	"testing"

	"github.com/pycoroner/pycoroner/bigarray"
)

// A census saved, given back (Release) and restored answers with the
// out-edges and roots a dominator tree reads (OutEdges, GraphRoots) what
// Graph answers, and Release gives its mappings back.
func TestOutEdgesAndRelease(t *testing.T) {
	m := newFake()
	nodeT := m.typ(base+0x80, "node")
	const n = 150000
	m.span = 0x100 + n*0x20 + 0x1000
	addr := func(i int) uint64 { return base + 0x100 + uint64(i)*0x20 }
	for i := 0; i < n; i++ {
		m.obj(addr(i), nodeT, ref{addr((i*7919 + 1) % n), item(0), false}, ref{addr((i + 1) % n), field("next"), false})
	}
	m.roots = []Root{{Kind: "module", Name: "head", Addr: addr(0)}, {Kind: "module", Name: "again", Addr: addr(0)}, {Kind: "local", Name: "x", Addr: addr(5)}}
	m.hidden = []uint64{addr(5), addr(9)}
	want := build(t, m, 2).Graph()

	taken := build(t, m, 2)
	arrays := memArrays{}
	if err := taken.Save(arrays); err != nil {
		t.Fatal(err)
	}
	mapped := bigarray.Mapped()
	taken.Release()
	if bigarray.Mapped() >= mapped {
		t.Errorf("%d bytes mapped after Release, %d before", bigarray.Mapped(), mapped)
	}
	h, err := Restore[string](m, memSource(arrays))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Preload(SavedAll); err != nil {
		t.Fatal(err)
	}
	roots, named := h.GraphRoots()
	if !slices.Equal(roots, want.Roots) || named != 2 {
		t.Errorf("roots %v (named %d), want %v (2 named)", roots, named, want.Roots)
	}
	off, fwd, fresh := h.OutEdges()
	if !fresh {
		t.Error("out-edges of a restored census without them not built fresh")
	}
	// The order within an object's edges may differ (a restored census
	// derives them from the reverse index); each object's edges may not.
	for id := 0; id < h.Len(); id++ {
		got := slices.Sorted(slices.Values(fwd[off[id]:off[id+1]]))
		w := slices.Sorted(slices.Values(want.Targets[want.Off[id]:want.Off[id+1]]))
		if !slices.Equal(got, w) {
			t.Fatalf("object %d: out-edges %v, want %v", id, got, w)
		}
	}
	// They are the caller's: the heap still builds its own when asked.
	g := h.Graph()
	if !slices.Equal(g.Off, off) || !slices.Equal(g.Targets, fwd) {
		t.Error("Graph after OutEdges differs")
	}
	bigarray.Free(fwd)
	bigarray.Free(off)
}
