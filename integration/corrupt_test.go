package integration

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/fixtures/harness"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// The corrupted-core corpus: real cores of the threads scenario, damaged
// the ways cores reaching a forensic tool are damaged, run through every
// command. Every run must finish within corruptBudget, never print a Go
// panic, exit 0 when it could say something useful (and then print what
// it could) and otherwise exit 1 with a one-line error.

// corruptBudget bounds a hang, not a speed: a busy 2-core CI machine must
// never fail a correct answer for being slow (speed lives in make bench).
const corruptBudget = time.Minute

// coreFacts locates, in a clean core, what the corruptions aim at.
type coreFacts struct {
	raw      []byte
	segs     []coreread.Segment
	notes    [2]uint64 // file offset and size of the first PT_NOTE
	L        *layout.Layout
	rtAddr   uint64
	interp   uint64
	victim   pyheap.ThreadState // a worker thread the corruptions aim at
	keep     []uint64           // what finding the threads needs: thread states, sys and modules dicts
	upTo     int                // thread states from the list head to the victim, inclusive
	frames   []pyheap.Frame     // its frames, innermost first
	gcAddr   uint64             // the gc state
	object   string             // the address of a local, for refs/path/show
	typeType uint64             // PyType_Type, by symbol
	codeType uint64             // PyCode_Type, by symbol
}

// factsOf reads a clean core with the packages themselves.
func factsOf(t *testing.T, core string) *coreFacts {
	t.Helper()
	raw, err := os.ReadFile(core)
	if err != nil {
		t.Fatal(err)
	}
	p, rt := openRuntime(t, core)
	cf := &coreFacts{raw: raw, segs: p.Segments(), L: rt.L, rtAddr: rt.Addr}
	le := bin.LittleEndian
	phoff, phnum := le.Uint64(raw[32:]), uint64(le.Uint16(raw[56:]))
	for i := uint64(0); i < phnum; i++ {
		if ph := raw[phoff+i*56:]; le.Uint32(ph) == 4 {
			cf.notes = [2]uint64{le.Uint64(ph[8:]), le.Uint64(ph[32:])}
			break
		}
	}
	interps, err := rt.Interpreters()
	if err != nil || len(interps) == 0 {
		t.Fatalf("interpreters: %v", err)
	}
	cf.interp = interps[0].Addr
	names := rt.ThreadNames(interps[0])
	states, _ := rt.ThreadStates(interps[0])
	cf.keep = append(cf.keep, interps[0].Sysdict, interps[0].Modules)
	for i, ts := range states {
		cf.keep = append(cf.keep, ts.Addr)
		if names[ts.ThreadID] == "worker-scalars" {
			cf.upTo = len(states) - i // the list runs newest first
			cf.victim = ts
			cf.frames, _ = rt.Frames(ts)
			for _, l := range cf.frames[0].Locals {
				cf.object = fmt.Sprintf("0x%x", l.Value)
			}
		}
	}
	if len(cf.frames) < 3 || cf.object == "" {
		t.Fatalf("worker-scalars not found with its frames in %s", core)
	}
	if sym, ok := p.LookupSymbol("PyType_Type"); ok {
		cf.typeType = sym.Addr
	}
	if sym, ok := p.LookupSymbol("PyCode_Type"); ok {
		cf.codeType = sym.Addr
	}
	cf.gcAddr = cf.interp + uint64(rt.L.InterpGC)
	if rt.L.InterpGC < 0 {
		cf.gcAddr = rt.Addr + uint64(rt.L.RuntimeGC)
	}
	return cf
}

// offset is the file offset of a core address.
func (cf *coreFacts) offset(t *testing.T, addr uint64) uint64 {
	for _, s := range cf.segs {
		if addr >= s.Vaddr && addr-s.Vaddr < s.Filesz {
			return s.Off + addr - s.Vaddr
		}
	}
	t.Fatalf("0x%x is not in the core", addr)
	return 0
}

// put writes a word at a core address of a copy of the core.
// word reads a pointer from the intact core.
func (cf *coreFacts) word(t *testing.T, addr uint64) uint64 {
	return bin.LittleEndian.Uint64(cf.raw[cf.offset(t, addr):])
}

