package reports

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/pyheap"
)

// largestOfTypes gives what sorting every node of the types gives (the
// largest retained first, then by node), counts them all, and does not
// depend on how the scan is split: a star of just over 2^20 nodes (split
// among the CPUs) with sizes from a small range (ties everywhere).
func TestLargestOfTypes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 1<<20 + 33
	typeOf := make([]uint32, n)
	for i := range typeOf {
		typeOf[i] = uint32(rng.IntN(7))
	}
	tree := starTree(t, rng, n, 40)
	want := []bool{false, true, false, false, true, false, false} // types 1 and 4
	var all []dominators.Node
	for u, ti := range typeOf {
		if want[ti] {
			all = append(all, dominators.Node(u))
		}
	}
	slices.SortFunc(all, func(a, b dominators.Node) int {
		if c := cmp.Compare(tree.Retained(b), tree.Retained(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, top := range []int{1, 25, 5000, 0} {
		got, count := largestOfTypes(tree, typeOf, want, top)
		wantNodes := all
		if top > 0 {
			wantNodes = all[:top]
		}
		if count != len(all) || !slices.Equal(got, wantNodes) {
			t.Fatalf("top %d: %d nodes of %d counted, first %v; want %d of %d, first %v",
				top, len(got), count, got[:min(3, len(got))], len(wantNodes), len(all), wantNodes[:min(3, len(wantNodes))])
		}
	}
}

// The saved largest per type (TypeTops) answer as the scan does, for
// every --top they keep, one type or two; past what they keep they
// decline.
func TestTypeTopsAgreeWithScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	n := 200000
	typeOf := make([]uint32, n)
	for i := range typeOf {
		typeOf[i] = uint32(rng.IntN(5))
		if i%1000 == 0 {
			typeOf[i] = 5 // a type of 200 objects
		}
	}
	tree := starTree(t, rng, n, 60)
	lg := &LeakGraph{Tree: tree, TypeOf: typeOf}
	for i := 0; i < 7; i++ { // type 6 has no object
		lg.Types = append(lg.Types, &pyheap.Type{Addr: 0x1000 + uint64(i)*0x40})
	}
	tt := NewTypeTops(lg)
	if err := tt.Check(n); err != nil {
		t.Fatal(err)
	}
	lg.TypeTops = tt
	for _, want := range [][]bool{
		{false, true, false, false, false, false, false},
		{false, false, true, false, false, true, false},
		{false, false, false, false, false, false, true},
	} {
		for _, top := range []int{1, 25, TypeTopsKept} {
			got, count, ok := tt.largest(lg, want, top)
			scan, scanCount := largestOfTypes(tree, typeOf, want, top)
			if !ok || count != scanCount || !slices.Equal(got, scan) {
				t.Fatalf("types %v, top %d: saved %v (%d, %v), scan %v (%d)", want, top, got, count, ok, scan, scanCount)
			}
		}
		if _, _, ok := tt.largest(lg, want, TypeTopsKept+1); ok {
			t.Errorf("top %d answered from %d kept", TypeTopsKept+1, TypeTopsKept)
		}
	}
	lg.Types[3] = lg.Types[2] // two types of one address: no key
	if NewTypeTops(lg) != nil {
		t.Error("TypeTops made for types sharing an address")
	}
}

// starTree is the dominator tree of a star: node 0 holds every other,
// each of a size drawn from [1, maxSize] (ties everywhere when small), so
// that each retains its own size.
func starTree(t *testing.T, rng *rand.Rand, n, maxSize int) *dominators.Tree {
	t.Helper()
	g := dominators.Graph[dominators.Node]{Off: make([]uint32, n+1), Roots: []dominators.Node{0}}
	for v := 1; v < n; v++ {
		g.Targets = append(g.Targets, dominators.Node(v))
	}
	for u := 1; u <= n; u++ {
		g.Off[u] = uint32(n - 1)
	}
	sizes := make([]uint32, n)
	for i := range sizes {
		sizes[i] = uint32(1 + rng.IntN(maxSize))
	}
	tree, err := dominators.Compute(g, dominators.Options{Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}
