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
	sizes := make([]uint32, n)
	for i := range sizes {
		sizes[i] = uint32(rng.IntN(100))
	}
	lg := &LeakGraph{Tree: tree, TypeOf: typeOf, Sizes: sizes}
	for i := 0; i < 7; i++ { // type 6 has no object
		lg.Types = append(lg.Types, &pyheap.Type{Addr: 0x1000 + uint64(i)*0x40})
	}
	tt := NewTypeTops(lg)
	if err := tt.Check(n); err != nil {
		t.Fatal(err)
	}
	checkTypeSums(t, lg, tt)
	if err := tt.Resolve(lg.Types[:3]); err == nil {
		t.Error("sums named by a census that lacks their types")
	}
	if err := tt.Resolve(lg.Types); err != nil {
		t.Error(err)
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

// checkTypeSums checks tt's sums (top --by type's, saved) against a sum
// of every object's size by type and the tree's own walk, and that
// CheckSums takes them and refuses them altered.
func checkTypeSums(t *testing.T, lg *LeakGraph, tt *TypeTops) {
	t.Helper()
	shallow := make([]uint64, len(lg.Types))
	for u, ti := range lg.TypeOf {
		shallow[ti] += uint64(lg.Sizes[u])
	}
	walk := lg.Tree.SumByType(lg.TypeOf, len(lg.Types))
	s := tt.Sums
	for i := range lg.Types {
		if s.Shallow[i] != shallow[i] || int(s.Counted[i]) != walk.Counted[i] || s.Retained[i] != walk.Retained[i] || s.Objects[i] != walk.Objects[i] {
			t.Errorf("type %d: saved sums %d %d %d %d, want %d %d %d %d", i, s.Shallow[i], s.Counted[i], s.Retained[i], s.Objects[i],
				shallow[i], walk.Counted[i], walk.Retained[i], walk.Objects[i])
		}
	}
	n, total := lg.Tree.Len(), lg.Tree.TotalRetained
	if err := tt.CheckSums(n, total); err != nil {
		t.Fatal(err)
	}
	for name, alter := range map[string]func(){
		"more counted than instances":  func() { s.Counted[1] = tt.Counts[1] + 1 },
		"more retained than the tree":  func() { s.Retained[2] = total + 1 },
		"more objects than the census": func() { s.Objects[0] = uint64(n) + 1 },
		"a sum missing":                func() { s.Shallow = s.Shallow[:len(s.Shallow)-1] },
	} {
		saved := *s
		saved.Counted, saved.Retained, saved.Objects = slices.Clone(s.Counted), slices.Clone(s.Retained), slices.Clone(s.Objects)
		alter()
		if tt.CheckSums(n, total) == nil {
			t.Errorf("%s: CheckSums took it", name)
		}
		*s = saved
	}
	if err := tt.CheckSums(n, total); err != nil {
		t.Fatalf("restored: %v", err)
	}
}