func (cf *coreFacts) put(t *testing.T, b []byte, addr, val uint64) {
	bin.LittleEndian.PutUint64(b[cf.offset(t, addr):], val)
}

// memoryRange is where the segments' data starts and ends in the file.
func (cf *coreFacts) memoryRange() (lo, hi uint64) {
	lo = ^uint64(0)
	for _, s := range cf.segs {
		if s.Filesz > 0 {
			lo, hi = min(lo, s.Off), max(hi, s.Off+s.Filesz)
		}
	}
	return lo, hi
}

const garbage = 0x4141414141414140 // aligned, in no mapping

// corruption damages a copy of a clean core.
type corruption struct {
	name string
	make func(t *testing.T, cf *coreFacts) []byte
	// What `stacks --locals` must do: its exit code, what its output (or
	// one-line error) must and must not contain, how many threads it
	// prints (-1: any).
	stacksCode int
	want       []string
	wantNot    []string
	threads    int // threads stacks must print: a count, or one of the constants below
	// histWant is what `histogram` must say, when it exits 0.
	histWant []string
	// pending names a known bug (and where it is to be fixed) that keeps
	// the stacks expectations from holding on the interpreters in
	// pendingOn (all when empty): they are then skipped, and once they
	// hold the test fails until the note is removed. The invariants
	// every run owes a user are checked regardless.
	pending   string
	pendingOn []string
}

