package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// nativeModes are the cores the native unwinder is checked on: a snapshot
// (every thread blocked in a C lock), os.abort(), a crash in C through
// ctypes, a segfault inside a C accelerator (_json's encoder), and the
// ctypes crash with faulthandler on (the core is dumped from its signal
// handler, on its alternate stack, through the kernel's signal frame).
var nativeModes = []harness.Mode{harness.Gcore, harness.Abort, harness.Segv, harness.SegvAccel, harness.FaulthandlerSegv}

// TestNativeStacksMatchGDB compares `stacks --native` with gdb's
// `thread apply all bt` on the same cores of every interpreter: every
// frame gdb names, inlined functions included, must be named the same, in
// the same order, thread by thread. gdb's _PyEval_EvalFrameDefault frames
// are where pycoroner shows Python frames instead: both sides show a run
// of them, or of Python frames, as one pythonFrames mark, so the Python
// frames must sit where gdb has the evaluation loop. A frame gdb cannot
// name (??) may be named by pycoroner; one pycoroner shows Python frames
// for instead (a stripped build's _PyEval_EvalFrameDefault.cold, no
// symbol of which gdb has) is taken as an evaluation-loop frame.
func TestNativeStacksMatchGDB(t *testing.T) {
	if _, err := exec.LookPath("gdb"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gdb is not installed (apt-get install gdb)")
		}
		t.Skip("gdb is not installed")
	}
	forEachCoreMode(t, "threads", nativeModes, func(t *testing.T, res *harness.Result) {
		want := gdbBacktraces(t, res)
		got := nativeStacksOf(t, res.CorePath)
		if len(want) == 0 {
			t.Fatal("gdb printed no threads")
		}
		named := 0
		defer func() {
			t.Logf("%s %s: %d threads, %d frames named by gdb", res.Interp.Name, res.Mode, len(want), named)
		}()
		for tid, gdbFrames := range want {
			for _, f := range gdbFrames {
				if f.name != "??" {
					named++
				}
			}
			ours, ok := got.byTID[tid]
			if !ok {
				t.Errorf("LWP %d: gdb has it, stacks --native does not", tid)
				continue
			}
			var gdbNames []string
			for _, f := range gdbFrames {
				name := f.name
				if name == "??" && f.pc != 0 && !got.pcs[tid][f.pc] {
					name = "_PyEval_EvalFrameDefault" // see the doc comment
				}
				gdbNames = append(gdbNames, name)
			}
			g, o := markEvalLoop(gdbNames), markEvalLoop(ours)
			if !sameNames(g, o) {
				t.Errorf("LWP %d: frames differ\n gdb:        %s\n pycoroner:  %s", tid, strings.Join(g, " < "), strings.Join(o, " < "))
			}
		}
		if res.Mode != harness.Gcore {
			if got.crashed == 0 {
				t.Errorf("no thread is marked crashed")
			} else if got.crashed != gdbCrashed(t, res) {
				t.Errorf("crashed thread %d; gdb's current thread is %d", got.crashed, gdbCrashed(t, res))
			}
		}
	})
}

// pythonFrames stands for a run of Python frames or of evaluation-loop
// frames in a list of names.
const pythonFrames = "<Python frames>"

// markEvalLoop replaces each run of evaluation-loop frames and Python
// frames by one pythonFrames.
func markEvalLoop(names []string) []string {
	var out []string
	for _, n := range names {
		if n == "_PyEval_EvalFrameDefault" || n == "_PyEval_EvalFrameDefault.cold" {
			n = pythonFrames
		}
		if n == pythonFrames && len(out) > 0 && out[len(out)-1] == pythonFrames {
			continue
		}
		out = append(out, n)
	}
	return out
}

func sameNames(gdb, ours []string) bool {
	if len(gdb) != len(ours) {
		return false
	}
	for i := range gdb {
		if gdb[i] != "??" && gdb[i] != ours[i] {
			return false
		}
	}
	return true
}

type nativeStacks struct {
	byTID   map[int][]string
	pcs     map[int]map[uint64]bool // each thread's native frames' pcs
	crashed int
}

// nativeStacksOf runs `stacks --native --json` and lists each thread's
// native frame names ("??" for an unnamed one) and pythonFrames where it
// has Python frames, innermost first.
func nativeStacksOf(t *testing.T, core string) nativeStacks {
	t.Helper()
	r := pycoroner(t, "stacks", "--native", "--json", core)
	if r.code != 0 {
		t.Fatalf("stacks --native exited %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Threads []struct {
			NativeThreadID *int `json:"native_thread_id"`
			Crashed        bool `json:"crashed"`
			Frames         []struct {
				Kind        string `json:"kind"`
				Function    string `json:"function"`
				PC          string `json:"pc"`
				SignalFrame bool   `json:"signal_frame"`
			} `json:"frames"`
		} `json:"threads"`
	}
	if err := json.Unmarshal(r.stdout, &doc); err != nil {
		t.Fatalf("stacks --native --json: %v", err)
	}
	out := nativeStacks{byTID: map[int][]string{}, pcs: map[int]map[uint64]bool{}}
	for _, th := range doc.Threads {
		if th.NativeThreadID == nil {
			continue
		}
		names := []string{}
		pcs := map[uint64]bool{}
		for _, f := range th.Frames {
			if f.Kind != "native" {
				names = append(names, pythonFrames)
				continue
			}
			if f.PC == "" {
				t.Errorf("native frame %q has no pc", f.Function)
			}
			if pc, err := strconv.ParseUint(strings.TrimPrefix(f.PC, "0x"), 16, 64); err == nil {
				pcs[pc] = true
			}
			name := f.Function
			switch {
			case f.SignalFrame:
				name = gdbSignalFrame
			case name == "":
				name = "??"
			}
			names = append(names, name)
		}
		out.byTID[*th.NativeThreadID] = names
		out.pcs[*th.NativeThreadID] = pcs
		if th.Crashed {
			out.crashed = *th.NativeThreadID
		}
	}
	return out
}

