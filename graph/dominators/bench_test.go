package dominators

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// heapLike makes a graph shaped like a Python heap: each object is held
// by a container made shortly before it (a list filled in a loop, a dict
// of records), 1 in 5 objects is also referred to by some other object
// anywhere (sharing), every object refers to one of a few hundred hubs
// (its type), and a thousand roots (modules, frames' locals).
func heapLike(n int, seed uint64) (Graph[Node], []uint32) {
	rng := rand.New(rand.NewPCG(seed, 42))
	const hubs, roots = 300, 1000
	holder := make([]uint32, n)
	deg := make([]uint32, n+1)
	for u := hubs + roots; u < n; u++ {
		back := 1 + int(rng.ExpFloat64()*50)
		if back > u-hubs {
			back = u - hubs
		}
		holder[u] = uint32(u - back)
		deg[holder[u]+1]++
	}
	for u := 0; u < n; u++ {
		deg[u+1]++ // the type edge
		if rng.IntN(5) == 0 {
			deg[u+1]++ // a shared reference
		}
	}
	// Replay the random choices of the second loop to fill the edges.
	g := Graph[Node]{Off: deg}
	for u := 1; u <= n; u++ {
		g.Off[u] += g.Off[u-1]
	}
	g.Targets = make([]uint32, g.Off[n])
	fill := append([]uint32(nil), g.Off[:n]...)
	rng2 := rand.New(rand.NewPCG(seed, 43))
	for u := 0; u < n; u++ {
		g.Targets[fill[u]] = uint32(rng2.IntN(hubs))
		fill[u]++
	}
	rng3 := rand.New(rand.NewPCG(seed, 42))
	for u := hubs + roots; u < n; u++ {
		rng3.ExpFloat64() // same sequence as the first loop
		g.Targets[fill[holder[u]]] = uint32(u)
		fill[holder[u]]++
	}
	for u := 0; u < n; u++ {
		if fill[u] < g.Off[u+1] {
			g.Targets[fill[u]] = uint32(rng.IntN(n))
			fill[u]++
		}
	}
	for r := hubs; r < hubs+roots; r++ {
		g.Roots = append(g.Roots, uint32(r))
	}
	g.Roots = append(g.Roots, 0) // the type of types
	sizes := make([]uint32, n)
	for i := range sizes {
		sizes[i] = 16 + uint32(rng.IntN(200))
	}
	return g, sizes
}

func benchCompute(b *testing.B, n int) {
	if testing.Short() && n > 5_000_000 {
		b.Skip("big graph: not with -short")
	}
	g, sizes := heapLike(n, 7)
	if err := g.Check(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var tree *Tree
	cpu := cpuTime()
	for b.Loop() {
		var err error
		if tree, err = Compute(g, Options{Sizes: sizes, OrphansAsRoots: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tree.Stats.WorkBytes)/float64(n), "work-B/node")
	b.ReportMetric(float64(len(g.Targets))/float64(n), "edges/node")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
	// On a shared machine the CPU time moves less than the wall clock.
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/node")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkCompute3M(b *testing.B) { benchCompute(b, 3_000_000) }

// BenchmarkCompute3MWithPreds: the caller has a reverse index (PredsOf).
func BenchmarkCompute3MWithPreds(b *testing.B) {
	g, sizes := heapLike(3_000_000, 7)
	off := make([]uint32, g.Len()+1)
	for _, v := range g.Targets {
		off[v+1]++
	}
	for i := 1; i < len(off); i++ {
		off[i] += off[i-1]
	}
	src := make([]uint32, len(g.Targets))
	fill := append([]uint32(nil), off[:g.Len()]...)
	for u := 0; u < g.Len(); u++ {
		for _, v := range g.Targets[g.Off[u]:g.Off[u+1]] {
			src[fill[v]] = uint32(u)
			fill[v]++
		}
	}
	g.PredsOf = func(v Node, buf []Node) []Node { return append(buf, src[off[v]:off[v+1]]...) }
	b.ResetTimer()
	var tree *Tree
	for b.Loop() {
		var err error
		if tree, err = Compute(g, Options{Sizes: sizes, OrphansAsRoots: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tree.Stats.WorkBytes)/float64(g.Len()), "work-B/node")
}
func BenchmarkCompute15M(b *testing.B) { benchCompute(b, 15_000_000) }

func TestHeapLikeIsConsistent(t *testing.T) {
	g, sizes := heapLike(5000, 1)
	tree, err := Compute(g, Options{Sizes: sizes, OrphansAsRoots: true})
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstDataflow(t, g, true, tree)
}
