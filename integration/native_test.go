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
// are where pycoroner shows Python frames instead, so both sides leave
// them out; a frame gdb cannot name (??) may be named by pycoroner.
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
			for _, n := range gdbFrames {
				if n != "??" {
					named++
				}
			}
			ours, ok := got.byTID[tid]
			if !ok {
				t.Errorf("LWP %d: gdb has it, stacks --native does not", tid)
				continue
			}
			g, o := dropEvalLoop(gdbFrames), dropEvalLoop(ours)
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

func dropEvalLoop(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "_PyEval_EvalFrameDefault" {
			out = append(out, n)
		}
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
	crashed int
}

// nativeStacksOf runs `stacks --native --json` and lists each thread's
// native frame names ("??" for an unnamed one), innermost first.
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
	out := nativeStacks{byTID: map[int][]string{}}
	for _, th := range doc.Threads {
		if th.NativeThreadID == nil {
			continue
		}
		names := []string{}
		for _, f := range th.Frames {
			if f.Kind != "native" {
				continue
			}
			if f.PC == "" {
				t.Errorf("native frame %q has no pc", f.Function)
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
	gdbFrameRe  = regexp.MustCompile(`^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(`)
	gdbCurrent  = regexp.MustCompile(`\[Current thread is \d+ \((?:Thread 0x[0-9a-f]+ )?\(?LWP (\d+)\)`)
)

// gdbBacktraces runs gdb's `thread apply all bt` on the core (once: the
// answer is kept beside the cached core) and returns each LWP's frame
// names, innermost first.
func gdbBacktraces(t *testing.T, res *harness.Result) map[int][]string {
	t.Helper()
	out := gdbOutput(t, res)
	threads := map[int][]string{}
	cur := -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gdbThreadRe.FindStringSubmatch(line); m != nil {
			cur, _ = strconv.Atoi(m[1])
			threads[cur] = []string{}
			continue
		}
		if gdbSignalRe.MatchString(line) && cur >= 0 {
			threads[cur] = append(threads[cur], gdbSignalFrame)
			continue
		}
		if m := gdbFrameRe.FindStringSubmatch(line); m != nil && cur >= 0 {
			threads[cur] = append(threads[cur], m[1])
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