func corruptions() []corruption {
	clone := func(cf *coreFacts) []byte { return bytes.Clone(cf.raw) }
	cut := func(frac float64) func(*testing.T, *coreFacts) []byte {
		return func(_ *testing.T, cf *coreFacts) []byte {
			lo, hi := cf.memoryRange()
			return cf.raw[:lo+uint64(float64(hi-lo)*frac)&^4095]
		}
	}
	const bogus = "0x41414141414141" // the garbage, as error messages print it
	return []corruption{
		// gcore writes the notes last: half of them lose NT_FILE, so the
		// files behind the image and their symbols.
		// gcore writes the notes last: cut there, every thread's memory is
		// still in the file and the runtime is found by a scan.
		{name: "truncated in the notes", make: func(_ *testing.T, cf *coreFacts) []byte {
			return cf.raw[:cf.notes[0]+cf.notes[1]/2]
		}, stacksCode: 0, want: []string{"truncated", "worker-scalars"}, threads: -1},
		{name: "truncated after the interpreter state", make: func(t *testing.T, cf *coreFacts) []byte {
			end := uint64(0)
			// Keep what finding the runtime needs: the runtime, the
			// interpreter, a thread state, and the sys and modules dicts;
			// and what the victim's frames need (the frames, their code
			// objects and names), wherever this core's allocator put
			// them: CI's new cores had them past a cut that kept less.
			keep := []uint64{cf.rtAddr, cf.interp, cf.victim.Addr}
			for _, off := range []layout.Offset{cf.L.InterpSysdict, cf.L.InterpModules} {
				if d := cf.word(t, off.Add(cf.interp)); d != 0 {
					keep = append(keep, d)
				}
			}
			for _, f := range cf.frames {
				keep = append(keep, f.Addr, f.Code)
				for _, off := range []layout.Offset{cf.L.CodeName, cf.L.CodeFilename} {
					if s := cf.word(t, off.Add(f.Code)); s != 0 {
						keep = append(keep, s)
					}
				}
			}
			for _, a := range keep {
				for _, s := range cf.segs {
					if a >= s.Vaddr && a-s.Vaddr < s.Filesz {
						end = max(end, s.Off+s.Filesz)
					}
				}
			}
			cutAt := min(end+4096, uint64(len(cf.raw)))
			t.Logf("cut after the interpreter state and the victim's frames: %.0f%% of the core kept", 100*float64(cutAt)/float64(len(cf.raw)))
			return cf.raw[:cutAt]
		}, stacksCode: 0, want: []string{"truncated", victimFrame}, threads: -1},
		{name: "truncated at 50% of memory", make: cut(0.5), stacksCode: 1, want: []string{"truncated"}, threads: -1},
		{name: "truncated at 10% of memory", make: cut(0.1), stacksCode: 1, want: []string{"truncated"}, threads: -1},
		{name: "random pages zeroed", make: func(t *testing.T, cf *coreFacts) []byte {
			b := clone(cf)
			// Zero pages at random, but not the ones that lead to the threads:
			// then every thread must still be printed.
			keep := map[uint64]bool{}
			// The interpreter state spans many pages in newer versions:
			// keep the ones holding the fields that lead to the threads.
			for _, a := range []uint64{cf.rtAddr + uint64(cf.L.RuntimeInterpretersHead), cf.interp + uint64(cf.L.InterpTstateHead),
				cf.interp + uint64(cf.L.InterpSysdict), cf.interp + uint64(cf.L.InterpModules)} {
				keep[cf.offset(t, a)&^4095] = true
			}
			for _, a := range cf.keep {
				keep[cf.offset(t, a)&^4095] = true
				keep[(cf.offset(t, a)+512)&^4095] = true // a struct may cross a page
			}
			r := rand.New(rand.NewPCG(5, 5))
			lo, hi := cf.memoryRange()
			for i := 0; i < int(hi-lo)/4096/20; i++ {
				pg := (lo + r.Uint64N(hi-lo)) &^ 4095
				if pg >= lo && !keep[pg] { // never the headers or the notes
					clear(b[pg:min(pg+4096, hi)])
				}
			}
			return b
		}, stacksCode: 0, threads: allThreads},
		// Every type's type is PyType_Type: a damaged copy of it must not
		// make every code object, and so every frame, unreadable.
		{name: "PyType_Type's page zeroed", make: typePageZeroed("PyType_Type", func(cf *coreFacts) uint64 { return cf.typeType }),
			stacksCode: 0, want: []string{"main_block", "scalars_leaf"}, threads: allThreads},
		// Every frame executes a code object: a damaged PyCode_Type must
		// not make every frame of every thread unreadable.
		{name: "PyCode_Type's page zeroed", make: typePageZeroed("PyCode_Type", func(cf *coreFacts) uint64 { return cf.codeType }),
			stacksCode: 0, want: []string{"main_block", "scalars_leaf"}, threads: allThreads},
		{name: "interpreter's thread list overwritten", make: func(t *testing.T, cf *coreFacts) []byte {
			b := clone(cf)
			cf.put(t, b, cf.interp+uint64(cf.L.InterpTstateHead), garbage)
			return b
		}, stacksCode: 1, want: []string{bogus}, threads: 0},
		{name: "thread state's next overwritten", make: func(t *testing.T, cf *coreFacts) []byte {
			b := clone(cf)
			cf.put(t, b, cf.victim.Addr+uint64(cf.L.TstateNext), garbage)
			return b
		}, stacksCode: 0, want: []string{"worker-scalars", "warning: ", bogus}, wantNot: []string{"Thread 0\n"}, threads: upToVictim},
		{name: "thread state's frame pointer overwritten", make: func(t *testing.T, cf *coreFacts) []byte {
			b := clone(cf)
			for _, off := range []layout.Offset{cf.L.TstateFrame, cf.L.TstateCframe, cf.L.TstateCurrentFrame} {
				if off.Has() {
					cf.put(t, b, off.Add(cf.victim.Addr), garbage)
					break
				}
			}
			return b
		}, stacksCode: 0, want: []string{"worker-scalars", "! ", bogus, "main_block"}, threads: allThreads},
		{name: "frame chain made cyclic", make: func(t *testing.T, cf *coreFacts) []byte {
			b := clone(cf)
			back := cf.L.IFramePrevious
			if cf.L.FrameBack >= 0 && cf.L.TstateFrame >= 0 {
				back = cf.L.FrameBack
			}
			cf.put(t, b, cf.frames[1].Addr+uint64(back), cf.frames[0].Addr)
			return b
		}, stacksCode: 0, want: []string{"scalars_leaf", "loops", "main_block"}, threads: allThreads},
		{name: "died mid-GC", make: func(t *testing.T, cf *coreFacts) []byte {
			b := clone(cf)
			cf.put(t, b, cf.gcAddr+uint64(cf.L.GCCollecting), 1)
			head := cf.gcAddr + uint64(cf.L.GCGenerations) + uint64(cf.L.GCGenerationHead)
			cf.put(t, b, head, garbage) // generation 0's list is broken
			return b
		}, stacksCode: 0, want: []string{"main_block"}, threads: allThreads, histWant: []string{"collecting"}},
	}
}

