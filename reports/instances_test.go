package reports

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pycoroner/pycoroner/graph/dominators"
)

// largestOfTypes gives what sorting every node of the types gives (the
// largest retained first, then by node), counts them all, and does not
// depend on how the scan is split: a star of just over 2^20 nodes (split
// among the CPUs) with sizes from a small range (ties everywhere).
func TestLargestOfTypes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 1<<20 + 33
	g := dominators.Graph[dominators.Node]{Off: make([]uint32, n+1), Roots: []dominators.Node{0}}
	for v := 1; v < n; v++ {
		g.Targets = append(g.Targets, dominators.Node(v))
	}
	for u := 1; u <= n; u++ {
		g.Off[u] = uint32(n - 1)
	}
	sizes := make([]uint32, n)
	typeOf := make([]uint32, n)
	for i := range sizes {
		sizes[i] = uint32(1 + rng.IntN(40))
		typeOf[i] = uint32(rng.IntN(7))
	}
	tree, err := dominators.Compute(g, dominators.Options{Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
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
