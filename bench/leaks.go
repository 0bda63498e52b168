package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/fixtures/harness"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

// leakBench measures the leak-hunting layer on real cores: building the
// compact arrays from a census, the dominator tree with retained sizes
// (time and memory per object), and a diff of two censuses. scenarios
// name the cores (bigheap: ~2.8 M objects; hugeheap: > 15 M).
func leakBench(python string, runs int, scenarios []string) (string, error) {
	in, err := harness.Lookup(python)
	if err != nil {
		return "", err
	}
	section := fmt.Sprintf(`
## Dominator tree, retained sizes, diff — %s

- Machine: %s, %d CPUs, %s RAM; %s; CPython %s. Median of %d runs each.
- Work memory is the most the dominator computation holds at once beyond its input (the compact graph) and its result (immediate dominator, retained size and count: 16 bytes per object); the compact graph (census.Heap.Graph: forward edges, 4 bytes per object and per edge, and sizes) is the census's own, built once per census (the arrays column).
- Diff: two censuses of the same core compared object by object (the census times are not included).
- Times are wall clock, with the CPU time (user + system, all threads: the census uses every CPU, the dominator tree one) in parentheses: on a shared VM the wall clock includes waiting for a CPU.

| core | objects | edges | census | arrays | dominators + retained | work B/object | graph B/object | diff | dominators / census |
|---|---|---|---|---|---|---|---|---|---|
`, time.Now().UTC().Format("2006-01-02"), cpuModel(), runtime.NumCPU(), memTotal(), runtime.Version(), in.Version, runs)
	// Building 15 million objects takes minutes on a loaded machine.
	harness.OracleTimeout = max(harness.OracleTimeout, 20*time.Minute)
	for _, sc := range scenarios {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		fmt.Fprintf(os.Stderr, "bench: making the %s core under %s (cached after the first run)...\n", sc, in.Name)
		res, err := harness.CachedCore(ctx, in, sc, harness.Gcore)
		cancel()
		if err != nil {
			return "", err
		}
		row, err := leakBenchCore(res, runs)
		if err != nil {
			return "", fmt.Errorf("%s: %w", sc, err)
		}
		fmt.Fprint(os.Stderr, row)
		section += row
	}
	return section, nil
}

func leakBenchCore(res *harness.Result, runs int) (string, error) {
	p, err := coreread.Open(res.CorePath, coreread.Options{})
	if err != nil {
		return "", err
	}
	defer p.Close()
	var censusCPU, treeCPU, diffCPU []time.Duration
	census := func() (*pyheap.Heap, time.Duration, error) {
		rt, err := pyheap.Open(p, benchRuntimeOptions())
		if err != nil {
			return nil, 0, err
		}
		runtime.GC()
		start, cpu := time.Now(), cpuTime()
		h, err := rt.BuildHeap(pyheap.HeapOptions{})
		censusCPU = append(censusCPU, cpuTime()-cpu)
		return h, time.Since(start), err
	}
	var censusT, arraysT, treeT, diffT []time.Duration
	var g *reports.LeakGraph
	for i := 0; i < runs; i++ {
		h, ct, err := census()
		if err != nil {
			return "", err
		}
		censusT = append(censusT, ct)
		h.Size(0)
		h.Referrers(0) // sizes and the reverse index belong to the census
		g = reports.NewLeakArrays(h)
		arraysT = append(arraysT, g.ArraysTime)
		runtime.GC()
		cpu := cpuTime()
		if err := g.ComputeTree(); err != nil {
			return "", err
		}
		treeCPU = append(treeCPU, cpuTime()-cpu)
		treeT = append(treeT, g.TreeTime)
	}
	// Diff: a second census of the same core against the last one.
	h2, _, err := census()
	if err != nil {
		return "", err
	}
	h2.Size(0)
	h2.Referrers(0)
	other := reports.NewLeakArrays(h2)
	for i := 0; i < runs; i++ {
		start, cpu := time.Now(), cpuTime()
		if _, err := reports.BuildDiff(other, g, reports.DiffOptions{}); err != nil {
			return "", err
		}
		diffT = append(diffT, time.Since(start))
		diffCPU = append(diffCPU, cpuTime()-cpu)
	}
	return benchRow(res, g, censusT, arraysT, treeT, diffT, censusCPU[:runs], treeCPU, diffCPU), nil
}

// cpuTime is the CPU time (user and system) the process has used: on a
// shared machine it moves less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchRow(res *harness.Result, g *reports.LeakGraph, censusT, arraysT, treeT, diffT, censusCPU, treeCPU, diffCPU []time.Duration) string {
	n := g.H.Len()
	edges := len(g.Graph.Targets)
	graphBytes := float64(4*(n+1)+4*edges) / float64(n)
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("| %s | %d | %d | %s (CPU %s) | %s | %s (CPU %s) | %.1f | %.1f | %s (CPU %s) | %.1f (CPU %.1f) |\n",
		filepath.Base(res.CorePath), n, edges, ms(median(censusT)), ms(median(censusCPU)), ms(median(arraysT)),
		ms(median(treeT)), ms(median(treeCPU)), float64(g.Tree.Stats.WorkBytes)/float64(n), graphBytes, ms(median(diffT)), ms(median(diffCPU)),
		median(treeT).Seconds()/median(censusT).Seconds(), median(treeCPU).Seconds()/median(censusCPU).Seconds())
}
