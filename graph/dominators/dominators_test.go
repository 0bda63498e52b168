package dominators

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// build makes a Graph from "a>b c" lines (a's edges to b and c) over
// single-letter or named nodes listed in names.
func build(t *testing.T, names string, edges []string, roots string) (Graph[Node], map[string]Node) {
	t.Helper()
	ids := map[string]Node{}
	for i, s := range strings.Fields(names) {
		ids[s] = Node(i)
	}
	adj := make([][]Node, len(ids))
	for _, line := range edges {
		from, to, ok := strings.Cut(line, ">")
		if !ok {
			t.Fatalf("bad edge line %q", line)
		}
		for _, s := range strings.Fields(to) {
			adj[ids[strings.TrimSpace(from)]] = append(adj[ids[strings.TrimSpace(from)]], ids[s])
		}
	}
	var rs []Node
	for _, s := range strings.Fields(roots) {
		rs = append(rs, ids[s])
	}
	return fromAdj(adj, rs), ids
}

func fromAdj(adj [][]Node, roots []Node) Graph[Node] {
	g := Graph[Node]{Off: make([]uint32, len(adj)+1), Roots: roots}
	for u, vs := range adj {
		g.Targets = append(g.Targets, vs...)
		g.Off[u+1] = uint32(len(g.Targets))
	}
	return g
}

func TestDominatorsKnownGraphs(t *testing.T) {
	tests := []struct {
		name    string
		nodes   string
		edges   []string
		roots   string
		orphans bool
		want    string // "node:idom" pairs; "-" is Root, "?" Unreachable
	}{{
		name:  "Lengauer-Tarjan 1979, figure 1",
		nodes: "R A B C D E F G H I J K L",
		edges: []string{"R>A B C", "A>D", "B>A D E", "C>F G", "D>L", "E>H", "F>I", "G>I J",
			"H>E K", "I>K", "J>I", "K>I R", "L>H"},
		roots: "R",
		want:  "R:- A:R B:R C:R D:R E:R F:C G:C H:R I:R J:G K:R L:D",
	}, {
		name:  "Cooper-Harvey-Kennedy figure 2 (irreducible)",
		nodes: "n5 n4 n3 n2 n1",
		edges: []string{"n5>n4 n3", "n4>n1", "n3>n2", "n1>n2", "n2>n1"},
		roots: "n5",
		want:  "n5:- n4:n5 n3:n5 n2:n5 n1:n5",
	}, {
		name:  "Cooper-Harvey-Kennedy figure 4",
		nodes: "n6 n5 n4 n3 n2 n1",
		edges: []string{"n6>n5 n4", "n5>n1", "n4>n2 n3", "n1>n2", "n2>n1 n3", "n3>n2"},
		roots: "n6",
		want:  "n6:- n5:n6 n4:n6 n3:n6 n2:n6 n1:n6",
	}, {
		name:  "Appel, a loop nest",
		nodes: "1 2 3 4 5 6 7 8 9 10 11 12",
		edges: []string{"1>2", "2>3 4", "3>2", "4>2 5 6", "5>7 8", "6>7", "7>11", "8>9", "9>8 10",
			"10>5 12", "11>12"},
		roots: "1",
		want:  "1:- 2:1 3:2 4:2 5:4 6:4 7:4 8:5 9:8 10:9 11:7 12:4",
	}, {
		name:  "diamond",
		nodes: "a b c d e",
		edges: []string{"a>b c", "b>d", "c>d", "d>e"},
		roots: "a",
		want:  "a:- b:a c:a d:a e:d",
	}, {
		name:  "chain with self-loops",
		nodes: "a b c",
		edges: []string{"a>a b", "b>b c", "c>c"},
		roots: "a",
		want:  "a:- b:a c:b",
	}, {
		name:  "cycle back to the root",
		nodes: "a b c d",
		edges: []string{"a>b", "b>c", "c>d", "d>a b"},
		roots: "a",
		want:  "a:- b:a c:b d:c",
	}, {
		name:  "two roots share a node",
		nodes: "m1 m2 x y z",
		edges: []string{"m1>x", "m2>y", "x>z", "y>z"},
		roots: "m1 m2",
		want:  "m1:- m2:- x:m1 y:m2 z:-",
	}, {
		name:  "a root reached from another root stays a root",
		nodes: "m1 m2 x",
		edges: []string{"m1>m2", "m2>x"},
		roots: "m1 m2",
		want:  "m1:- m2:- x:m2",
	}, {
		name:  "duplicate roots and edges",
		nodes: "a b c",
		edges: []string{"a>b b c", "b>c c"},
		roots: "a a",
		want:  "a:- b:a c:a",
	}, {
		name:  "unreachable nodes, and one pointing into the tree",
		nodes: "a b c u1 u2",
		edges: []string{"a>b", "b>c", "u1>u2 c", "u2>u1"},
		roots: "a",
		want:  "a:- b:a c:b u1:? u2:?",
	}, {
		name:    "orphans as roots",
		nodes:   "a b c u1 u2",
		edges:   []string{"a>b", "b>c", "u1>u2 c", "u2>u1"},
		roots:   "a",
		orphans: true,
		want:    "a:- b:a c:- u1:- u2:u1",
	}, {
		name:  "no roots",
		nodes: "a b",
		edges: []string{"a>b"},
		want:  "a:? b:?",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, ids := build(t, tc.nodes, tc.edges, tc.roots)
			names := strings.Fields(tc.nodes)
			tree, err := Compute(g, Options{OrphansAsRoots: tc.orphans})
			if err != nil {
				t.Fatal(err)
			}
			for _, pair := range strings.Fields(tc.want) {
				node, want, _ := strings.Cut(pair, ":")
				got := tree.Idom[ids[node]]
				gotName := "-"
				switch got {
				case Unreachable:
					gotName = "?"
				case Root:
				default:
					gotName = names[got]
				}
				if gotName != want {
					t.Errorf("idom(%s) = %s, want %s", node, gotName, want)
				}
			}
			checkAgainstDataflow(t, g, tc.orphans, tree)
		})
	}
}

