package census

import (
	"slices"
	"testing"
)

// TestTallyCountsWhatACensusFinds: a tally of a heap gives, per type,
// the census's counts and sizes, and the census's stats, references to
// marks that are not objects left out as a census leaves them.
func TestTallyCountsWhatACensusFinds(t *testing.T) {
	linked := func() *fakeModel {
		m := newFake()
		nodeT := m.typ(base+0x80, "node")
		next := uint64(0)
		for i := 1499; i >= 0; i-- {
			addr := uint64(base + 0x400 + i*0x28)
			var refs []ref
			if next != 0 {
				refs = append(refs, ref{next, field("next"), false})
			}
			refs = append(refs, ref{addr + 8, word(8), true}) // not an object
			next = m.obj(addr, nodeT, refs...)
		}
		m.roots = []Root{{Kind: "module", Name: "head", Addr: next}}
		return m
	}
	unlisted := func() *fakeModel {
		m, a := chainHeap()
		for _, name := range []string{"list", "dict", "garbage", "holder", "module"} {
			m.objs[a[name]].tracked = true
		}
		return m
	}
	dangling := func() *fakeModel {
		m, a := chainHeap()
		m.gc = append(m.gc, base+0x7000, base+0x7003)
		m.objs[a["target"]].refs = []ref{{base + 0x7100, word(0x10), true}, {base + 0x7200, attribute("x"), false}}
		return m
	}
	cases := []struct {
		name string
		heap func() *fakeModel
	}{
		{"chain", func() *fakeModel { m, _ := chainHeap(); return m }},
		{"a long list over every worker's part", linked},
		{"tracked objects on no list", unlisted},
		{"bad seeds and a dangling edge", dangling},
	}
	for _, tc := range cases {
		for _, workers := range []int{1, 3} {
			m := tc.heap()
			h := build(t, m, workers)
			types, counts, sizes := h.TypeTotals()
			var kept []uint64
			tl, err := TallyOf[string](m, Options{Workers: workers}, func(t string) bool { return t == "dict" || t == "node" })
			if err != nil {
				t.Fatalf("%s, %d workers: %v", tc.name, workers, err)
			}
			want := map[string][2]int64{}
			for i, ty := range types {
				w := want[ty]
				want[ty] = [2]int64{w[0] + int64(counts[i]), w[1] + sizes[i]}
			}
			got := map[string][2]int64{}
			for i, ty := range tl.Types {
				g := got[ty]
				got[ty] = [2]int64{g[0] + int64(tl.Counts[i]), g[1] + tl.Sizes[i]}
			}
			if !mapsEqual(got, want) {
				t.Errorf("%s, %d workers: tally %v, census %v", tc.name, workers, got, want)
			}
			for _, k := range tl.Kept {
				kept = append(kept, k.Addr)
				if id, ok := h.Find(k.Addr); !ok || h.Type(id) != k.Type || h.Size(id) != k.Size {
					t.Errorf("%s: kept 0x%x (%s, %d bytes) is not so in the census", tc.name, k.Addr, k.Type, k.Size)
				}
			}
			var wantKept []uint64
			h.EachOfTypes(func(t string) bool { return t == "dict" || t == "node" }, func(id ObjectID) { wantKept = append(wantKept, h.Addr(id)) })
			slices.Sort(kept)
			if !slices.Equal(kept, wantKept) {
				t.Errorf("%s, %d workers: kept %x, want %x", tc.name, workers, kept, wantKept)
			}
			st, hs := tl.Stats, h.Stats
			if st.Objects != hs.Objects || st.GCTracked != hs.GCTracked || st.Edges != hs.Edges ||
				st.Conservative != hs.Conservative || st.Unreadable != hs.Unreadable || st.GCUnlisted != hs.GCUnlisted {
				t.Errorf("%s, %d workers: tally stats %+v, census %+v", tc.name, workers, st, hs)
			}
		}
	}
}

func mapsEqual(a, b map[string][2]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
