package census

import (
	"math/rand"
	"reflect"
	"testing"
)

// randomHeap is a heap of n objects with random references (some of
// them repeated, a few conservative) and a few roots of each kind: the
// shapes of ties a hand-written heap does not think of.
func randomHeap(seed int64, n int) *fakeModel {
	rng := rand.New(rand.NewSource(seed))
	m := newFake()
	types := []uint64{m.typ(base+0x100, "dict"), m.typ(base+0x200, "list"), m.typ(base+0x300, "Holder")}
	addr := func(i int) uint64 { return base + 0x1000 + uint64(i)*0x10 }
	for i := 0; i < n; i++ {
		var refs []ref
		for k := rng.Intn(4); k > 0; k-- {
			to := addr(rng.Intn(n))
			refs = append(refs, ref{to, item(int64(len(refs))), rng.Intn(10) == 0})
			if rng.Intn(8) == 0 { // the same target twice
				refs = append(refs, ref{to, item(int64(len(refs))), false})
			}
		}
		m.obj(addr(i), types[rng.Intn(len(types))], refs...)
		m.gc = append(m.gc, addr(i))
	}
	kinds := []RootKind{"module", "local", "exception", "sys"}
	for k := 0; k < 6; k++ {
		m.roots = append(m.roots, Root{Kind: kinds[rng.Intn(len(kinds))], Name: "root", Addr: addr(rng.Intn(n))})
	}
	return m
}

// ShortestPathsWithin is exactly the paths of ShortestPaths with all that
// are at most slack hops longer than the shortest, among its first max.
func TestShortestPathsWithinIsAPrefixOfAll(t *testing.T) {
	rank := func(r Root) int { return len(r.Kind) % 3 }
	for seed := int64(0); seed < 40; seed++ {
		h := build(t, randomHeap(seed, 120), 0)
		for id := ObjectID(0); int(id) < h.Len(); id++ {
			for _, slack := range []int{0, 1, 2} {
				for _, max := range []int{1, 3, 8} {
					all := h.ShortestPaths(id, true, max, rank)
					want := []Path{}
					for _, p := range all {
						if len(p.Objects) <= len(all[0].Objects)+slack {
							want = append(want, p)
						}
					}
					got := h.ShortestPathsWithin(id, max, slack, rank)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d, object %d, max %d, slack %d:\n got %+v\nwant %+v", seed, id, max, slack, got, want)
					}
				}
			}
		}
	}
}

// Prefetch changes no answer of Referrals, whatever was asked before.
func TestPrefetchGivesTheSameReferrals(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		h := build(t, randomHeap(seed, 200), 0)
		plain, pre := h.NewHolders(), h.NewHolders()
		var ids []ObjectID
		for id := ObjectID(0); int(id) < h.Len(); id += 3 {
			ids = append(ids, id)
		}
		pre.Prefetch(ids[:len(ids)/2])
		pre.Prefetch(ids) // again, overlapping
		for id := ObjectID(0); int(id) < h.Len(); id++ {
			if got, want := pre.Referrals(id), plain.Referrals(id); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, object %d:\n got %+v\nwant %+v", seed, id, got, want)
			}
		}
	}
}

// The filter of root-named ids never answers "no" for an id added, and
// mostly "no" for others.
func TestIDFilter(t *testing.T) {
	var f idFilter
	for id := ObjectID(0); id < 5000; id += 7 {
		f.add(id)
	}
	maybe := 0
	for id := ObjectID(0); id < 1<<20; id++ {
		if id < 5000 && id%7 == 0 && !f.mayHold(id) {
			t.Fatalf("%d added, filter says no", id)
		}
		if (id >= 5000 || id%7 != 0) && f.mayHold(id) {
			maybe++
		}
	}
	if maybe > 1<<20/50 {
		t.Errorf("%d of %d ids not added pass the filter", maybe, 1<<20)
	}
}