func TestRetainedSizes(t *testing.T) {
	// root > cache > {r1, r2}; r1 > b1; r2 > b2, shared; other > shared.
	g, ids := build(t, "root cache r1 r2 b1 b2 shared other",
		[]string{"root>cache other", "cache>r1 r2", "r1>b1", "r2>b2 shared", "other>shared"}, "root")
	sizes := []uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000}
	tree, err := Compute(g, Options{Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		node  string
		size  uint64
		count uint32
	}{
		{"cache", 10 + 100 + 1000 + 10000 + 100000, 5},
		{"r2", 1000 + 100000, 2},
		{"shared", 1000000, 1},
		{"root", 11111111, 8},
		{"other", 10000000, 1},
	} {
		if got := tree.Retained(ids[tc.node]); got != tc.size {
			t.Errorf("retained(%s) = %d, want %d", tc.node, got, tc.size)
		}
		if got := tree.Count[ids[tc.node]]; got != tc.count {
			t.Errorf("count(%s) = %d, want %d", tc.node, got, tc.count)
		}
	}
	if tree.TotalRetained != 11111111 {
		t.Errorf("total = %d", tree.TotalRetained)
	}
	kids := tree.Children(ids["root"])
	want := []Node{ids["other"], ids["shared"], ids["cache"]}
	if !slices.Equal(kids, want) {
		t.Errorf("children(root) = %v, want %v (biggest retained first)", kids, want)
	}
	if got := tree.Children(Root); !slices.Equal(got, []Node{ids["root"]}) {
		t.Errorf("children(Root) = %v", got)
	}
	if !tree.Dominates(ids["cache"], ids["b2"]) || tree.Dominates(ids["cache"], ids["shared"]) || !tree.Dominates(Root, ids["shared"]) {
		t.Error("Dominates disagrees with the tree")
	}
}

func TestSumByType(t *testing.T) {
	// A list (type 0) of three nodes (type 1) chained n1 > n2 > n3, each
	// holding a str (type 2); another n4 held by the root, shared by nobody.
	g, _ := build(t, "list n1 n2 n3 s1 s2 s3 n4",
		[]string{"list>n1", "n1>n2 s1", "n2>n3 s2", "n3>s3"}, "list n4")
	typeOf := []uint32{0, 1, 1, 1, 2, 2, 2, 1}
	tree, err := Compute(g, Options{Sizes: []uint32{100, 10, 10, 10, 1, 1, 1, 7}})
	if err != nil {
		t.Fatal(err)
	}
	sums := tree.SumByType(typeOf, 3)
	// Type 1: n1 (retaining n1..n3 and their strs: 33 in 6) and n4 (7 in 1).
	if sums.Counted[1] != 2 || sums.Retained[1] != 33+7 || sums.Objects[1] != 7 {
		t.Errorf("type 1: %d counted, %d bytes, %d objects", sums.Counted[1], sums.Retained[1], sums.Objects[1])
	}
	// Type 2: each str is under a node, none under another str.
	if sums.Counted[2] != 3 || sums.Retained[2] != 3 || sums.Counted[0] != 1 || sums.Retained[0] != 133 {
		t.Errorf("types 0 and 2: %+v", sums)
	}
}

