package dominators

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// sumsByAncestors is what SumByType must agree with: a node counts when
// no node above it (its immediate dominators, up to the root) has its
// type.
func sumsByAncestors(t *Tree, typeOf []uint32, types int) TypeSums {
	out := newTypeSums(types)
	for u := range t.Idom {
		if t.Idom[u] == Unreachable {
			continue
		}
		counted := true
		for x := t.Idom[u]; x != Root; x = t.Idom[x] {
			if typeOf[x] == typeOf[u] {
				counted = false
				break
			}
		}
		if counted {
			ti := typeOf[u]
			out.Counted[ti]++
			out.Retained[ti] += t.Retained(Node(u))
			out.Objects[ti] += uint64(t.Count[u])
		}
	}
	return out
}

// The walk shared among goroutines, in runs as small as one node, gives
// the sums the ancestors give, on random graphs with few types (nodes of
// a type under nodes of the same type are common).
func TestSumByTypeAgainstAncestors(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2026))
	for iter := 0; iter < 500; iter++ {
		n := 1 + rng.IntN(300)
		adj := make([][]Node, n)
		for u := range adj {
			// Mostly chains and fans, so that the tree is deep in places.
			if u+1 < n && rng.IntN(3) > 0 {
				adj[u] = append(adj[u], Node(u+1))
			}
			for j := rng.IntN(3); j > 0; j-- {
				adj[u] = append(adj[u], Node(rng.IntN(n)))
			}
		}
		sizes := make([]uint32, n)
		for i := range sizes {
			sizes[i] = uint32(1 + rng.IntN(1000))
		}
		tree, err := Compute(fromAdj(adj, []Node{0}), Options{Sizes: sizes, OrphansAsRoots: iter%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		types := 1 + rng.IntN(4)
		typeOf := make([]uint32, n)
		for i := range typeOf {
			typeOf[i] = uint32(rng.IntN(types))
		}
		want := sumsByAncestors(tree, typeOf, types)
		for _, workers := range []int{1, 2, 3, 5} {
			got := tree.sumByType(typeOf, types, workers, 0)
			if !slices.Equal(got.Counted, want.Counted) || !slices.Equal(got.Retained, want.Retained) || !slices.Equal(got.Objects, want.Objects) {
				t.Fatalf("iteration %d, %d workers: %+v, the ancestors say %+v", iter, workers, got, want)
			}
		}
	}
}
