package main

// The comparison with the tool people use today: gdb with CPython's own
// extension (python3.X-gdb.py, which pyenv installs next to each
// interpreter), `thread apply all py-bt`, against `pycoroner stacks
// --locals` on the same cores, alternating the two.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// largeScript blocks in a few frames while holding about 1.1 GB: two
// million small objects and a filled buffer.
const largeScript = `import sys, threading
def hold(objs, blob):
    ready = threading.Event()
    print("ready", flush=True)
    ready.wait()  # BLOCK-HERE
def build():
    objs = [("item-%d" % i, i, float(i)) for i in range(2_000_000)]
    blob = bytearray(b"pycoroner") * (100 << 20)
    hold(objs, blob)
build()
`

// benchCore is one core of the comparison.
type benchCore struct {
	name, path string
	interp     harness.Interpreter
}

// timing is the median of one command on one core.
type timing struct {
	median time.Duration
	all    []time.Duration
}

// gdbComparison times both tools on a small core of each pyenv CPython
// and on a large core, and returns the markdown section.
func gdbComparison(ctx context.Context, runs int) (string, error) {
	if _, err := exec.LookPath("gdb"); err != nil {
		return "", errors.New("gdb is not installed (apt-get install gdb)")
	}
	bin, err := buildPycoroner()
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	var cores []benchCore
	for _, in := range harness.FindInterpreters() {
		if !strings.HasPrefix(in.Name, "pyenv-") || gdbScript(in) == "" {
			continue
		}
		res, err := harness.CachedCore(ctx, in, "threads", harness.Gcore)
		if err != nil {
			return "", err
		}
		cores = append(cores, benchCore{"threads (small)", res.CorePath, in})
	}
	if len(cores) == 0 {
		return "", errors.New("no pyenv CPython with its python3.X-gdb.py found")
	}
	largeIn := cores[len(cores)-1].interp
	for _, c := range cores {
		if c.interp.Minor == "3.12" {
			largeIn = c.interp
		}
	}
	big, err := largeCore(ctx, largeIn)
	if err != nil {
		return "", err
	}
	cores = append(cores, benchCore{"large (≥ 1 GB)", big, largeIn})

	var b strings.Builder
	fmt.Fprintf(&b, "\n## pycoroner against gdb — %s\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs, %s RAM; %s\n", cpuModel(), runtime.NumCPU(), memTotal(), gdbVersion())
	fmt.Fprintf(&b, "- gdb: `gdb -batch -nx -ex 'source python3.X-gdb.py' -ex 'thread apply all py-bt' python core`; pycoroner: `stacks --locals core`\n")
	fmt.Fprintf(&b, "- Each pair run %d times, alternating; medians. Both read the core from the page cache (a warm-up run of each first).\n\n", runs)
	b.WriteString("| core | CPython | size | gdb py-bt | pycoroner stacks --locals | ratio | same with --no-dwarf | ratio | pycoroner stacks |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range cores {
		fmt.Fprintf(os.Stderr, "bench: %s under %s...\n", c.name, c.interp.Name)
		row, err := compareOn(ctx, bin, c, runs)
		if err != nil {
			return "", fmt.Errorf("%s (%s): %w", c.name, c.interp.Name, err)
		}
		b.WriteString(row)
	}
	b.WriteString("\nratio = gdb's median / pycoroner's median. `--no-dwarf` reads the layout from the committed tables instead of the binary's DWARF (pyenv builds carry DWARF, and reading it is most of pycoroner's time); the last column is `stacks` without locals.\n")
	return b.String(), nil
}

