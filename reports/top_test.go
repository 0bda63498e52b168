package reports

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBiggest: the heap selection gives what a full sort gives, ties by
// the smaller index first.
func TestBiggest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		n, k := rng.IntN(300), 1+rng.IntN(30)
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = uint64(rng.IntN(20)) // many ties
		}
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		slices.SortStableFunc(all, func(a, b int) int {
			switch {
			case keys[a] > keys[b]:
				return -1
			case keys[a] < keys[b]:
				return 1
			}
			return 0
		})
		want := all[:min(k, n)]
		if got := biggest(n, k, func(i int) uint64 { return keys[i] }); !slices.Equal(got, want) {
			t.Fatalf("n %d k %d: %v, want %v", n, k, got, want)
		}
	}
}
