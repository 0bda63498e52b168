package main

// The whole-command benchmark: what a user waits for. Each heap command
// runs as a fresh process of the built binary, cold (an empty index
// cache: the census is taken and the index saved) and warm (the index
// saved by an earlier run is mapped), alternating with `cat core` so that
// both see the same machine; medians are compared. Peak RSS comes from
// wait4's rusage of each child.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// indexDirEnv is the variable cmd/pycoroner reads for the index cache
// directory; each cold run gets a fresh one.
const indexDirEnv = "PYCORONER_INDEX_DIR"

// commandCase is one command line, CORE standing for the core's path.
type commandCase struct {
	name string
	args []string
	// noIndex: the command saves no index (histogram --no-index takes a
	// tally, the census's walk alone): it has no warm run.
	noIndex bool
}

// commandTiming is what the runs of one command measured.
type commandTiming struct {
	name                 string
	cold, warm           time.Duration // medians
	coldCPU, warmCPU     time.Duration // user+sys, medians
	coldRSS, warmRSS     int64         // bytes, the largest seen
	coldRuns, warmRuns   []time.Duration
	coldFailed, warmFail string
	noIndex              bool
}

// coreTiming is the whole-command table for one core.
type coreTiming struct {
	label    string
	core     string
	coreSize int64
	objects  int
	read     time.Duration // median of the cat runs
	readCPU  time.Duration // its user+sys, median
	reads    []time.Duration
	readCPUs []time.Duration
	// fresh: 1 GB of memory never touched before, written (freshmem.go)
	fresh, freshCPU time.Duration
	// touch: every page of the core read through a new mapping (freshmem.go)
	touch, touchCPU time.Duration
	commands        []commandTiming
}

// buildBinary builds cmd/pycoroner into dir.
func buildBinary(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "pycoroner")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/pycoroner")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/pycoroner: %w", err)
	}
	return bin, nil
}

// runResult is one child process's figures.
type runResult struct {
	wall, cpu time.Duration
	maxRSS    int64
	stdout    []byte
}

// runCommand runs bin with args and the index cache in indexDir.
func runCommand(ctx context.Context, bin, indexDir string, args []string) (runResult, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), indexDirEnv+"="+indexDir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return runResult{}, fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, firstLine(errb.String()))
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := runResult{wall: wall, stdout: out.Bytes()}
	if ru != nil {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.maxRSS = ru.Maxrss * 1024
	}
	return r, nil
}

