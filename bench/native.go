package main

// Native stacks against gdb's own: `thread apply all bt` against `pycoroner
// stacks --native` on a crash core of every interpreter, alternating.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// nativeComparison times gdb's bt and stacks --native on the abort core of
// every interpreter and returns the markdown section.
func nativeComparison(ctx context.Context, runs int) (string, error) {
	bin, err := buildPycoroner()
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	var b strings.Builder
	fmt.Fprintf(&b, "\n## stacks --native against gdb's bt — %s\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs, %s RAM; %s\n", cpuModel(), runtime.NumCPU(), memTotal(), gdbVersion())
	fmt.Fprintf(&b, "- gdb: `gdb -batch -nx -ex 'thread apply all bt' python core`; pycoroner: `stacks --native core` (C frames named from DWARF, Python frames merged). Abort cores of the threads scenario, 7 threads.\n")
	fmt.Fprintf(&b, "- Each pair run %d times, alternating; medians, after a warm-up run of each.\n\n", runs)
	b.WriteString("| CPython | gdb bt | pycoroner stacks --native | ratio | pycoroner stacks |\n|---|---|---|---|---|\n")
	for _, in := range harness.FindInterpreters() {
		res, err := harness.CachedCore(ctx, in, "threads", harness.Abort)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "bench: native stacks under %s...\n", in.Name)
		gdbCmd := []string{"gdb", "-batch", "-nx", "-ex", "set debuginfod enabled off", "-ex", "thread apply all bt", in.Path, res.CorePath}
		ours := []string{bin, "stacks", "--native", res.CorePath}
		plain := []string{bin, "stacks", res.CorePath}
		for _, cmd := range [][]string{gdbCmd, ours} {
			out, _, err := runTimed(ctx, cmd)
			if err != nil {
				return "", err
			}
			if !bytes.Contains(out, []byte("abort")) {
				return "", fmt.Errorf("%s shows no abort frame:\n%s", filepath.Base(cmd[0]), tail(out))
			}
		}
		var g, p, s []time.Duration
		for i := 0; i < runs; i++ {
			for _, step := range []struct {
				cmd []string
				out *[]time.Duration
			}{{gdbCmd, &g}, {ours, &p}, {plain, &s}} {
				_, d, err := runTimed(ctx, step.cmd)
				if err != nil {
					return "", err
				}
				*step.out = append(*step.out, d)
			}
		}
		gm, pm, sm := median(g), median(p), median(s)
		ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", d.Seconds()*1000) }
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f× | %s |\n", in.Name, ms(gm), ms(pm), gm.Seconds()/pm.Seconds(), ms(sm))
	}
	b.WriteString("\nratio = gdb's median / pycoroner's median. Most of `--native`'s time is reading the DWARF of libpython and of libc's separate debug file, once per run.\n")
	return b.String(), nil
}
