// Command bench measures the heap census on a large real core and writes
// the figures to docs/benchmarks.md (make bench). It makes the core with
// the fixtures harness: fixtures/scenarios/bigheap.py, a few million
// objects, under one CPython.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/fixtures/harness"
	"github.com/pycoroner/pycoroner/pyheap"
)

func main() {
	if os.Getenv(freshMemoryEnv) != "" {
		freshMemoryMain()
	}
	python := flag.String("python", "3.12", "interpreter to build the large heap with (minor version, harness name or path)")
	runs := flag.Int("runs", 5, "census runs; the median is reported")
	out := flag.String("o", "", "append the results to this markdown file (docs/benchmarks.md)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the census runs")
	gdb := flag.Bool("gdb", true, "also compare stacks --locals with gdb's py-bt (bench/gdb.go)")
	gdbRuns := flag.Int("gdbruns", 5, "runs of each tool per core in the gdb comparison")
	gdbSid := flag.Bool("gdbsid", true, "also compare stacks --locals with gdb's py-bt on Debian sid's 3.14 and 3.15 (bench/gdbsid.go)")
	census := flag.Bool("census", true, "time the census inside one process (bench/main.go)")
	sidRuns := flag.Int("sidruns", 3, "runs of each tool on each Debian sid core in the gdb comparison (gdb takes about a minute per run there)")
	commands := flag.Bool("commands", true, "time whole heap commands, cold and warm, on the bigheap cores (bench/commands.go)")
	cmdRuns := flag.Int("cmdruns", 5, "runs of each whole command on the 2.8 M-object core")
	large := flag.Bool("large", true, "also time whole commands on the ≥ 15 M-object core (bigheap_large, about 1.2 GB, cached after the first run)")
	largeRuns := flag.Int("largeruns", 3, "runs of each whole command on the large core")
	leakCores := flag.String("leakcores", "bigheap,hugeheap", "cores for the dominator-tree and diff figures (bench/leaks.go); empty: none")
	flag.Parse()
	if *commands {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
		section, err := commandsSection(ctx, *python, *cmdRuns, *large, *largeRuns)
		cancel()
		if err == nil {
			fmt.Print(section)
			err = appendTo(*out, section)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: whole commands:", err)
			os.Exit(1)
		}
	}
	if *census {
		if err := run(*python, *runs, *out, *cpuprofile); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if *leakCores != "" {
		section, err := leakBench(*python, *runs, strings.Split(*leakCores, ","))
		if err == nil {
			fmt.Print(section)
			err = appendTo(*out, section)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: leaks:", err)
			os.Exit(1)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	for _, c := range []struct {
		on   bool
		what string
		make func() (string, error)
	}{
		{*gdb, "gdb comparison", func() (string, error) { return gdbComparison(ctx, *gdbRuns) }},
		{*gdbSid, "gdb comparison on Debian sid", func() (string, error) { return sidGDBComparison(ctx, *sidRuns) }},
		{*gdb, "native stacks against gdb", func() (string, error) { return nativeComparison(ctx, *gdbRuns) }},
	} {
		if !c.on {
			continue
		}
		section, err := c.make()
		if err == nil {
			fmt.Print(section)
			err = appendTo(*out, section)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", c.what, err)
			os.Exit(1)
		}
	}
	if err := writeReport(*out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(python string, runs int, out, cpuprofile string) error {
	in, err := harness.Lookup(python)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	fmt.Fprintf(os.Stderr, "bench: making the bigheap core under %s (cached after the first run)...\n", in.Name)
	res, err := harness.CachedCore(ctx, in, "bigheap", harness.Gcore)
	if err != nil {
		return err
	}
	st, err := os.Stat(res.CorePath)
	if err != nil {
		return err
	}
	// The yardstick: reading the core once from the page cache.
	for i := 0; i < 2; i++ {
		if _, err := readAll(res.CorePath); err != nil {
			return err
		}
	}
	p, err := coreread.Open(res.CorePath, coreread.Options{})
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := pyheap.Open(p, benchRuntimeOptions()); err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	// Reads of the core alternate with census runs, so that both see the
	// same machine (a shared VM's speed drifts); medians are compared.
	loadBefore := loadAverage()
	var times, cpuTimes, readTimes []time.Duration
	var phases [][3]time.Duration
	var h *pyheap.Heap
	for i := 0; i < runs; i++ {
		rt2, err := pyheap.Open(p, benchRuntimeOptions()) // a cold runtime: no cached types or codes
		if err != nil {
			return err
		}
		rd, err := readAll(res.CorePath)
		if err != nil {
			return err
		}
		readTimes = append(readTimes, rd)
		runtime.GC()
		start, cpuStart := time.Now(), cpuTime()
		h, err = rt2.BuildHeap(pyheap.HeapOptions{})
		if err != nil {
			return err
		}
		times = append(times, time.Since(start))
		cpuTimes = append(cpuTimes, cpuTime()-cpuStart)
		phases = append(phases, h.Stats.Phases)
	}
	// The phases of the median run.
	order := make([]int, len(times))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return times[order[i]] < times[order[j]] })
	ph := phases[order[len(order)/2]]
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	sort.Slice(readTimes, func(i, j int) bool { return readTimes[i] < readTimes[j] })
	readTime := readTimes[len(readTimes)/2]
	sizeStart, sizeCPU := time.Now(), cpuTime()
	h.Size(0) // sizes are computed for all objects on first use
	sizeTime, sizeCPU := time.Since(sizeStart), cpuTime()-sizeCPU
	indexBytes := float64(h.IndexBytes()) / float64(h.Len())
	revStart, revCPU := time.Now(), cpuTime()
	h.Referrers(0) // the reverse index is built on first use
	revTime, revCPU := time.Since(revStart), cpuTime()-revCPU
	withReverse := float64(h.IndexBytes()) / float64(h.Len())
	med := times[len(times)/2]
	cpuRuns := slices.Clone(cpuTimes)
	slices.Sort(cpuTimes)
	medCPU := cpuTimes[len(cpuTimes)/2]
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	n := h.Len()
	var users int64
	for i := 0; i < n; i++ {
		if h.Type(pyheap.ObjectID(i)).Name == "BigUser" {
			users++
		}
	}
	want := 0
	var m struct {
		ClassCounts map[string]int `json:"class_counts"`
	}
	if err := res.Oracle.DecodeMarkers(&m); err == nil {
		want = m.ClassCounts["BigUser"]
	}
	if int(users) != want {
		return fmt.Errorf("census found %d BigUser objects, the process counted %d", users, want)
	}
	report := fmt.Sprintf(`
## Heap census inside one process — %s

- Machine: %s, %d CPUs, %s RAM; %s; CPython %s (%s)
- Core: %s of %.0f MB (fixtures/scenarios/bigheap.py, gcore), %d objects (%d GC-tracked), %d edges
- Reading the core once from the page cache ("cat core > /dev/null", after two warm-up reads; median of %d, one before each census run): %v (%.0f MB/s)

| measure | value | target |
|---|---|---|
| census time (median of %d; CPU time, all threads) | %v (CPU %v) | |
| … GC lists and roots / visiting every object / layout by address | %v / %v / %v | |
| shallow sizes of every object, on first use (histogram) | %v (CPU %v) | |
| reverse index, on first use (refs, path, grep) | %v (CPU %v) | |
| objects per second | %.1f M | ≥ 5 M |
| census time / read time | %.1f | ≤ 10 (aim ≤ 3) |
| index bytes per object (census; with the reverse index) | %.1f; %.1f | ≤ 40 |
| Go heap in use after the runs | %.0f MB (%.0f bytes/object) | |
| peak RSS (includes the mmapped core pages touched) | %.0f MB | |

All runs: %v (CPU %v). Load average (1 min) before and after the runs: %s, %s. The census checked itself against the process: %d BigUser objects, as gc.get_objects() counted.
`, time.Now().UTC().Format("2006-01-02"), cpuModel(), runtime.NumCPU(), memTotal(), runtime.Version(), res.Oracle.PythonVersion, in.Name,
		filepath.Base(res.CorePath), float64(st.Size())/1e6, n, h.Stats.GCTracked, h.Stats.Edges,
		len(readTimes), readTime.Round(time.Millisecond), float64(st.Size())/1e6/readTime.Seconds(),
		runs, med.Round(time.Millisecond), medCPU.Round(time.Millisecond), ph[0].Round(time.Millisecond), ph[1].Round(time.Millisecond), ph[2].Round(time.Millisecond),
		sizeTime.Round(time.Millisecond), sizeCPU.Round(time.Millisecond), revTime.Round(time.Millisecond), revCPU.Round(time.Millisecond), float64(n)/med.Seconds()/1e6, med.Seconds()/readTime.Seconds(),
		indexBytes, withReverse, float64(ms.HeapInuse)/1e6, float64(ms.HeapInuse)/float64(n),
		float64(ru.Maxrss)/1024, times, cpuRuns, loadBefore, loadAverage(), users)
	fmt.Print(report)
	return appendTo(out, report)
}

// readAll times `cat core > /dev/null`, the yardstick the census is
// measured against.
func readAll(path string) (time.Duration, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command("cat", path)
	cmd.Stdout = devnull
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("cat %s: %w", path, err)
	}
	return time.Since(start), nil
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	data, _ := os.ReadFile("/proc/meminfo")
	var kb int64
	fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(data), "\n", 2)[0], "MemTotal:"), "%d", &kb)
	return fmt.Sprintf("%.0f GB", float64(kb)/1e6)
}

// benchRuntimeOptions is what the CLI uses by default: layouts read from
// DWARF come from the layout cache. Without it every run parses DWARF
// again, and the garbage it leaves makes the collector run during the
// census being timed (the census looked 50% slower than before
// the cache became an option).
func benchRuntimeOptions() pyheap.Options {
	var opts pyheap.Options
	if base, err := os.UserCacheDir(); err == nil {
		opts.LayoutCacheDir = filepath.Join(base, "pycoroner", "layouts")
	}
	return opts
}