// commands are run on every corrupted core; obj is an object address.
func commands(core, obj string) [][]string {
	return [][]string{
		{"info", core},
		{"stacks", "--locals", core},
		{"stacks", "--locals", "--json", core},
		{"histogram", core},
		{"histogram", "--json", core},
		{"modules", core},
		{"syspath", core},
		{"grep", core, "worker"},
		{"refs", core, obj},
		{"path", core, obj},
		{"show", core, obj},
	}
}

// bounded runs the binary and fails on a Go panic or a run longer than
// corruptBudget.
func bounded(t *testing.T, args ...string) (result, time.Duration) {
	t.Helper()
	return boundedEnv(t, nil, args...)
}

// boundedEnv is bounded with more environment variables.
func boundedEnv(t *testing.T, env []string, args ...string) (result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), corruptBudget)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("pycoroner %s: still running after %v", strings.Join(args, " "), corruptBudget)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(errb.Bytes(), []byte("goroutine ")) || bytes.Contains(errb.Bytes(), []byte("panic")) || bytes.Contains(errb.Bytes(), []byte("internal error")) {
		t.Fatalf("pycoroner %s: a panic:\n%s", strings.Join(args, " "), errb.Bytes())
	}
	return result{out.Bytes(), errb.Bytes(), code}, took
}

// checkRun asserts what every command owes a user on any core: exit 0
// with output, or exit 1 with one line that starts with "pycoroner:".
func checkRun(t *testing.T, args []string, r result) {
	t.Helper()
	name := strings.Join(args[:len(args)-1], " ")
	switch r.code {
	case 0:
		if len(bytes.TrimSpace(r.stdout)) == 0 {
			t.Errorf("%s: exit 0 with nothing printed", name)
		}
	case 1:
		lines := strings.Split(strings.TrimSpace(string(r.stderr)), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "pycoroner: ") {
			t.Errorf("%s: exit 1 without a one-line error: %q", name, r.stderr)
		}
	default:
		t.Errorf("%s: exit %d; stderr %s", name, r.code, r.stderr)
	}
}

// corpusInterpreters picks one interpreter per layout family: 3.8 (frame
// objects), Debian's stripped 3.11, 3.12 and 3.13.
func corpusInterpreters(t *testing.T) []harness.Interpreter {
	var out []harness.Interpreter
	for _, want := range []string{"3.8", "debian-3.11", "3.12", "3.13"} {
		for _, in := range interpreters(t) {
			if in.Name == want || in.Minor == want && strings.HasPrefix(in.Name, "pyenv-") {
				out = append(out, in)
				break
			}
		}
	}
	return out
}

