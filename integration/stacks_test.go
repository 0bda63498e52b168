package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// The oracle and stacks shapes, decoded independently of the packages
// under test so that a change to either side is caught here.
type oracleFile struct {
	PythonVersion string         `json:"python_version"`
	MainThreadID  uint64         `json:"main_thread_id"`
	NativeThreads int            `json:"native_thread_count"`
	Threads       []oracleThread `json:"threads"`
}

type oracleThread struct {
	ThreadID       uint64       `json:"thread_id"`
	NativeThreadID *int         `json:"native_thread_id"`
	Name           *string      `json:"name"`
	IsMain         bool         `json:"is_main"`
	Frames         []stackFrame `json:"frames"`
	Exception      *stackValue  `json:"exception"`
}

type stackFrame struct {
	Function string                `json:"function"`
	Qualname *string               `json:"qualname"`
	Filename string                `json:"filename"`
	Line     int                   `json:"line"`
	Locals   map[string]stackValue `json:"locals"`
	// HiddenGlobals counts a module body's globals left out without
	// --globals (never in an oracle).
	HiddenGlobals int `json:"hidden_globals"`
}

type stackValue struct {
	Type      string  `json:"type"`
	Address   string  `json:"address"`
	Repr      *string `json:"repr"`
	Truncated bool    `json:"truncated"`
}

type stacksJSON struct {
	PythonVersion string         `json:"python_version"`
	Threads       []oracleThread `json:"threads"`
}

func readOracle(t *testing.T, path string) oracleFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var o oracleFile
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("oracle %s: %v", path, err)
	}
	return o
}

// TestStacksMatchOracle runs the threads scenario under every interpreter,
// as a gcore snapshot and as kernel crash cores, and compares
// `stacks --locals --json` with what the process said about itself.
func TestStacksMatchOracle(t *testing.T) {
	forEachCore(t, "threads", func(t *testing.T, res *harness.Result) {
		oracle := readOracle(t, res.OraclePath)
		compareStacks(t, oracle, stacksOf(t, "--locals", res.CorePath))
		// With --globals a module body lists its globals, as f_locals does.
		got := stacksOf(t, "--locals", "--globals", res.CorePath)
		compareStacks(t, oracle, got)
		for _, th := range got.Threads {
			for _, f := range th.Frames {
				if f.HiddenGlobals != 0 {
					t.Errorf("--globals still hides %d globals of %s", f.HiddenGlobals, f.Function)
				}
			}
		}
		// The text names a handled exception by its address too, which
		// show takes to print its traceback.
		text := pycoroner(t, "stacks", res.CorePath)
		for _, th := range oracle.Threads {
			if th.Exception == nil || th.Exception.Repr == nil {
				continue
			}
			addr, err := harness.ParseAddress(th.Exception.Address)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("handling %s at 0x%x", *th.Exception.Repr, addr); !strings.Contains(string(text.stdout), want) {
				t.Errorf("stacks does not say %q:\n%s", want, text.stdout)
			}
		}
	})
}

// forEachCore runs fn, in parallel subtests, on a cached core of scenario
// from every interpreter, as a gcore snapshot and as both crash cores.
func forEachCore(t *testing.T, scenario string, fn func(t *testing.T, res *harness.Result)) {
	forEachCoreMode(t, scenario, []harness.Mode{harness.Gcore, harness.Abort, harness.Segv}, fn)
}

// forEachCoreMode is forEachCore for some kinds of core only.
func forEachCoreMode(t *testing.T, scenario string, modes []harness.Mode, fn func(t *testing.T, res *harness.Result)) {
	forEachCoreModeExcept(t, scenario, modes, nil, fn)
}

// forEachCoreModeExcept is forEachCoreMode where except, when it says why,
// skips an interpreter and mode before any core is made (the test, with
// its reason, shows as skipped).
func forEachCoreModeExcept(t *testing.T, scenario string, modes []harness.Mode, except func(harness.Interpreter, harness.Mode) string,
	fn func(t *testing.T, res *harness.Result)) {
	for _, in := range interpreters(t) {
		for _, mode := range modes {
			in, mode := in, mode
			t.Run(in.Name+"/"+string(mode), func(t *testing.T) {
				if except != nil {
					if why := except(in, mode); why != "" {
						t.Skip(why)
					}
				}
				t.Parallel()
				fn(t, cachedCore(t, in, scenario, mode))
			})
		}
	}
}

// notOnSid skips Debian sid's builds for a reason docs/limits.md lists.
func notOnSid(why string, modes ...harness.Mode) func(harness.Interpreter, harness.Mode) string {
	return func(in harness.Interpreter, mode harness.Mode) string {
		if in.Origin != "debian-sid" {
			return ""
		}
		for _, m := range modes {
			if m == mode {
				return why
			}
		}
		if len(modes) == 0 {
			return why
		}
		return ""
	}
}