// compareOn times both tools on one core and returns its table row.
func compareOn(ctx context.Context, bin string, c benchCore, runs int) (string, error) {
	st, err := os.Stat(c.path)
	if err != nil {
		return "", err
	}
	gdbArgs := []string{"-batch", "-nx", "-ex", "source " + gdbScript(c.interp), "-ex", "thread apply all py-bt", c.interp.Path, c.path}
	ours := []string{"stacks", "--locals", c.path}
	// Warm-up, and a check that both tools see the Python frames.
	for _, cmd := range [][]string{append([]string{"gdb"}, gdbArgs...), append([]string{bin}, ours...)} {
		out, _, err := runTimed(ctx, cmd)
		if err != nil {
			return "", err
		}
		if !bytes.Contains(out, []byte("BLOCK-HERE")) && !bytes.Contains(out, []byte("ready.wait()")) && !bytes.Contains(out, []byte("main_block")) {
			return "", fmt.Errorf("%s shows no Python frame of the program:\n%s", filepath.Base(cmd[0]), tail(out))
		}
	}
	var g, p, nd, plain []time.Duration
	for i := 0; i < runs; i++ {
		for _, step := range []struct {
			cmd []string
			out *[]time.Duration
		}{{append([]string{"gdb"}, gdbArgs...), &g}, {append([]string{bin}, ours...), &p},
			{[]string{bin, "stacks", "--locals", "--no-dwarf", c.path}, &nd}, {[]string{bin, "stacks", c.path}, &plain}} {
			_, d, err := runTimed(ctx, step.cmd)
			if err != nil {
				return "", err
			}
			*step.out = append(*step.out, d)
		}
	}
	gm, pm, nm, sm := median(g), median(p), median(nd), median(plain)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", d.Seconds()*1000) }
	return fmt.Sprintf("| %s | %s | %.0f MB | %s | %s | %.1f× | %s | %.1f× | %s |\n", c.name, c.interp.Version, float64(st.Size())/1e6,
		ms(gm), ms(pm), gm.Seconds()/pm.Seconds(), ms(nm), gm.Seconds()/nm.Seconds(), ms(sm)), nil
}

func runTimed(ctx context.Context, cmd []string) ([]byte, time.Duration, error) {
	out, wall, _, err := runTimedCPU(ctx, cmd)
	return out, wall, err
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// gdbScript finds the python3.X-gdb.py installed with the interpreter.
func gdbScript(in harness.Interpreter) string {
	name := "python" + in.Minor + "-gdb.py"
	for _, p := range []string{filepath.Join(filepath.Dir(in.Path), name), filepath.Join(filepath.Dir(in.LibPython), name)} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(in.Path)), "lib", "*", name))
	if len(m) > 0 {
		return m[0]
	}
	return ""
}

func gdbVersion() string {
	out, err := exec.Command("gdb", "--version").Output()
	if err != nil {
		return "gdb ?"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}

func buildPycoroner() (string, error) {
	dir, err := os.MkdirTemp("", "pycoroner-bench")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pycoroner")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/pycoroner").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pycoroner: %v\n%s", err, out)
	}
	return bin, nil
}

// largeCore makes (once; it is kept in the temporary directory, outside
// the repository) a gcore of largeScript under in.
func largeCore(ctx context.Context, in harness.Interpreter) (string, error) {
	dir := filepath.Join(os.TempDir(), "pycoroner-bench")
	core := filepath.Join(dir, "large-"+in.Name+".core")
	if st, err := os.Stat(core); err == nil && st.Size() >= 1<<30 {
		return core, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	script := filepath.Join(dir, "large.py")
	if err := os.WriteFile(script, []byte(largeScript), 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench: making a large core under %s (once)...\n", in.Name)
	cmd := exec.CommandContext(ctx, in.Path, "-B", script)
	cmd.Env = append(os.Environ(), "MALLOC_ARENA_MAX=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	buf := make([]byte, 16)
	if n, err := stdout.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "ready") {
		return "", fmt.Errorf("large.py did not get ready: %v", err)
	}
	gcore, err := harness.GcorePath()
	if err != nil {
		return "", err
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	prefix := filepath.Join(dir, "tmp")
	if out, err := exec.CommandContext(ctx, gcore, "-o", prefix, pid).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcore: %v\n%s", err, tail(out))
	}
	if err := os.Rename(prefix+"."+pid, core); err != nil {
		return "", err
	}
	if st, err := os.Stat(core); err != nil || st.Size() < 1<<30 {
		return "", fmt.Errorf("the large core is smaller than 1 GB (%v)", err)
	}
	return core, nil
}