func TestCorruptedCores(t *testing.T) {
	for _, in := range corpusInterpreters(t) {
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			res := cachedCore(t, in, "threads", harness.Gcore)
			cf := factsOf(t, res.CorePath)
			for _, c := range corruptions() {
				t.Run(c.name, func(t *testing.T) {
					dir := t.TempDir()
					if keep := os.Getenv("PYCORONER_KEEP_CORPUS"); keep != "" { // to look at them by hand
						dir = filepath.Join(keep, in.Name, strings.ReplaceAll(c.name, " ", "-"))
						os.MkdirAll(dir, 0o755)
					}
					core := filepath.Join(dir, "core")
					if err := os.WriteFile(core, c.make(t, cf), 0o644); err != nil {
						t.Fatal(err)
					}
					var problems []string
					var histogram result
					for _, args := range commands(core, cf.object) {
						r, took := bounded(t, args...)
						if args[0] == "histogram" && len(args) == 2 {
							histogram = r
						}
						if args[0] == "histogram" && len(args) == 3 && r.code == 0 {
							// A census known to miss objects says so in JSON too.
							var rows []any
							env, err := unwrap(r.stdout, &rows)
							switch {
							case err != nil:
								t.Errorf("histogram --json: %v\n%s", err, r.stdout)
							case len(c.histWant) > 0 && *env.Complete:
								t.Errorf("histogram --json says complete, want the census's %q:\n%s", c.histWant, r.stdout)
							}
						}
						checkRun(t, args, r)
						t.Logf("%-28s exit %d in %5dms: %s", strings.Join(args[:len(args)-1], " "), r.code, took.Milliseconds(), summary(r))
						if args[0] == "stacks" && len(args) == 3 {
							problems = stacksProblems(c, r, len(res.Oracle.Threads), cf)
						}
						if args[0] == "histogram" && len(args) == 2 && r.code == 0 {
							for _, want := range c.histWant {
								if !bytes.Contains(append(r.stdout, r.stderr...), []byte(want)) {
									t.Errorf("histogram does not say %q:\n%s%s", want, r.stdout, r.stderr)
								}
							}
						}
						if args[0] == "info" && r.code != 0 {
							t.Errorf("info exited %d: %s", r.code, r.stderr)
						}
					}
					reportStacks(t, c, in.Name, problems)
					// These cores are too small for the census to split itself
					// among CPUs: force it, and it must say the same. Not from
					// the index the first histogram saved: a census.
					split, _ := boundedEnv(t, []string{"PYCORONER_CENSUS_WORKERS=3"}, "--no-index", "histogram", core)
					took := regexp.MustCompile(` in [0-9.]+[µmn]?s\b`)
					if split.code != histogram.code || took.ReplaceAllString(string(split.stdout), "") != took.ReplaceAllString(string(histogram.stdout), "") {
						t.Errorf("histogram with 3 census workers differs from one worker (exit %d, %d):\n%s\n--- one worker:\n%s",
							split.code, histogram.code, split.stdout, histogram.stdout)
					}
				})
			}
		})
	}
}

// typePageZeroed zeroes the page holding a static type's flags, the type
// found by its symbol (addr gives its address, 0 when there is none).
func typePageZeroed(symbol string, addr func(*coreFacts) uint64) func(*testing.T, *coreFacts) []byte {
	return func(t *testing.T, cf *coreFacts) []byte {
		if addr(cf) == 0 {
			t.Skipf("no %s symbol", symbol)
		}
		b := bytes.Clone(cf.raw)
		off := cf.offset(t, addr(cf)+uint64(cf.L.TypeFlags)) &^ 4095
		clear(b[off : off+4096])
		return b
	}
}

// stacksProblems lists where `stacks --locals` falls short of the case's
// expectations.
func stacksProblems(c corruption, r result, oracleThreads int, cf *coreFacts) []string {
	var out []string
	if r.code != c.stacksCode {
		out = append(out, fmt.Sprintf("exited %d, want %d", r.code, c.stacksCode))
	}
	all := string(r.stdout) + string(r.stderr)
	upTo := cf.upTo
	for _, want := range c.want {
		if want == victimFrame {
			want = cf.frames[0].Function
		}
		if !strings.Contains(all, want) {
			out = append(out, fmt.Sprintf("does not say %q", want))
		}
	}
	for _, bad := range c.wantNot {
		if strings.Contains(all, bad) {
			out = append(out, fmt.Sprintf("says %q", bad))
		}
	}
	want := c.threads
	switch want {
	case allThreads:
		want = oracleThreads
	case upToVictim:
		want = upTo
	}
	if n := strings.Count("\n"+string(r.stdout), "\nThread "); want >= 0 && n != want {
		out = append(out, fmt.Sprintf("printed %d threads, want %d", n, want))
	}
	if len(out) > 0 {
		out = append(out, "output:\n"+all)
	}
	return out
}

// Thread counts that depend on the process, not typed by hand: every
// thread the oracle lists, or those the thread list reaches up to and
// including the victim whose link is broken; -1 skips the check.
const (
	allThreads = -2
	upToVictim = -3
)

// victimFrame in a case's want stands for the innermost function of the
// victim thread, as the clean core gives it.
const (
	victimFrame = "<the victim's innermost function>"
)

