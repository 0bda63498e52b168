package main

// The comparison with gdb on the CPython builds distributions ship today:
// Debian sid's 3.14 and 3.15 (scripts/sid-pythons.sh), stripped. gdb reads
// them with the debug files and the python3.X-gdb.py that Debian's
// python3.X-dbg package carries (fetched here through the same private apt
// as the interpreters, and unpacked into a folder of the bench's own: the
// gdb extension is not among what scripts/sid-pythons.sh --dbg keeps).
// pycoroner reads these builds' layouts from its own tables, as users
// without debug files would. The cores are the
// kernel's crash cores of the threads scenario: gdb 13 cannot read the
// thread stacks of sid's gcore cores (docs/limits.md).

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

// sidGDBMinors are the sid builds compared.
var sidGDBMinors = []string{"3.14", "3.15"}

// sidGDBComparison times gdb's py-bt and pycoroner's stacks --locals on a
// crash core of each sid build, and counts the Python frames each shows.
func sidGDBComparison(ctx context.Context, runs int) (string, error) {
	var ins []harness.Interpreter
	for _, in := range harness.FindInterpreters() {
		for _, m := range sidGDBMinors {
			if in.Origin == "debian-sid" && in.Minor == m {
				ins = append(ins, in)
			}
		}
	}
	if len(ins) == 0 {
		return "", fmt.Errorf("no Debian sid CPython %v found (scripts/sid-pythons.sh)", sidGDBMinors)
	}
	bin, err := buildPycoroner()
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	var b strings.Builder
	notes := ""
	fmt.Fprintf(&b, "\n## pycoroner against gdb on Debian sid's builds — %s\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "- Machine: %s, %d CPUs, %s RAM; %s; load average (1 min) %s at the start\n", cpuModel(), runtime.NumCPU(), memTotal(), gdbVersion(), loadAverage())
	b.WriteString("- Cores: the kernel's core of the threads scenario crashing (segv) under Debian sid's stripped builds. gdb: `gdb -batch -nx -iex 'set debug-file-directory DBG/usr/lib/debug' -ex 'source DBG/…/python3.X-gdb.py' -ex 'thread apply all py-bt' python core`, DBG being python3.X-dbg unpacked (its build-id debug files cover the stripped build); pycoroner: `stacks --locals core`, its layouts from its own tables (no DWARF).\n")
	fmt.Fprintf(&b, "- Each pair run %d times, alternating; medians of wall and CPU time (user + system). Python frames: what each tool printed (gdb: `File \"…\"` lines; pycoroner: Python frames of its JSON).\n\n", runs)
	b.WriteString("| CPython | core | gdb py-bt | CPU | Python frames | pycoroner stacks --locals | CPU | Python frames | wall ratio |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, in := range ins {
		fmt.Fprintf(os.Stderr, "bench: gdb against pycoroner on %s...\n", in.Name)
		row, note, err := sidCompareOn(ctx, bin, in, runs)
		if err != nil {
			return "", fmt.Errorf("%s: %w", in.Name, err)
		}
		b.WriteString(row)
		notes += note
	}
	b.WriteString("\nratio = gdb's median wall time / pycoroner's.\n" + notes)
	return b.String(), nil
}

// sidCompareOn is one row: in's crash core, both tools.
func sidCompareOn(ctx context.Context, bin string, in harness.Interpreter, runs int) (row, note string, err error) {
	dbg, err := sidDebugFiles(ctx, in)
	if err != nil {
		return "", "", err
	}
	res, err := harness.CachedCore(ctx, in, "threads", harness.Segv)
	if err != nil {
		return "", "", err
	}
	script := filepath.Join(dbg, "usr/share/gdb/auto-load/usr/bin", "python"+in.Minor+"-gdb.py")
	gdb := []string{"gdb", "-batch", "-nx", "-iex", "set debug-file-directory " + filepath.Join(dbg, "usr/lib/debug"),
		"-ex", "source " + script, "-ex", "thread apply all py-bt", in.Path, res.CorePath}
	ours := []string{bin, "stacks", "--locals", res.CorePath}
	// Warm-up, and what each shows.
	gout, _, _, err := runTimedCPU(ctx, gdb)
	if err != nil {
		return "", "", err
	}
	gFrames := bytes.Count(gout, []byte("\n  File \""))
	unread := bytes.Count(gout, []byte("unable to read python frame information"))
	jout, _, _, err := runTimedCPU(ctx, []string{bin, "stacks", "--json", res.CorePath})
	if err != nil {
		return "", "", err
	}
	pFrames, err := pythonFrames(jout)
	if err != nil {
		return "", "", err
	}
	var gw, gc, pw, pc []time.Duration
	for i := 0; i < runs; i++ {
		_, w, c, err := runTimedCPU(ctx, gdb)
		if err != nil {
			return "", "", err
		}
		gw, gc = append(gw, w), append(gc, c)
		if _, w, c, err = runTimedCPU(ctx, ours); err != nil {
			return "", "", err
		}
		pw, pc = append(pw, w), append(pc, c)
	}
	st, err := os.Stat(res.CorePath)
	if err != nil {
		return "", "", err
	}
	gFramesText := fmt.Sprint(gFrames)
	if unread > 0 {
		gFramesText = fmt.Sprintf("%d (%d \"unable to read python frame information\")", gFrames, unread)
		note = fmt.Sprintf("\n%s: gdb's py-bt finds the threads and the evaluation loop's C frames but prints \"unable to read python frame information\" for each of them, with the build's debug files loaded.\n", in.Name)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", d.Seconds()*1000) }
	row = fmt.Sprintf("| %s (%s) | %s, %.0f MB | %s | %s | %s | %s | %s | %d | %.0f× |\n", in.Version, in.Name, filepath.Base(res.CorePath), float64(st.Size())/1e6,
		ms(median(gw)), ms(median(gc)), gFramesText, ms(median(pw)), ms(median(pc)), pFrames, median(gw).Seconds()/median(pw).Seconds())
	return row, note, nil
}

// pythonFrames counts the Python frames of a stacks --json answer.
func pythonFrames(out []byte) (int, error) {
	var st struct {
		Threads []struct {
			Frames []struct {
				Kind string `json:"kind"`
			} `json:"frames"`
		} `json:"threads"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return 0, fmt.Errorf("stacks --json: %w", err)
	}
	n := 0
	for _, t := range st.Threads {
		for _, f := range t.Frames {
			if f.Kind == "python" {
				n++
			}
		}
	}
	return n, nil
}

// runTimedCPU runs cmd and returns its output, wall time and CPU time.
func runTimedCPU(ctx context.Context, cmd []string) ([]byte, time.Duration, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	start := time.Now()
	err := c.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, wall, 0, fmt.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, tail(out.Bytes()))
	}
	var cpu time.Duration
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return out.Bytes(), wall, cpu, nil
}

// sidDebugFiles returns a folder holding Debian's python3.X-dbg of the very
// version of in's build, unpacked (fetched once, then kept in the user
// cache): its usr/lib/debug has the stripped build's debug files by
// build-id, its usr/share/gdb the gdb extension.
func sidDebugFiles(ctx context.Context, in harness.Interpreter) (string, error) {
	root := filepath.Dir(filepath.Dir(filepath.Dir(in.Path))) // ROOT/usr/bin/python3.X
	pkg := "python" + in.Minor + "-dbg"
	version := ""
	data, err := os.ReadFile(filepath.Join(root, "dbg-packages.txt"))
	if err != nil {
		return "", fmt.Errorf("%s names no debug packages: %w", root, err)
	}
	for _, line := range strings.Fields(string(data)) {
		if v, ok := strings.CutPrefix(line, pkg+"_"); ok {
			version = strings.ReplaceAll(v, "%3a", ":")
		}
	}
	if version == "" {
		return "", fmt.Errorf("%s/dbg-packages.txt names no %s", root, pkg)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "pycoroner-bench", "sid-dbg", pkg+"_"+version)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	fmt.Fprintf(os.Stderr, "bench: fetching %s %s for gdb (once)...\n", pkg, version)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "fetch")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	get := exec.CommandContext(ctx, "apt-get", "-q", "-o", "Dir::Cache::archives="+tmp, "download", pkg+"="+version)
	get.Dir = tmp
	get.Env = append(os.Environ(), "APT_CONFIG="+root+".apt/apt.conf")
	if out, err := get.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download %s=%s (sid moved on? scripts/sid-pythons.sh --force): %v\n%s", pkg, version, err, tail(out))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s left %d packages", pkg, len(debs))
	}
	os.RemoveAll(dir)
	if out, err := exec.CommandContext(ctx, "dpkg", "-x", debs[0], dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg -x %s: %v\n%s", debs[0], err, out)
	}
	return dir, os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644)
}
