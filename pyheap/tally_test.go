package pyheap

import (
	"maps"
	"testing"
)

// A tally (a census that records no object) counts what the census
// finds: per type, the same objects and bytes; the same stats; the same
// modules walked conservatively. On the goldens and a real core of every
// interpreter, with one worker and with three (run with -race by make
// test, as TestCensusWorkersAgree).
func TestTallyAgreesWithCensus(t *testing.T) {
	for name, path := range censusCores(t) {
		t.Run(name, func(t *testing.T) {
			p := openCore(t, path)
			h, err := openRuntime(t, p).BuildHeap(HeapOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := perTypeAddr(h.TypeTotals())
			for _, workers := range []int{1, 3} {
				tl, err := openRuntime(t, p).TallyHeap(HeapOptions{Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				if got := perTypeAddr(tl.TypeTotals()); !maps.Equal(got, want) {
					t.Errorf("%d workers: %d types counted, the census %d; they differ", workers, len(got), len(want))
					for a, w := range want {
						if got[a] != w {
							t.Errorf("type at 0x%x: %v, the census %v", a, got[a], w)
						}
					}
				}
				st, hs := tl.Stats, h.Stats
				if st.Objects != hs.Objects || st.GCTracked != hs.GCTracked || st.Edges != hs.Edges || st.Conservative != hs.Conservative ||
					st.Unreadable != hs.Unreadable || st.GCUnlisted != hs.GCUnlisted || st.GCCollecting != hs.GCCollecting || len(st.Incomplete) != len(hs.Incomplete) {
					t.Errorf("%d workers: tally's stats %+v, the census's %+v", workers, st, hs)
				}
				if got, want := conservByAddr(tl.ConservativeModules()), conservByAddr(h.ConservativeModules()); !maps.Equal(got, want) {
					t.Errorf("%d workers: modules walked conservatively %v, the census %v", workers, got, want)
				}
				if st.Objects < 1000 {
					t.Fatalf("only %d objects: not a real heap", st.Objects)
				}
			}
		})
	}
}

// perTypeAddr is TypeTotals by the address of each type's object.
func perTypeAddr(types []*Type, counts []int, sizes []int64) map[uint64][2]int64 {
	out := map[uint64][2]int64{}
	for i, t := range types {
		if counts[i] == 0 {
			continue
		}
		v := out[t.Addr]
		out[t.Addr] = [2]int64{v[0] + int64(counts[i]), v[1] + sizes[i]}
	}
	return out
}

func conservByAddr(m map[*Type]ConservativeTotal) map[uint64]ConservativeTotal {
	out := map[uint64]ConservativeTotal{}
	for t, c := range m {
		out[t.Addr] = c
	}
	return out
}
