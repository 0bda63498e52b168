package dominators

import (
	"slices"
	"testing"
)

// A tree restored from its arrays answers as the computed one; arrays
// that do not hold together are refused.
func TestRestoreTree(t *testing.T) {
	tree := cacheTree(t)
	idom, count, lo, hi := tree.Arrays()
	off, kids := tree.ChildArrays()
	got, err := Restore(slices.Clone(idom), slices.Clone(count), slices.Clone(lo), slices.Clone(hi), tree.TotalRetained, tree.Stats)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.RestoreChildren(slices.Clone(off), slices.Clone(kids), false); err != nil {
		t.Fatal(err)
	}
	for u := Node(0); int(u) < len(idom); u++ {
		if got.Retained(u) != tree.Retained(u) || got.Count[u] != tree.Count[u] || got.Idom[u] != tree.Idom[u] ||
			!slices.Equal(got.Children(u), tree.Children(u)) {
			t.Errorf("node %d: restored %d/%d/%d %v, computed %d/%d/%d %v", u, got.Retained(u), got.Count[u], got.Idom[u],
				got.Children(u), tree.Retained(u), tree.Count[u], tree.Idom[u], tree.Children(u))
		}
	}
	if !slices.Equal(got.Children(Root), tree.Children(Root)) || got.TotalRetained != tree.TotalRetained {
		t.Errorf("root: restored %v %d, computed %v %d", got.Children(Root), got.TotalRetained, tree.Children(Root), tree.TotalRetained)
	}

	n := len(idom)
	bad := func(f func([]uint32) []uint32) []uint32 { return f(slices.Clone(idom)) }
	for name, tc := range map[string]struct {
		idom, count []uint32
	}{
		"dominator out of range": {bad(func(v []uint32) []uint32 { v[2] = uint32(n); return v }), count},
		"own dominator":          {bad(func(v []uint32) []uint32 { v[3] = 3; return v }), count},
		"counts missing":         {idom, count[:n-1]},
	} {
		if _, err := Restore(tc.idom, tc.count, lo, hi, 0, Stats{}); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
	for name, tc := range map[string]struct {
		off  []uint32
		kids []Node
	}{
		"offsets short":      {off[:len(off)-1], kids},
		"offsets unordered":  {func() []uint32 { o := slices.Clone(off); o[1], o[2] = 5, 1; return o }(), kids},
		"child out of range": {off, func() []Node { k := slices.Clone(kids); k[0] = Node(n); return k }()},
		"child twice":        {off, func() []Node { k := slices.Clone(kids); k[1] = k[0]; return k }()},
	} {
		r, _ := Restore(idom, count, lo, hi, tree.TotalRetained, tree.Stats)
		if err := r.RestoreChildren(tc.off, tc.kids, false); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
	// Arrays vouched for as checked before: only their lengths are
	// checked again.
	r, _ := Restore(idom, count, lo, hi, tree.TotalRetained, tree.Stats)
	if err := r.RestoreChildren(off[:len(off)-1], kids, true); err == nil {
		t.Errorf("offsets short, checked before: restored")
	}
	if err := r.RestoreChildren(off, kids, true); err != nil {
		t.Errorf("checked before: %v", err)
	}
}

// A tree restored without its immediate dominators (RestorePart) answers
// what it was restored for as the computed one, refuses arrays of the
// wrong length, and refuses (panics: a caller's bug) the questions it
// cannot answer.
func TestRestorePart(t *testing.T) {
	tree := cacheTree(t)
	idom, count, lo, hi := tree.Arrays()
	off, kids := tree.ChildArrays()
	n := len(idom)
	if _, err := RestorePart(n, count[:n-1], lo, hi, 0, Stats{}); err == nil {
		t.Error("counts missing: restored")
	}
	got, err := RestorePart(n, slices.Clone(count), slices.Clone(lo), slices.Clone(hi), tree.TotalRetained, tree.Stats)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != n {
		t.Errorf("Len %d, want %d", got.Len(), n)
	}
	for u := Node(0); int(u) < n; u++ {
		if got.Retained(u) != tree.Retained(u) || got.Count[u] != tree.Count[u] {
			t.Errorf("node %d: restored %d/%d, computed %d/%d", u, got.Retained(u), got.Count[u], tree.Retained(u), tree.Count[u])
		}
	}
	// Below 4 GiB in all, the high halves are not needed; above, they are.
	noHi, err := RestorePart(n, count, lo, nil, tree.TotalRetained, tree.Stats)
	if err != nil {
		t.Fatal(err)
	}
	for u := Node(0); int(u) < n; u++ {
		if noHi.Retained(u) != tree.Retained(u) {
			t.Errorf("node %d without high halves: %d, computed %d", u, noHi.Retained(u), tree.Retained(u))
		}
	}
	if _, err := RestorePart(n, count, lo, nil, NoHighHalves, tree.Stats); err == nil {
		t.Error("4 GiB in all without high halves: restored")
	}
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", what)
			}
		}()
		f()
	}
	mustPanic("Children without child lists", func() { got.Children(Root) })
	mustPanic("Dominates", func() { got.Dominates(0, 1) })
	got, _ = RestorePart(n, count, lo, hi, tree.TotalRetained, tree.Stats)
	if err := got.RestoreChildren(slices.Clone(off), slices.Clone(kids), false); err != nil {
		t.Fatal(err)
	}
	for u := Node(0); int(u) < n; u++ {
		if !slices.Equal(got.Children(u), tree.Children(u)) {
			t.Errorf("children of %d: restored %v, computed %v", u, got.Children(u), tree.Children(u))
		}
	}
	if !slices.Equal(got.Children(Root), tree.Children(Root)) {
		t.Errorf("root's children: restored %v, computed %v", got.Children(Root), tree.Children(Root))
	}
}

// cacheTree is the dominator tree, with sizes, of a small graph: a cache
// holding two records, a blob each, one of them sharing an object with
// another root.
func cacheTree(t *testing.T) *Tree {
	t.Helper()
	g, _ := build(t, "root cache r1 r2 b1 b2 shared other",
		[]string{"root>cache other", "cache>r1 r2", "r1>b1", "r2>b2 shared", "other>shared"}, "root")
	sizes := []uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000}
	tree, err := Compute(g, Options{Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}