// cachedCore is the harness's core of a scenario (made once, then cached).
func cachedCore(t *testing.T, in harness.Interpreter, scenario string, mode harness.Mode) *harness.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := harness.CachedCore(ctx, in, scenario, mode)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// stacksOf runs `stacks --json` with args and decodes the answer.
func stacksOf(t *testing.T, args ...string) stacksJSON {
	t.Helper()
	r := pycoroner(t, append([]string{"stacks", "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("stacks %v exited %d: %s", args, r.code, r.stderr)
	}
	var got stacksJSON
	if err := json.Unmarshal(r.stdout, &got); err != nil {
		t.Fatalf("stacks --json: %v\n%s", err, r.stdout)
	}
	return got
}

func compareStacks(t *testing.T, want oracleFile, got stacksJSON) {
	t.Helper()
	if got.PythonVersion != want.PythonVersion {
		t.Errorf("python_version: got %q, oracle %q", got.PythonVersion, want.PythonVersion)
	}
	byID := map[uint64]oracleThread{}
	for _, th := range got.Threads {
		byID[th.ThreadID] = th
	}
	if len(got.Threads) != len(want.Threads) {
		t.Errorf("got %d threads, oracle has %d", len(got.Threads), len(want.Threads))
	}
	mains := 0
	for _, w := range want.Threads {
		g, ok := byID[w.ThreadID]
		if !ok {
			t.Errorf("thread %d (%s) missing", w.ThreadID, strp(w.Name))
			continue
		}
		where := fmt.Sprintf("thread %d (%s)", w.ThreadID, strp(w.Name))
		if g.IsMain {
			mains++
		}
		if g.IsMain != w.IsMain {
			t.Errorf("%s: is_main %v, oracle %v", where, g.IsMain, w.IsMain)
		}
		if strp(g.Name) != strp(w.Name) {
			t.Errorf("%s: name %q, oracle %q", where, strp(g.Name), strp(w.Name))
		}
		if w.NativeThreadID != nil && (g.NativeThreadID == nil || *g.NativeThreadID != *w.NativeThreadID) {
			t.Errorf("%s: native_thread_id %v, oracle %d", where, intp(g.NativeThreadID), *w.NativeThreadID)
		}
		compareValue(t, where+" exception", w.Exception, g.Exception)
		compareFrames(t, where, w.Frames, g.Frames)
	}
	if mains != 1 {
		t.Errorf("%d threads marked main, want 1", mains)
	}
}

func compareFrames(t *testing.T, where string, want, got []stackFrame) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d frames, oracle %d:\n got  %s\n want %s", where, len(got), len(want), frameList(got), frameList(want))
		return
	}
	for i, w := range want {
		g := got[i]
		at := fmt.Sprintf("%s frame %d (%s)", where, i, w.Function)
		if g.Function != w.Function || g.Filename != w.Filename || g.Line != w.Line {
			t.Errorf("%s: got %s:%d in %s, oracle %s:%d in %s", at, g.Filename, g.Line, g.Function, w.Filename, w.Line, w.Function)
		}
		if w.Qualname != nil && strp(g.Qualname) != *w.Qualname {
			t.Errorf("%s: qualname %q, oracle %q", at, strp(g.Qualname), *w.Qualname)
		}
		if g.HiddenGlobals > 0 {
			// A module body without --globals: its locals (the module's
			// globals, f_locals in the oracle) are counted, not listed.
			if len(g.Locals) != 0 || g.HiddenGlobals != len(w.Locals) || w.Function != "<module>" {
				t.Errorf("%s: %d locals listed, %d globals hidden; the oracle has %d locals", at, len(g.Locals), g.HiddenGlobals, len(w.Locals))
			}
			continue
		}
		var names []string
		for name := range w.Locals {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			wv := w.Locals[name]
			gv, ok := g.Locals[name]
			if !ok {
				t.Errorf("%s: local %q missing", at, name)
				continue
			}
			compareValue(t, at+" local "+name, &wv, &gv)
		}
		for name := range g.Locals {
			if _, ok := w.Locals[name]; !ok {
				t.Errorf("%s: local %q is not in the oracle", at, name)
			}
		}
	}
}

func compareValue(t *testing.T, where string, want, got *stackValue) {
	t.Helper()
	switch {
	case want == nil && got == nil:
		return
	case want == nil:
		t.Errorf("%s: got %s %s, oracle has none", where, got.Type, strp(got.Repr))
		return
	case got == nil:
		t.Errorf("%s: missing, oracle has %s %s", where, want.Type, strp(want.Repr))
		return
	}
	if got.Type != want.Type {
		t.Errorf("%s: type %q, oracle %q", where, got.Type, want.Type)
	}
	if got.Address != want.Address {
		t.Errorf("%s: address %s, oracle %s", where, got.Address, want.Address)
	}
	if want.Repr == nil {
		return
	}
	g, w := strp(got.Repr), *want.Repr
	if got.Truncated {
		cut := strings.TrimSuffix(g, "...")
		if len([]rune(w)) <= 200 || !strings.HasPrefix(w, cut) {
			t.Errorf("%s: truncated repr %q is not a prefix of oracle %q (or the oracle is short)", where, g, w)
		}
		return
	}
	if g != w {
		t.Errorf("%s: repr %q, oracle %q", where, g, w)
	}
}

func frameList(fs []stackFrame) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s:%d", f.Function, f.Line))
	}
	return strings.Join(parts, " < ")
}

func strp(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func intp(p *int) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}
