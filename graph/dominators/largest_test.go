package dominators

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// largestByScan is what Largest must agree with: every node sorted by
// retained size, largest first, ties by node.
func largestByScan(t *Tree, k int) []Node {
	all := make([]Node, t.Len())
	for i := range all {
		all[i] = Node(i)
	}
	slices.SortFunc(all, func(a, b Node) int {
		if c := cmp.Compare(t.Retained(b), t.Retained(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return all[:min(k, len(all))]
}

// Largest gives the scan's answer whenever it answers, on random graphs
// with and without orphans, sizes drawn from a small range (many ties)
// and sizes of zero; it declines rather than guess.
func TestLargestAgainstScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2026))
	answered, declined := 0, 0
	for iter := 0; iter < 2000; iter++ {
		n := 1 + rng.IntN(80)
		adj := make([][]Node, n)
		for u := range adj {
			for j := rng.IntN(4); j > 0; j-- {
				adj[u] = append(adj[u], Node(rng.IntN(n)))
			}
		}
		roots := []Node{Node(rng.IntN(n))}
		sizes := make([]uint32, n)
		span := []int{3, 50, 100000}[iter%3]
		for i := range sizes {
			sizes[i] = uint32(rng.IntN(span))
		}
		tree, err := Compute(fromAdj(adj, roots), Options{Sizes: sizes, OrphansAsRoots: iter%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{1, 3, 10, n, n + 5} {
			got, ok := tree.Largest(k)
			if !ok {
				declined++
				continue
			}
			answered++
			if want := largestByScan(tree, k); !slices.Equal(got, want) {
				t.Fatalf("iteration %d, k %d: Largest %v, the scan %v", iter, k, got, want)
			}
		}
	}
	if answered < declined {
		t.Errorf("Largest answered %d times and declined %d: it should answer most", answered, declined)
	}
}

// A saved tree restored with only its child lists is walked as the
// computed one; one without them is declined, not a panic.
func TestLargestRestored(t *testing.T) {
	tree := cacheTree(t)
	_, count, lo, hi := tree.Arrays()
	off, kids := tree.ChildArrays()
	part, err := RestorePart(tree.Len(), count, lo, hi, tree.TotalRetained, tree.Stats)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := part.Largest(3); ok {
		t.Error("Largest answered without child lists")
	}
	if err := part.RestoreChildren(off, kids, false); err != nil {
		t.Fatal(err)
	}
	got, ok := part.Largest(3)
	if want := largestByScan(tree, 3); !ok || !slices.Equal(got, want) {
		t.Errorf("restored: Largest %v (%v), want %v", got, ok, want)
	}
}

// Child lists are sorted biggest retained first, then by node, whichever
// way a list is sorted: big lists as keys (two hubs of 70,000 children
// each) or in place (one hub holding most nodes), small ones in parts.
func TestChildListsSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, hubs := range [][]int{{70000, 70000, 5}, {150000, 3}} {
		var adj [][]Node
		root := Node(0)
		adj = append(adj, nil)
		var hubIDs []Node
		for _, k := range hubs {
			hub := Node(len(adj))
			hubIDs = append(hubIDs, hub)
			adj = append(adj, nil)
			adj[root] = append(adj[root], hub)
			for j := 0; j < k; j++ {
				adj[hub] = append(adj[hub], Node(len(adj)))
				adj = append(adj, nil)
			}
		}
		sizes := make([]uint32, len(adj))
		for i := range sizes {
			sizes[i] = uint32(rng.IntN(30)) // ties everywhere
		}
		tree, err := Compute(fromAdj(adj, []Node{root}), Options{Sizes: sizes})
		if err != nil {
			t.Fatal(err)
		}
		for u := 0; u < tree.Len(); u++ {
			kids := tree.Children(Node(u))
			if !slices.IsSortedFunc(kids, func(a, b Node) int {
				if c := cmp.Compare(tree.Retained(b), tree.Retained(a)); c != 0 {
					return c
				}
				return cmp.Compare(a, b)
			}) {
				t.Fatalf("hubs %v: children of %d not biggest first, then by node", hubs, u)
			}
		}
		for i, hub := range hubIDs {
			if got := len(tree.Children(hub)); got != hubs[i] {
				t.Fatalf("hubs %v: hub %d has %d children, want %d", hubs, hub, got, hubs[i])
			}
		}
	}
}
