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
		vals := make([]uint32, n)
		for i, k := range keys {
			vals[i] = uint32(k)
		}
		if got := largestValues(vals, k); !slices.Equal(got, want) {
			t.Fatalf("largestValues, n %d k %d: %v, want %v", n, k, got, want)
		}
	}
}

// largestValues splits a big array among the CPUs: the answer is still
// biggest's, ties across the parts' borders included.
func TestLargestValuesInParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 1<<20 + 7
	vals := make([]uint32, n)
	for i := range vals {
		vals[i] = uint32(rng.IntN(1000))
	}
	vals[n-1], vals[n/2], vals[n/2-1] = 5000, 5000, 4999 // ties across a border
	for _, k := range []int{1, 2, 25, 3000} {
		want := biggest(n, k, func(i int) uint64 { return uint64(vals[i]) })
		if got := largestValues(vals, k); !slices.Equal(got, want) {
			t.Fatalf("k %d: %v, want %v", k, got[:min(5, len(got))], want[:min(5, len(want))])
		}
	}
}
