package suspects

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/pycoroner/pycoroner/graph/dominators"
)

// builder makes graphs node by node: add returns the new node's id.
type builder struct {
	adj   [][]dominators.Node
	sizes []uint32
	types []uint32
}

func (b *builder) add(typ uint32, size uint32, refs ...dominators.Node) dominators.Node {
	b.adj = append(b.adj, refs)
	b.sizes = append(b.sizes, size)
	b.types = append(b.types, typ)
	return dominators.Node(len(b.adj) - 1)
}

func (b *builder) ref(from dominators.Node, to ...dominators.Node) {
	b.adj[from] = append(b.adj[from], to...)
}

func (b *builder) tree(t *testing.T, roots ...dominators.Node) *dominators.Tree {
	t.Helper()
	g := dominators.Graph[dominators.Node]{Off: make([]uint32, len(b.adj)+1), Roots: roots}
	for u, vs := range b.adj {
		g.Targets = append(g.Targets, vs...)
		g.Off[u+1] = uint32(len(g.Targets))
	}
	tree, err := dominators.Compute(g, dominators.Options{Sizes: b.sizes, OrphansAsRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

const (
	tModule = iota
	tDict
	tList
	tRecord
	tBytes
	tStr
)

// records adds n records, each holding a bytes of size sz, to holder.
func (b *builder) records(holder dominators.Node, n int, sz uint32) {
	for i := 0; i < n; i++ {
		blob := b.add(tBytes, sz)
		key := b.add(tStr, 50)
		b.ref(holder, key, b.add(tRecord, 56, blob))
	}
}

func TestFind(t *testing.T) {
	t.Run("a cache in a module is the accumulation point", func(t *testing.T) {
		var b builder
		shared := b.add(tStr, 1000)
		cache := b.add(tDict, 4000)
		b.records(cache, 300, 1000)
		small := b.add(tList, 100, shared)
		mdict := b.add(tDict, 500, cache, small, shared)
		mod := b.add(tModule, 50, mdict)
		other := b.add(tModule, 50, b.add(tDict, 300, shared))
		tree := b.tree(t, mod, other)
		got := Find(tree, b.types, Options{})
		if len(got) != 1 || got[0].Node != cache {
			t.Fatalf("suspects %+v, want the cache (node %d) alone", got, cache)
		}
		s := got[0]
		if s.Retained != tree.Retained(cache) || s.Count != 1+300*3 {
			t.Errorf("retained %d count %d", s.Retained, s.Count)
		}
		if len(s.Accumulates) != 2 || s.Accumulates[0] != (TypeCount{tRecord, 300, 300 * 1056}) || s.Accumulates[1] != (TypeCount{tStr, 300, 300 * 50}) {
			t.Errorf("accumulates %+v", s.Accumulates)
		}
		if want := float64(tree.Retained(cache)) / float64(tree.TotalRetained); s.Share != want {
			t.Errorf("share %v, want %v", s.Share, want)
		}
	})
	t.Run("two caches side by side are two suspects, biggest first", func(t *testing.T) {
		var b builder
		c1 := b.add(tDict, 100)
		b.records(c1, 100, 500)
		c2 := b.add(tList, 100)
		b.records(c2, 200, 500)
		mdict := b.add(tDict, 100, c1, c2)
		tree := b.tree(t, b.add(tModule, 50, mdict))
		got := Find(tree, b.types, Options{})
		if len(got) != 2 || got[0].Node != c2 || got[1].Node != c1 {
			t.Fatalf("suspects %+v, want %d then %d", got, c2, c1)
		}
	})
	t.Run("a big cache beside a dominant one is a suspect too", func(t *testing.T) {
		var b builder
		c1 := b.add(tDict, 100)
		b.records(c1, 900, 500)
		c2 := b.add(tList, 100)
		b.records(c2, 100, 500)
		mdict := b.add(tDict, 100, c1, c2)
		tree := b.tree(t, b.add(tModule, 50, mdict))
		got := Find(tree, b.types, Options{})
		if len(got) != 2 || got[0].Node != c1 || got[1].Node != c2 {
			t.Fatalf("suspects %+v, want %d then %d", got, c1, c2)
		}
	})
	t.Run("one huge object is a suspect", func(t *testing.T) {
		var b builder
		huge := b.add(tBytes, 1<<20)
		mdict := b.add(tDict, 100, huge, b.add(tStr, 100))
		tree := b.tree(t, b.add(tModule, 50, mdict))
		got := Find(tree, b.types, Options{})
		if len(got) != 1 || got[0].Node != huge || len(got[0].Accumulates) != 0 {
			t.Fatalf("suspects %+v, want %d", got, huge)
		}
	})
	t.Run("memory spread over many roots has no suspect", func(t *testing.T) {
		var b builder
		var roots []dominators.Node
		for i := 0; i < 100; i++ {
			roots = append(roots, b.add(tModule, 50, b.add(tDict, 100)))
		}
		if got := Find(b.tree(t, roots...), b.types, Options{}); len(got) != 0 {
			t.Fatalf("suspects %+v, want none", got)
		}
	})
	t.Run("a shared cache is held by the dict above both holders", func(t *testing.T) {
		var b builder
		cache := b.add(tList, 100)
		b.records(cache, 100, 1000)
		h1 := b.add(tRecord, 50, cache)
		h2 := b.add(tRecord, 50, cache)
		mdict := b.add(tDict, 100, h1, h2)
		tree := b.tree(t, b.add(tModule, 50, mdict))
		got := Find(tree, b.types, Options{})
		if len(got) != 1 || got[0].Node != cache {
			t.Fatalf("suspects %+v, want %d", got, cache)
		}
	})
	t.Run("Max bounds the list", func(t *testing.T) {
		var b builder
		var kids []dominators.Node
		for i := 0; i < 5; i++ {
			c := b.add(tList, 100)
			b.records(c, 50, 100)
			kids = append(kids, c)
		}
		// A module's namespace: five big lists among many small things.
		for i := 0; i < 20; i++ {
			kids = append(kids, b.add(tStr, 60))
		}
		tree := b.tree(t, b.add(tModule, 50, b.add(tDict, 100, kids...)))
		if got := Find(tree, b.types, Options{Max: 3}); len(got) != 3 {
			t.Fatalf("%d suspects, want 3", len(got))
		}
	})
	// A dict of shards (CACHE = {n: [records…]}) is one suspect, whether
	// each shard is under the threshold or has grown over it.
	for _, perShard := range []int{10, 100} {
		t.Run(fmt.Sprintf("a dict of 7 lists of %d records each is one suspect", perShard), func(t *testing.T) {
			var b builder
			var shards []dominators.Node
			for i := 0; i < 7; i++ {
				l := b.add(tList, 100)
				b.records(l, perShard, 500)
				shards = append(shards, b.add(tStr, 50), l) // key, value
			}
			cache := b.add(tDict, 400, shards...)
			other := b.add(tList, 100)
			b.records(other, 7*perShard, 400) // an unrelated cache beside it
			var globals []dominators.Node
			for i := 0; i < 20; i++ {
				globals = append(globals, b.add(tStr, 60))
			}
			mdict := b.add(tDict, 100, append(globals, cache, other)...)
			tree := b.tree(t, b.add(tModule, 50, mdict))
			got := Find(tree, b.types, Options{})
			if len(got) != 2 || got[0].Node != cache || got[1].Node != other {
				t.Fatalf("suspects %+v, want the dict %d then the list %d", got, cache, other)
			}
			if len(got[0].Accumulates) == 0 || got[0].Accumulates[0].Type != tList || got[0].Accumulates[0].Count != 7 {
				t.Errorf("the dict accumulates %+v, want 7 lists first", got[0].Accumulates)
			}
		})
	}
	t.Run("two big lists in a dict stay two suspects", func(t *testing.T) {
		var b builder
		l1, l2 := b.add(tList, 100), b.add(tList, 100)
		b.records(l1, 300, 500)
		b.records(l2, 200, 500)
		mdict := b.add(tDict, 100, l1, l2)
		got := Find(b.tree(t, b.add(tModule, 50, mdict)), b.types, Options{})
		if len(got) != 2 || got[0].Node != l1 || got[1].Node != l2 {
			t.Fatalf("suspects %+v, want %d then %d", got, l1, l2)
		}
	})
}

func TestFindChains(t *testing.T) {
	for _, tc := range []struct {
		name  string
		types []uint32 // repeated along the list
	}{
		{"a linked list is named by its head", []uint32{tRecord}},
		{"nodes with a __dict__ each", []uint32{tRecord, tDict}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b builder
			// Built from the tail: each node refers to the next.
			next := b.add(tRecord, 64)
			for i := 0; i < 500; i++ {
				for k := len(tc.types) - 1; k >= 0; k-- {
					next = b.add(tc.types[k], 64, next)
				}
			}
			head := next
			mdict := b.add(tDict, 100, head, b.add(tStr, 100))
			tree := b.tree(t, b.add(tModule, 50, mdict))
			got := Find(tree, b.types, Options{})
			if len(got) != 1 {
				t.Fatalf("suspects %+v, want one", got)
			}
			if got[0].Node != head {
				t.Errorf("suspect %d, want the head %d", got[0].Node, head)
			}
			if a := got[0].Accumulates; len(a) != 1 || a[0].Count < 450 {
				t.Errorf("accumulates %+v, want most of the list's 500 nodes", a)
			}
		})
	}
}

// byType over many nodes (split among the CPUs) sums as one pass does,
// with the order of ties (the types in the order of their first node).
func TestByTypeInParts(t *testing.T) {
	var b builder
	holder := b.add(tDict, 100)
	var kids []dominators.Node
	for i := 0; i < 1<<17; i++ {
		typ := uint32(tRecord)
		switch {
		case i%7 == 0:
			typ = tStr
		case i > 1<<16 && i%5 == 0:
			typ = tBytes // a type first met in a later part
		}
		k := b.add(typ, uint32(10+i%3))
		b.ref(holder, k)
		kids = append(kids, k)
	}
	tree := b.tree(t, holder)
	want := sumTypes(tree, b.types, kids)
	slices.SortStableFunc(want, func(a, b TypeCount) int { return cmp.Compare(b.Retained, a.Retained) })
	if got := byType(tree, b.types, kids, 10); !slices.Equal(got, want) {
		t.Fatalf("in parts %+v, one pass %+v", got, want)
	}
}