// catTimed times `cat core > /dev/null`, wall and CPU.
func catTimed(path string) (runResult, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return runResult{}, err
	}
	defer devnull.Close()
	cmd := exec.Command("cat", path)
	cmd.Stdout = devnull
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return runResult{}, fmt.Errorf("cat %s: %w", path, err)
	}
	r := runResult{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// benchCommands times the heap commands on one core. target is an
// expression for refs and path; pattern a regexp for grep.
func benchCommands(ctx context.Context, bin, label string, res *harness.Result, pattern string, runs int) (*coreTiming, error) {
	st, err := os.Stat(res.CorePath)
	if err != nil {
		return nil, err
	}
	ct := &coreTiming{label: label, core: res.CorePath, coreSize: st.Size()}
	scratch, err := os.MkdirTemp("", "pycoroner-bench-index-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	warmDir := filepath.Join(scratch, "warm")
	for i := 0; i < 2; i++ {
		if _, err := readAll(res.CorePath); err != nil {
			return nil, err
		}
	}
	// Setup: the object count, and an object deep in the heap for refs
	// and path (the str grep finds), from the first (cold) run.
	r, err := runCommand(ctx, bin, warmDir, []string{"histogram", "--top", "0", "--json", res.CorePath})
	if err != nil {
		return nil, err
	}
	var rows struct {
		Result []struct {
			Count int `json:"count"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.stdout, &rows); err != nil {
		return nil, fmt.Errorf("histogram --json: %w", err)
	}
	for _, row := range rows.Result {
		ct.objects += row.Count
	}
	r, err = runCommand(ctx, bin, warmDir, []string{"grep", "--json", res.CorePath, pattern})
	if err != nil {
		return nil, err
	}
	var matches struct {
		Result []struct {
			Address string `json:"address"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.stdout, &matches); err != nil || len(matches.Result) == 0 {
		return nil, fmt.Errorf("grep %q found no str to aim refs and path at (%v)", pattern, err)
	}
	target := matches.Result[0].Address
	// The leak commands' dominator tree is saved by the first of them.
	if _, err := runCommand(ctx, bin, warmDir, []string{"leaks", "--json", res.CorePath}); err != nil {
		return nil, err
	}
	cases := []commandCase{
		{name: "histogram", args: []string{"histogram", res.CorePath}},
		{name: "refs", args: []string{"refs", res.CorePath, target}},
		{name: "path", args: []string{"path", res.CorePath, target}},
		{name: "grep", args: []string{"grep", res.CorePath, pattern}},
		{name: "show", args: []string{"show", res.CorePath, target}},
		{name: "retained", args: []string{"retained", res.CorePath, target}},
		{name: "leaks", args: []string{"leaks", res.CorePath}},
		{name: "top", args: []string{"top", res.CorePath}},
		{name: "top --retained", args: []string{"top", "--retained", res.CorePath}},
		{name: "top --by type", args: []string{"top", "--by", "type", "--retained", res.CorePath}},
		{name: "instances", args: []string{"instances", res.CorePath, "BigUser"}},
		// What any census costs at least on this machine: its walk
		// without its arrays, nothing saved (a tally).
		{name: "histogram --no-index", args: []string{"--no-index", "histogram", res.CorePath}, noIndex: true},
	}
	ct.commands = make([]commandTiming, len(cases))
	for i, c := range cases {
		ct.commands[i].name = c.name
		ct.commands[i].noIndex = c.noIndex
	}
	cpu := make([][2][]time.Duration, len(cases))
	for run := 0; run < runs; run++ {
		cat, err := catTimed(res.CorePath)
		if err != nil {
			return nil, err
		}
		rd := cat.wall
		ct.reads = append(ct.reads, rd)
		ct.readCPUs = append(ct.readCPUs, cat.cpu)
		for i, c := range cases {
			ctm := &ct.commands[i]
			coldDir := filepath.Join(scratch, fmt.Sprintf("cold-%d-%d", run, i))
			cold, err := runCommand(ctx, bin, coldDir, c.args)
			os.RemoveAll(coldDir)
			if err != nil {
				return nil, err
			}
			warm := cold
			if !c.noIndex {
				if warm, err = runCommand(ctx, bin, warmDir, c.args); err != nil {
					return nil, err
				}
			}
			ctm.coldRuns = append(ctm.coldRuns, cold.wall)
			ctm.warmRuns = append(ctm.warmRuns, warm.wall)
			cpu[i][0] = append(cpu[i][0], cold.cpu)
			cpu[i][1] = append(cpu[i][1], warm.cpu)
			ctm.coldRSS = max(ctm.coldRSS, cold.maxRSS)
			ctm.warmRSS = max(ctm.warmRSS, warm.maxRSS)
			fmt.Fprintf(os.Stderr, "bench: %s %s run %d: cold %v, warm %v (cat %v)\n", label, ctm.name, run+1, cold.wall.Round(time.Millisecond), warm.wall.Round(time.Millisecond), rd.Round(time.Millisecond))
		}
	}
	ct.read, ct.readCPU = median(ct.reads), median(ct.readCPUs)
	fresh, touch, err := freshMemoryChild(ct.core)
	if err != nil {
		return nil, fmt.Errorf("fresh memory: %w", err)
	}
	ct.fresh, ct.freshCPU, ct.touch, ct.touchCPU = fresh[0], fresh[1], touch[0], touch[1]
	for i := range ct.commands {
		ctm := &ct.commands[i]
		ctm.cold, ctm.warm = median(ctm.coldRuns), median(ctm.warmRuns)
		ctm.coldCPU, ctm.warmCPU = median(cpu[i][0]), median(cpu[i][1])
	}
	return ct, nil
}

// markdown renders the table of one core.
func (ct *coreTiming) markdown(firstTarget, laterTarget float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### %s: %s, %.0f MB, %.1f M objects\n\n", ct.label, filepath.Base(ct.core), float64(ct.coreSize)/1e6, float64(ct.objects)/1e6)
	fmt.Fprintf(&b, "`cat core > /dev/null` (page cache): %v wall, %v CPU; medians of %d, one before each round of commands. Writing 1 GB of memory never touched before (freshmem.go): %v wall, %v CPU. Reading every page of the core through a new mapping, one CPU (what a process that maps the core pays once): %v wall, %v CPU.\n\n", ct.read.Round(time.Millisecond), ct.readCPU.Round(time.Millisecond), len(ct.reads), ct.fresh.Round(time.Millisecond), ct.freshCPU.Round(time.Millisecond), ct.touch.Round(time.Millisecond), ct.touchCPU.Round(time.Millisecond))
	fmt.Fprintf(&b, "| command | cold (no index) | × cat | warm (index saved) | × cat | CPU cold / warm | CPU × cat's, cold / warm | peak RSS cold / warm | beyond the core, bytes/object cold / warm |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range ct.commands {
		perObject := func(rss int64) float64 { return float64(rss-ct.coreSize) / float64(max(ct.objects, 1)) }
		if c.noIndex {
			fmt.Fprintf(&b, "| %s | %v | %.1f× | (saves no index) | | %v | %.1f× | %.0f MB | %.0f |\n", c.name,
				c.cold.Round(time.Millisecond), ratio(c.cold, ct.read), c.coldCPU.Round(time.Millisecond), ratio(c.coldCPU, ct.readCPU),
				float64(c.coldRSS)/1e6, perObject(c.coldRSS))
			continue
		}
		fmt.Fprintf(&b, "| %s | %v | %.1f× | %v | %.2f× | %v / %v | %.1f× / %.2f× | %.0f / %.0f MB | %.0f / %.0f |\n", c.name,
			c.cold.Round(time.Millisecond), ratio(c.cold, ct.read), c.warm.Round(time.Millisecond), ratio(c.warm, ct.read),
			c.coldCPU.Round(time.Millisecond), c.warmCPU.Round(time.Millisecond), ratio(c.coldCPU, ct.readCPU), ratio(c.warmCPU, ct.readCPU),
			float64(c.coldRSS)/1e6, float64(c.warmRSS)/1e6, perObject(c.coldRSS), perObject(c.warmRSS))
	}
	fmt.Fprintf(&b, "\n`histogram --no-index` counts without a census (a tally: the census's walk, no per-object arrays, nothing saved): the least any census costs here.\n")
	fmt.Fprintf(&b, "\nTargets: first query ≤ %.0f× the read, later ones ≤ %.1f×; peak RSS ≤ core size + 40 bytes/object. A warm command touches only the core pages it reads, so its RSS is below the core's size (a negative figure beyond it).\n", firstTarget, laterTarget)
	return b.String()
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return a.Seconds() / b.Seconds()
}

// commandsSection times whole commands on the bigheap core and, when
// large, on the bigheap_large core, and renders both tables with the
// machine and the date.
func commandsSection(ctx context.Context, python string, runs int, large bool, largeRuns int) (string, error) {
	in, err := harness.Lookup(python)
	if err != nil {
		return "", err
	}
	binDir, err := os.MkdirTemp("", "pycoroner-bench-bin-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(binDir)
	bin, err := buildBinary(ctx, binDir)
	if err != nil {
		return "", err
	}
	type coreCase struct {
		scenario, label string
		runs            int
		first, later    float64
	}
	cases := []coreCase{{"bigheap", "2.8 M objects (bigheap)", runs, 3, 0.5}}
	if large {
		cases = append(cases, coreCase{"bigheap_large", "≥ 15 M objects (bigheap_large, 3 M records)", largeRuns, 4, 0.5})
	}
	var b strings.Builder
	loadBefore := loadAverage()
	fmt.Fprintf(&b, "\n## Whole commands, fresh processes — %s\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs, %s RAM; %s; CPython %s\n", cpuModel(), runtime.NumCPU(), memTotal(), runtime.Version(), in.Name)
	fmt.Fprintf(&b, "- Each command is a new process of the built binary; cold: an empty index cache, so the census is taken (and the index saved); warm: the index an earlier run saved. Medians; peak RSS from wait4 (it counts the core's pages the process touched through its mapping).\n")
	for _, c := range cases {
		fmt.Fprintf(os.Stderr, "bench: making the %s core under %s (cached after the first run; the large one takes minutes)...\n", c.scenario, in.Name)
		res, err := harness.CachedCore(ctx, in, c.scenario, harness.Gcore)
		if err != nil {
			return "", err
		}
		ct, err := benchCommands(ctx, bin, c.label, res, `^user39999@example\.com$`, c.runs)
		if err != nil {
			return "", fmt.Errorf("%s: %w", c.scenario, err)
		}
		b.WriteString(ct.markdown(c.first, c.later))
	}
	fmt.Fprintf(&b, "\nLoad average (1 min) before and after: %s, %s on %d CPUs: the machine is shared, so wall times are what they were then; CPU times depend less on the neighbours.\n", loadBefore, loadAverage(), runtime.NumCPU())
	return b.String(), nil
}

// loadAverage is the 1-minute load average, as /proc/loadavg says.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