// reportStacks fails on the problems, or skips when a pending fix
// explains them.
func reportStacks(t *testing.T, c corruption, interp string, problems []string) {
	t.Helper()
	pending := c.pending != "" && (len(c.pendingOn) == 0 || slices.Contains(c.pendingOn, interp))
	switch {
	case pending && len(problems) > 0:
		t.Skipf("KNOWN BUG, pending a fix: %s\nstacks --locals %s", c.pending, strings.Join(problems, "; "))
	case pending:
		t.Errorf("stacks --locals now meets its expectations: remove the pending note (%s)", c.pending)
	case len(problems) > 0:
		t.Errorf("stacks --locals %s", strings.Join(problems, "; "))
	}
}

// summary is the first line of what a run printed, for the log.
func summary(r result) string {
	s := strings.TrimSpace(string(r.stderr))
	if r.code == 0 {
		s = strings.TrimSpace(string(r.stdout))
	}
	first, _, _ := strings.Cut(s, "\n")
	if len(first) > 110 {
		first = first[:110] + "…"
	}
	return first
}

// Cores of processes that are not Python: every command says so.
func TestNonPythonCores(t *testing.T) {
	gcore, err := harness.GcorePath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, prog := range [][]string{{"sleep", "60"}, {"bash", "-c", "sleep 60"}} {
		t.Run(prog[0], func(t *testing.T) {
			cmd := exec.Command(prog[0], prog[1:]...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			time.Sleep(100 * time.Millisecond)
			prefix := filepath.Join(t.TempDir(), prog[0])
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if out, err := exec.CommandContext(ctx, gcore, "-o", prefix, strconv.Itoa(cmd.Process.Pid)).CombinedOutput(); err != nil {
				t.Fatalf("gcore: %v\n%s", err, out)
			}
			core := prefix + "." + strconv.Itoa(cmd.Process.Pid)
			for _, args := range commands(core, "0x1000") {
				r, took := bounded(t, args...)
				checkRun(t, args, r)
				t.Logf("%-28s exit %d in %5dms: %s", strings.Join(args[:len(args)-1], " "), r.code, took.Milliseconds(), summary(r))
				want := 1
				if args[0] == "info" {
					want = 0
				}
				if r.code != want || !strings.Contains(string(r.stdout)+string(r.stderr), "no CPython") {
					t.Errorf("%s: exit %d (want %d), does not say there is no CPython: %s%s", args[0], r.code, want, r.stdout, r.stderr)
				}
			}
		})
	}
}

// Files the core names are opened only inside --sysroot, and only when
// they are regular files: a symlink out of the sysroot is refused, and a
// FIFO (which blocks open(2) until a writer comes) must not hang the tool.
func TestHostileFilesBehindTheCore(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	p, err := coreread.Open(core, coreread.Options{Sysroot: sysroot})
	if err != nil {
		t.Fatal(err)
	}
	var lib string
	for _, f := range p.Files() {
		if !f.IsExe && strings.Contains(f.Path, "libc.so") {
			lib = f.Path
		}
	}
	p.Close()
	if lib == "" {
		t.Fatal("the golden core maps no libc")
	}
	dst := filepath.Join(sysroot, lib)
	os.MkdirAll(filepath.Dir(dst), 0o755)

	t.Run("symlink out of the sysroot", func(t *testing.T) {
		os.Remove(dst)
		if err := os.Symlink("/bin/sh", dst); err != nil {
			t.Fatal(err)
		}
		r, _ := bounded(t, "info", "--json", "--sysroot", sysroot, core)
		if r.code != 0 || !bytes.Contains(r.stdout, []byte(`"status": "outside-sysroot"`)) || !bytes.Contains(r.stdout, []byte("resolves outside --sysroot")) {
			t.Errorf("info: exit %d, no outside-sysroot status for %s:\n%s", r.code, lib, r.stdout)
		}
	})
	t.Run("FIFO", func(t *testing.T) {
		os.Remove(dst)
		if err := unix.Mkfifo(dst, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, binary, "info", "--sysroot", sysroot, core).CombinedOutput()
		// A FIFO named by NT_FILE must not block: it is refused as not a
		// regular file, and info goes on.
		if ctx.Err() != nil {
			t.Fatalf("info still running after a minute on a core that names a FIFO")
		}
		if err != nil || !bytes.Contains(out, []byte("not a regular file")) {
			t.Errorf("info on a FIFO: %v\n%s", err, out)
		}
	})
}