// gdbSignalFrame is how gdb's bt shows the kernel's signal trampoline.
const gdbSignalFrame = "<signal handler called>"

var (
	gdbSignalRe = regexp.MustCompile(`^#\d+\s+<signal handler called>`)
	gdbThreadRe = regexp.MustCompile(`^Thread \d+ \((?:Thread 0x[0-9a-f]+ )?\(?LWP (\d+)\)`)
	gdbFrameRe  = regexp.MustCompile(`^#\d+\s+(?:0x([0-9a-f]+) in )?(\S+) \(`)
	gdbCurrent  = regexp.MustCompile(`\[Current thread is \d+ \((?:Thread 0x[0-9a-f]+ )?\(?LWP (\d+)\)`)
)

// gdbFrame is a frame of gdb's bt: its name, and its pc (0 for the
// innermost, printed without one).
type gdbFrame struct {
	name string
	pc   uint64
}

// gdbBacktraces runs gdb's `thread apply all bt` on the core (once: the
// answer is kept beside the cached core) and returns each LWP's frames,
// innermost first.
func gdbBacktraces(t *testing.T, res *harness.Result) map[int][]gdbFrame {
	t.Helper()
	out := gdbOutput(t, res)
	threads := map[int][]gdbFrame{}
	cur := -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gdbThreadRe.FindStringSubmatch(line); m != nil {
			cur, _ = strconv.Atoi(m[1])
			threads[cur] = []gdbFrame{}
			continue
		}
		if gdbSignalRe.MatchString(line) && cur >= 0 {
			threads[cur] = append(threads[cur], gdbFrame{name: gdbSignalFrame})
			continue
		}
		if m := gdbFrameRe.FindStringSubmatch(line); m != nil && cur >= 0 {
			pc, _ := strconv.ParseUint(m[1], 16, 64) // "" for the innermost: 0
			threads[cur] = append(threads[cur], gdbFrame{name: m[2], pc: pc})
		}
	}
	return threads
}

func gdbCrashed(t *testing.T, res *harness.Result) int {
	if m := gdbCurrent.FindSubmatch(gdbOutput(t, res)); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	return -1
}

func gdbOutput(t *testing.T, res *harness.Result) []byte {
	t.Helper()
	// v2: gdb reads the debug files pycoroner reads (below).
	cache := res.CorePath + ".gdb-bt.v2.txt"
	if out, err := os.ReadFile(cache); err == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"-batch", "-nx", "-ex", "set debuginfod enabled off", "-ex", "set pagination off"}
	if res.Interp.Origin == "debian-sid" {
		// pycoroner finds the debug files of sid's glibc and python
		// (libc6-dbg, python3.X-dbg) under the tree they were unpacked
		// into; gdb only where it is told, before it loads the files
		// (-iex: -ex runs after).
		args = append(args, "-iex", "set debug-file-directory "+filepath.Join(harness.SidRoot(), "usr/lib/debug")+":/usr/lib/debug")
	}
	args = append(args, "-ex", "thread apply all bt", res.Interp.Path, res.CorePath)
	cmd := exec.CommandContext(ctx, "gdb", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	tmp := fmt.Sprintf("%s.%d", cache, os.Getpid())
	if os.WriteFile(tmp, out, 0o644) == nil {
		os.Rename(tmp, cache)
	}
	return out
}

// TestNativeSameWithKeptDWARF: sid's builds take their DWARF from
// python3.X-dbg's compressed debug files. The first `stacks --native`
// inflates it and keeps it in the index cache, the next maps it back,
// and both answer as --no-index does (which keeps nothing).
func TestNativeSameWithKeptDWARF(t *testing.T) {
	var sid *harness.Interpreter
	for _, in := range interpreters(t) {
		if in.Origin == "debian-sid" {
			sid = &in
			break
		}
	}
	if sid == nil {
		skipOrFail(t, "no Debian sid interpreter (scripts/sid-pythons.sh)")
	}
	res := cachedCore(t, *sid, "threads", harness.Segv)
	dir := t.TempDir()
	args := []string{"stacks", "--native", "--json", res.CorePath}
	plain := runIndexed(t, dir, append([]string{"--no-index"}, args...)...)
	if plain.code != 0 || strings.Contains(string(plain.stderr), "index:") {
		t.Fatalf("--no-index: exit %d, or the cache used: %s", plain.code, plain.stderr)
	}
	for _, run := range []struct{ name, said string }{{"first", "index: kept the DWARF of "}, {"again", "index: loaded the DWARF of "}} {
		r := runIndexed(t, dir, args...)
		if r.code != 0 || !bytes.Equal(r.stdout, plain.stdout) {
			t.Errorf("%s run: exit %d, answer differs from --no-index:\n%s\n--- without the cache:\n%s\nstderr: %s", run.name, r.code, r.stdout, plain.stdout, r.stderr)
		}
		if !strings.Contains(string(r.stderr), run.said) {
			t.Errorf("%s run: stderr does not say %q: %s", run.name, run.said, r.stderr)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "dwarf-*.pycidx")); len(files) == 0 {
		t.Errorf("no kept DWARF in %s", dir)
	}
}