func TestBadGraphs(t *testing.T) {
	for name, g := range map[string]Graph[Node]{
		"target out of range": {Off: []uint32{0, 1}, Targets: []uint32{5}},
		"root out of range":   {Off: []uint32{0, 0}, Roots: []Node{1}},
		"offsets decrease":    {Off: []uint32{0, 2, 1, 2}, Targets: []uint32{0, 1}},
		"offsets overrun":     {Off: []uint32{0, 3}, Targets: []uint32{0}},
		"roots without nodes": {Roots: []Node{0}},
	} {
		if _, err := Compute(g, Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Compute(Graph[Node]{Off: []uint32{0, 0}}, Options{Sizes: []uint32{1, 2}}); err == nil {
		t.Error("wrong number of sizes: no error")
	}
	if tree, err := Compute(Graph[Node]{}, Options{}); err != nil || len(tree.Idom) != 0 {
		t.Errorf("empty graph: %v", err)
	}
}

// dataflowIdom is the slow reference: iterate Dom(v) = {v} ∪ ⋂ Dom(p)
// over predecessors to a fixpoint (the virtual root is node n), then the
// immediate dominator is the strict dominator with the most dominators.
func dataflowIdom(g Graph[Node], orphans bool) []Node {
	n := g.Len()
	vr := n
	preds := make([][]int, n+1)
	for u := 0; u < n; u++ {
		for _, v := range g.Targets[g.Off[u]:g.Off[u+1]] {
			preds[v] = append(preds[v], u)
		}
	}
	for _, r := range g.Roots {
		preds[r] = append(preds[r], vr)
	}
	seen := make([]bool, n+1)
	seen[vr] = true
	reach := func(start ...int) {
		stack := start
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[u] {
				continue
			}
			seen[u] = true
			for _, v := range g.Targets[g.Off[u]:g.Off[u+1]] {
				stack = append(stack, int(v))
			}
		}
	}
	for _, r := range g.Roots {
		reach(int(r))
	}
	if orphans {
		// Search starts: unreached nodes nothing refers to, then the rest.
		referred := make([]bool, n)
		for _, v := range g.Targets {
			referred[v] = true
		}
		for pass := 0; pass < 2; pass++ {
			for u := 0; u < n; u++ {
				if !seen[u] && (pass == 1 || !referred[u]) {
					preds[u] = append(preds[u], vr)
					reach(u)
				}
			}
		}
	}
	words := (n + 1 + 63) / 64
	dom := make([][]uint64, n+1)
	for v := range dom {
		dom[v] = make([]uint64, words)
		if v == vr {
			dom[v][vr/64] |= 1 << (vr % 64)
		} else {
			for w := range dom[v] {
				dom[v][w] = ^uint64(0)
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for v := 0; v < n; v++ {
			if !seen[v] {
				continue
			}
			next := make([]uint64, words)
			for w := range next {
				next[w] = ^uint64(0)
			}
			for _, p := range preds[v] {
				if !seen[p] {
					continue
				}
				for w := range next {
					next[w] &= dom[p][w]
				}
			}
			next[v/64] |= 1 << (v % 64)
			if !slices.Equal(next, dom[v]) {
				dom[v], changed = next, true
			}
		}
	}
	count := func(b []uint64) int {
		c := 0
		for _, w := range b {
			for ; w != 0; w &= w - 1 {
				c++
			}
		}
		return c
	}
	out := make([]Node, n)
	for v := 0; v < n; v++ {
		if !seen[v] {
			out[v] = Unreachable
			continue
		}
		best, bestCount := -1, -1
		for d := 0; d <= n; d++ {
			if d != v && dom[v][d/64]&(1<<(d%64)) != 0 {
				if c := count(dom[d]); c > bestCount {
					best, bestCount = d, c
				}
			}
		}
		if best == vr {
			out[v] = Root
		} else {
			out[v] = Node(best)
		}
	}
	return out
}

func checkAgainstDataflow(t *testing.T, g Graph[Node], orphans bool, tree *Tree) {
	t.Helper()
	want := dataflowIdom(g, orphans)
	for v := range want {
		if tree.Idom[v] != want[v] {
			t.Fatalf("node %d: idom %d, the dataflow reference says %d (graph %+v)", v, tree.Idom[v], want[v], g)
		}
	}
}

// withPredsOf gives g a reverse index through PredsOf, with each
// predecessor listed twice (repeats are allowed).
func withPredsOf(g Graph[Node]) Graph[Node] {
	rev := make([][]Node, g.Len())
	for u := 0; u < g.Len(); u++ {
		for _, v := range g.Targets[g.Off[u]:g.Off[u+1]] {
			rev[v] = append(rev[v], Node(u), Node(u))
		}
	}
	g.PredsOf = func(v Node, buf []Node) []Node { return append(buf, rev[v]...) }
	return g
}

// reachOf is the set of nodes roots reach, a bit per node.
func reachOf(g Graph[Node], roots []Node) []uint64 {
	bits := make([]uint64, (g.Len()+63)/64)
	stack := slices.Clone(roots)
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if bits[u/64]&(1<<(u%64)) != 0 {
			continue
		}
		bits[u/64] |= 1 << (u % 64)
		stack = append(stack, g.Targets[g.Off[u]:g.Off[u+1]]...)
	}
	return bits
}

// naiveRetained sums sizes over every node a dominates, by Dominates.
func naiveRetained(tree *Tree, sizes []uint32, a Node) (uint64, uint32) {
	var s uint64
	var c uint32
	for v := range tree.Idom {
		if tree.Dominates(a, Node(v)) {
			s += uint64(sizes[v])
			c++
		}
	}
	return s, c
}

func TestRandomGraphsAgainstDataflow(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1979))
	for iter := 0; iter < 1500; iter++ {
		n := 1 + rng.IntN(60)
		density := rng.Float64() * 3
		adj := make([][]Node, n)
		for u := range adj {
			k := int(density * rng.Float64() * 2)
			for j := 0; j < k; j++ {
				v := Node(rng.IntN(n))
				if rng.IntN(3) == 0 && u+1 < n { // favour forward edges: deeper trees
					v = Node(u + 1 + rng.IntN(n-u-1))
				}
				adj[u] = append(adj[u], v)
			}
		}
		var roots []Node
		for j := rng.IntN(4); j >= 0; j-- {
			roots = append(roots, Node(rng.IntN(n)))
		}
		if rng.IntN(10) == 0 {
			roots = nil
		}
		g := fromAdj(adj, roots)
		sizes := make([]uint32, n)
		for i := range sizes {
			sizes[i] = uint32(rng.IntN(1000))
		}
		orphans := iter%2 == 1
		tree, err := Compute(g, Options{Sizes: sizes, OrphansAsRoots: orphans})
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstDataflow(t, g, orphans, tree)
		// MemoryNeeded bounds what Compute held, result included, and
		// is no loose guess: the slack is at most the predecessors of
		// nodes no root reaches and two bitmaps.
		held, need := tree.Stats.WorkBytes+16*int64(n), MemoryNeeded(n, len(g.Targets), true)
		if held > need || need-held > 4*int64(n+2+len(g.Targets))+2*8*int64((n+64)/64)+32 {
			t.Fatalf("iteration %d: Compute held %d bytes at most, MemoryNeeded says %d", iter, held, need)
		}
		// The same with the caller's reverse index, on a copy of the
		// out-edges wrecked once Compute says it no longer reads them,
		// and the reach of the first roots asked for.
		withPreds := withPredsOf(g)
		withPreds.Off, withPreds.Targets = slices.Clone(g.Off), slices.Clone(g.Targets)
		reachFrom := rng.IntN(len(roots) + 1)
		var steps []Step
		tree2, err := Compute(withPreds, Options{Sizes: sizes, OrphansAsRoots: orphans, ReachFrom: reachFrom,
			Step: func(s Step) {
				steps = append(steps, s)
				if s == StepSearch {
					for i := range withPreds.Targets {
						withPreds.Targets[i] = math.MaxUint32
					}
					for i := range withPreds.Off {
						withPreds.Off[i] = math.MaxUint32
					}
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		// With the caller's predecessors: the same bound, but for the
		// buffer PredsOf fills: at most twice its longest list, which is
		// twice the largest in-degree here (withPredsOf lists each edge
		// twice).
		indeg := make([]int, n)
		for _, v := range g.Targets {
			indeg[v]++
		}
		buf := 4 * int64(2*2*slices.Max(indeg)+8)
		if held, need := tree2.Stats.WorkBytes+16*int64(n), MemoryNeeded(n, len(g.Targets), false); held > need+buf {
			t.Fatalf("iteration %d: Compute with PredsOf held %d bytes at most, MemoryNeeded says %d (+%d for the buffer)", iter, held, need, buf)
		}
		if !slices.Equal(steps, []Step{StepSearch, StepSemi}) {
			t.Fatalf("iteration %d: steps %v", iter, steps)
		}
		if want := reachOf(g, roots[:reachFrom]); reachFrom > 0 && !slices.Equal(tree2.Reach, want) {
			t.Fatalf("iteration %d: reach of the first %d roots %x, want %x", iter, reachFrom, tree2.Reach, want)
		} else if reachFrom == 0 && tree2.Reach != nil {
			t.Fatalf("iteration %d: reach %x not asked for", iter, tree2.Reach)
		}
		sameRetained := true
		for v := 0; v < n; v++ {
			sameRetained = sameRetained && tree.Retained(Node(v)) == tree2.Retained(Node(v))
		}
		if !slices.Equal(tree.Idom, tree2.Idom) || !sameRetained || !slices.Equal(tree.Count, tree2.Count) {
			t.Fatalf("iteration %d: PredsOf changes the tree: %v, %v", iter, tree.Idom, tree2.Idom)
		}
		var total uint64
		for v := 0; v < n; v++ {
			s, c := naiveRetained(tree, sizes, Node(v))
			if tree.Retained(Node(v)) != s || tree.Count[v] != c {
				t.Fatalf("iteration %d node %d: retained %d/%d, want %d/%d", iter, v, tree.Retained(Node(v)), tree.Count[v], s, c)
			}
			if tree.Idom[v] == Root {
				total += tree.Retained(Node(v))
			}
		}
		if total != tree.TotalRetained {
			t.Fatalf("iteration %d: total %d, want %d", iter, tree.TotalRetained, total)
		}
	}
}

// TestDeepChain checks that nothing recurses: a chain of a million nodes.
func TestDeepChain(t *testing.T) {
	const n = 1 << 20
	g := Graph[Node]{Off: make([]uint32, n+1), Targets: make([]uint32, 0, n), Roots: []Node{0}}
	for u := 0; u < n; u++ {
		if u+1 < n {
			g.Targets = append(g.Targets, Node(u+1))
		}
		g.Off[u+1] = uint32(len(g.Targets))
	}
	sizes := make([]uint32, n)
	for i := range sizes {
		sizes[i] = 1
	}
	tree, err := Compute(g, Options{Sizes: sizes})
	if err != nil {
		t.Fatal(err)
	}
	if tree.Idom[n-1] != n-2 || tree.Retained(0) != n || tree.Count[1] != n-1 {
		t.Fatalf("idom %d retained %d count %d", tree.Idom[n-1], tree.Retained(0), tree.Count[1])
	}
}

// TestSignedIDs: a caller's int32 ids are used as they are; a negative one
// is an error, not a wild index.
func TestSignedIDs(t *testing.T) {
	type objectID int32
	g := Graph[objectID]{Off: []uint32{0, 2, 3, 3}, Targets: []objectID{1, 2, 2}, Roots: []objectID{0}}
	tree, err := Compute(g, Options{Sizes: []uint32{1, 10, 100}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tree.Idom, []Node{Root, 0, 0}) || tree.Retained(0) != 111 {
		t.Errorf("idom %v retained %d", tree.Idom, tree.Retained(0))
	}
	g.Targets[1] = -1
	if _, err := Compute(g, Options{}); err == nil {
		t.Error("a negative target: no error")
	}
	g.Targets[1], g.Roots[0] = 2, -5
	if _, err := Compute(g, Options{}); err == nil {
		t.Error("a negative root: no error")
	}
}
