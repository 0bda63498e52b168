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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/coreread/live"
	"github.com/pycoroner/pycoroner/fixtures/harness"
	"golang.org/x/sys/unix"
)

type watchJSON struct {
	Hits []struct {
		Core   string       `json:"core"`
		Wrote  string       `json:"wrote"`
		Thread oracleThread `json:"thread"`
	} `json:"hits"`
	TimedOut bool `json:"timed_out"`
}

// TestWatchOnChangeCatchesCulprit: a running program's culprit() inserts
// into sys.path; `watch --on-change sys:path` must stop that thread at the
// inserting line, and the program must then finish normally.
func TestWatchOnChangeCatchesCulprit(t *testing.T) {
	needBreakpoints(t)
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "syspath_culprit")
			var m struct {
				Culprit struct {
					Function string `json:"function"`
					Filename string `json:"filename"`
					Line     int    `json:"line"`
				} `json:"culprit"`
			}
			if err := l.Oracle.DecodeMarkers(&m); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w := startWatch(t, ctx, &out, "watch", strconv.Itoa(l.PID), "--on-change", "sys:path",
				"-o", t.TempDir(), "--timeout", "30s", "--json")
			cmd, ready := w.cmd, w.stderr
			// The scenario's cue to run culprit(), sent to the main thread,
			// which runs Python's signal handlers.
			if err := unix.Tgkill(l.PID, l.PID, unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("watch: %v\n%s", err, out.Bytes())
			}
			var got watchJSON
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("watch --json: %v\n%s", err, out.Bytes())
			}
			if len(got.Hits) != 1 || len(got.Hits[0].Thread.Frames) == 0 {
				threads := l.Describe()
				stacks, _ := exec.Command(binary, "stacks", "--pid", strconv.Itoa(l.PID)).CombinedOutput()
				threads += string(stacks)
				_, output, _ := l.Wait(5 * time.Second)
				running, why := l.Running()
				t.Fatalf("want one hit with a Python stack, got %s\nwatch said: %s\nscenario (running %v %s): %s\n%s", out.Bytes(), ready(), running, why, output, threads)
			}
			top := got.Hits[0].Thread.Frames[0]
			if top.Function != m.Culprit.Function || top.Line != m.Culprit.Line || top.Filename != m.Culprit.Filename {
				t.Errorf("top frame %s:%d in %s, want %s:%d in %s", top.Filename, top.Line, top.Function, m.Culprit.Filename, m.Culprit.Line, m.Culprit.Function)
			}
			if n := got.Hits[0].Thread.Name; n == nil || *n != "culprit-thread" {
				t.Errorf("hit thread %v, want culprit-thread", n)
			}
			code, output, err := l.Wait(30 * time.Second)
			if err != nil || code != 0 || !strings.Contains(output, "finished normally") {
				t.Errorf("the program did not finish normally: exit %d, %v\n%s", code, err, output)
			}
		})
	}
}

// TestWatchUntilCounter: `watch --until` snapshots once a growing list
// crosses a threshold, and the snapshot shows it.
func TestWatchUntilCounter(t *testing.T) {
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "counter")
			const threshold = 10
			r := pycoroner(t, "watch", strconv.Itoa(l.PID), "--until", "len(__main__:TICKS) >= "+strconv.Itoa(threshold),
				"--interval", "20ms", "--timeout", "40s", "-o", t.TempDir(), "--json")
			if r.code != 0 {
				t.Fatalf("watch --until exited %d: %s", r.code, r.stderr)
			}
			var got struct {
				Held   bool              `json:"held"`
				Core   string            `json:"core"`
				Values map[string]string `json:"values"`
			}
			if err := json.Unmarshal(r.stdout, &got); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			if !got.Held || got.Core == "" {
				t.Fatalf("the condition never held: %s", r.stdout)
			}
			n := itemsIn(got.Values["__main__:TICKS"])
			// Only the lower bound is an answer: how many more ticks came
			// before the first poll depends on the machine's load (a busy
			// CI machine can start watch after the list passed 30).
			if n < threshold {
				t.Errorf("TICKS had %d items at the snapshot (%q), want at least %d", n, got.Values["__main__:TICKS"], threshold)
			}
			st := pycoroner(t, "stacks", "--json", got.Core)
			if st.code != 0 || !bytes.Contains(st.stdout, []byte(`"ticker"`)) {
				t.Errorf("the snapshot has no ticker thread: exit %d\n%s", st.code, st.stdout)
			}
			if ok, why := l.Running(); !ok {
				t.Errorf("the process does not run freely after watch: %s", why)
			}
			// Python's spelling: a str indexed and sliced by character,
			// truth, is, not's precedence. __name__ is "__main__".
			cond := `__main__:__name__[2] == "m" and __main__:__name__[-6:] == "main__" and __main__:__doc__ and __main__:__name__ is not None and not len(__main__:TICKS) < 1`
			r = pycoroner(t, "watch", strconv.Itoa(l.PID), "--until", cond, "--interval", "20ms", "--timeout", "40s", "-o", t.TempDir(), "--json")
			var py struct {
				Held   bool              `json:"held"`
				Values map[string]string `json:"values"`
			}
			if err := json.Unmarshal(r.stdout, &py); r.code != 0 || err != nil || !py.Held || py.Values["__main__:__name__[2]"] != "'m'" {
				t.Errorf("watch --until %s: exit %d, %v: %s%s", cond, r.code, err, r.stdout, r.stderr)
			}
		})
	}
}

// itemsIn reads the length of a list from its preview repr.
func itemsIn(repr string) int {
	if i := strings.LastIndex(repr, "... ("); i >= 0 {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(repr[i:], "... ("), " items)]"))
		return n
	}
	if strings.TrimSpace(repr) == "[]" {
		return 0
	}
	return strings.Count(repr, ",") + 1
}

// TestWatchLeavesProcessRunning: a watch that times out, and one that is
// sent SIGTERM, both leave the process running, untraced, with no
// debug registers left armed.
func TestWatchLeavesProcessRunning(t *testing.T) {
	needBreakpoints(t)
	ins := interpreters(t)
	in := ins[len(ins)-1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := startLive(t, ctx, in, "counter")
	pid := strconv.Itoa(l.PID)
	r := pycoroner(t, "watch", pid, "--on-change", "sys:path", "--timeout", "1s", "-o", t.TempDir(), "--json")
	if r.code != 0 || !bytes.Contains(r.stdout, []byte(`"timed_out": true`)) {
		t.Errorf("watch --timeout: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if ok, why := l.Running(); !ok {
		t.Fatalf("after a timed-out watch the process is not running freely: %s", why)
	}
	cmd := exec.CommandContext(ctx, binary, "watch", pid, "--on-change", "sys:path", "-o", t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300 && !bytes.Contains(out.Bytes(), []byte("waiting for a write")); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(unix.SIGTERM)
	cmd.Wait()
	if !bytes.Contains(out.Bytes(), []byte("stopped by SIGTERM")) {
		t.Errorf("watch did not report the SIGTERM:\n%s", out.Bytes())
	}
	if ok, why := l.Running(); !ok {
		t.Fatalf("after SIGTERM to watch the process is not running freely: %s", why)
	}
	// The list still grows: the ticker thread runs.
	a := pycoroner(t, "stacks", "--pid", pid, "--json")
	if a.code != 0 || !bytes.Contains(a.stdout, []byte(`"ticker"`)) {
		t.Errorf("stacks --pid after watch: exit %d\n%s", a.code, a.stdout)
	}
}

// watchRun is a `pycoroner watch` started by startWatch.
type watchRun struct {
	cmd    *exec.Cmd
	stderr func() string // everything it printed on stderr, once it ended
}

// startWatch starts pycoroner (watch ... --json) and returns once it said
// "watching" on stderr; stdout goes to out.
func startWatch(t *testing.T, ctx context.Context, out *bytes.Buffer, args ...string) watchRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout = out
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	rest := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var all []string
		for sc.Scan() {
			all = append(all, sc.Text())
			if sc.Text() == "watching" {
				ready <- true
			}
		}
		rest <- strings.Join(all, "\n")
	}()
	select {
	case <-ready:
	case msg := <-rest:
		cmd.Wait()
		t.Fatalf("watch ended before arming: %s", msg)
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("watch did not arm within a minute")
	}
	var said *string
	return watchRun{cmd: cmd, stderr: func() string {
		if said == nil {
			s := <-rest
			said = &s
		}
		return *said
	}}
}

// startLive starts a scenario that keeps running; it is stopped when the
// test ends.
func startLive(t *testing.T, ctx context.Context, in harness.Interpreter, scenario string) *harness.Live {
	t.Helper()
	l, err := harness.StartLive(ctx, in, scenario)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return l
}

// TestWatchHonoursSIGSTOP: SIGSTOP sent to the program while watch runs
// stops it (its ticker thread makes no progress) until SIGCONT; a watch
// that ends while the program is stopped leaves it stopped (as SIGSTOP
// asked) and untraced, and SIGCONT then resumes it.
func TestWatchHonoursSIGSTOP(t *testing.T) {
	needBreakpoints(t)
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "counter")
			var out bytes.Buffer
			w := startWatch(t, ctx, &out, "watch", strconv.Itoa(l.PID), "--on-change", "sys:path", "-o", t.TempDir(), "--json")
			if !progresses(l.PID, 30*time.Second) {
				t.Fatalf("the program makes no progress while watched:\n%s", l.Describe())
			}
			unix.Kill(l.PID, unix.SIGSTOP)
			if !eventually(func() bool { return threadsStopped(l.PID) }) || progresses(l.PID, 500*time.Millisecond) {
				t.Errorf("SIGSTOP during watch: the program still runs:\n%s", l.Describe())
			}
			unix.Kill(l.PID, unix.SIGCONT)
			if !progresses(l.PID, 30*time.Second) {
				t.Errorf("SIGCONT during watch: the program does not run again:\n%s", l.Describe())
			}
			unix.Kill(l.PID, unix.SIGSTOP)
			eventually(func() bool { return threadsStopped(l.PID) })
			w.cmd.Process.Signal(unix.SIGTERM)
			w.cmd.Wait()
			eventually(func() bool { st, tr := procState(l.PID); return st == 'T' && tr == "0" })
			state, tracer := procState(l.PID)
			if state != 'T' || tracer != "0" {
				t.Errorf("after watch ended with the program stopped: state %c, tracer %s; want T (stopped) and 0", state, tracer)
			}
			unix.Kill(l.PID, unix.SIGCONT)
			if !progresses(l.PID, 30*time.Second) || !eventually(func() bool { ok, _ := l.Running(); return ok }) {
				_, why := l.Running()
				t.Errorf("after SIGCONT the program does not run freely: %s\n%s", why, l.Describe())
			}
		})
	}
}

// progresses reports whether the process's threads make progress within
// d: the ticker thread sleeps 20 ms per tick, so its context switches
// count up while it runs.
func progresses(pid int, d time.Duration) bool {
	first := contextSwitches(pid)
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		if contextSwitches(pid) > first {
			return true
		}
	}
	return false
}

// eventually polls cond for up to a minute.
func eventually(cond func() bool) bool {
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

func contextSwitches(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	n := 0
	for _, e := range ents {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, e.Name()))
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				k, _ := strconv.Atoi(strings.TrimSpace(v))
				n += k
			}
		}
	}
	return n
}

// procState is the process's state letter and TracerPid.
func procState(pid int) (byte, string) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var state byte
	tracer := ""
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "State:"); ok && len(strings.TrimSpace(v)) > 0 {
			state = strings.TrimSpace(v)[0]
		}
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			tracer = strings.TrimSpace(v)
		}
	}
	return state, tracer
}

// TestWatchResizeIsAResize: the counter scenario appends to TICKS every
// 20 ms, reallocating its item array now and then. watch must call each
// reallocation a resize (including the allocator's write into the freed
// array's first slot, where item 0 is watched: it used to say "wrote item
// 0"), keep watching the new array, and report each append's length.
func TestWatchResizeIsAResize(t *testing.T) {
	needBreakpoints(t)
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "counter")
			r := pycoroner(t, "watch", strconv.Itoa(l.PID), "--on-change", "__main__:TICKS", "--count", "24", "--timeout", "60s", "-o", t.TempDir(), "--json")
			if r.code != 0 {
				t.Fatalf("watch: exit %d: %s", r.code, r.stderr)
			}
			var got struct {
				Hits []struct {
					Wrote  string `json:"wrote"`
					Change string `json:"change"`
					Resize *bool  `json:"resize"`
				} `json:"hits"`
			}
			if err := json.Unmarshal(r.stdout, &got); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			moves, lastArray := 0, ""
			prevLen := -1
			for i, h := range got.Hits {
				if h.Resize == nil || h.Change == "" {
					t.Fatalf("hit %d has no change/resize: %+v", i+1, h)
				}
				switch {
				case strings.HasPrefix(h.Wrote, "item 0"):
					// TICKS[0] is set once, when the list goes from 0 to 1
					// item; any other write there is the allocator's.
					if !*h.Resize && !(prevLen == 1 && strings.HasPrefix(h.Change, "item 0 set to")) {
						t.Errorf("hit %d: %q described as %q; want a resize", i+1, h.Wrote, h.Change)
					}
					if *h.Resize && lastArray != "" && !strings.Contains(h.Change, lastArray+" is being reallocated") {
						t.Errorf("hit %d: %q; want the array the list moved to last (%s): the breakpoint must follow it", i+1, h.Change, lastArray)
					}
				case strings.HasPrefix(h.Wrote, "ob_item"):
					if !*h.Resize {
						t.Errorf("hit %d: ob_item written but not a resize: %q", i+1, h.Change)
					}
					if f := strings.Fields(h.Change); strings.Contains(h.Change, "moved") && len(f) > 7 {
						lastArray = f[7]
						moves++
					}
				case strings.HasPrefix(h.Wrote, "ob_size"):
					var a, b int
					if _, err := fmt.Sscanf(h.Change, "length %d -> %d", &a, &b); err != nil || b != a+1 || (prevLen >= 0 && a != prevLen) {
						t.Errorf("hit %d: %q after length %d; want one more item per append", i+1, h.Change, prevLen)
					}
					prevLen = b
				}
			}
			if moves == 0 {
				t.Errorf("no resize that moved the item array among %d hits:\n%s", len(got.Hits), r.stdout)
			}
		})
	}
}

// TestWatchStartsProgram: `watch --on-change sys:path -- python app.py`
// starts the program under pycoroner, stopped before its script runs, so
// the sys.path change that one of its imports makes at import time is
// caught at the importing module's line; the program then finishes and
// watch reports its exit status.
func TestWatchStartsProgram(t *testing.T) {
	needBreakpoints(t)
	app := filepath.Join(harness.ScenariosDir(), "importer", "app.py")
	hack := filepath.Join(filepath.Dir(app), "pathhack.py")
	line := markerLine(t, hack, "# CULPRIT-LINE")
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			// One hit: the writes CPython makes itself at start-up (the
			// script's directory put first) run no Python frame and are
			// not counted, so the first hit is the culprit's.
			args := []string{"watch", "--on-change", "sys:path", "--count", "1", "--timeout", "40s", "-o", t.TempDir(), "--json", "--"}
			r := pycoroner(t, append(args, in.Command("-B", "-s", app)...)...) // through its loader, if it needs one
			if r.code != 0 {
				t.Fatalf("watch -- python app.py: exit %d: %s", r.code, r.stderr)
			}
			var got struct {
				Hits []struct {
					Wrote  string       `json:"wrote"`
					Thread oracleThread `json:"thread"`
				} `json:"hits"`
				InterpreterWrites []struct {
					Wrote string `json:"wrote"`
				} `json:"interpreter_writes"`
				Program struct {
					ExitStatus *int `json:"exit_status"`
				} `json:"program"`
			}
			if err := json.Unmarshal(r.stdout, &got); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			caught := false
			for _, h := range got.Hits {
				if len(h.Thread.Frames) > 0 && h.Thread.Frames[0].Filename == hack && h.Thread.Frames[0].Line == line && h.Thread.Frames[0].Function == "<module>" {
					caught = true
				}
			}
			if !caught || len(got.Hits) != 1 {
				t.Errorf("%d hit(s), want one at %s:%d in <module>:\n%s", len(got.Hits), hack, line, r.stdout)
			}
			if got.InterpreterWrites == nil {
				t.Errorf("no interpreter_writes in the report:\n%s", r.stdout)
			}
			t.Logf("%d write(s) by CPython itself not counted", len(got.InterpreterWrites))
			if got.Program.ExitStatus == nil || *got.Program.ExitStatus != 0 {
				t.Errorf("program exit status %v, want 0", got.Program.ExitStatus)
			}
		})
	}
}

// markerLine is the line of path that carries mark.
func markerLine(t *testing.T, path, mark string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, mark) {
			return i + 1
		}
	}
	t.Fatalf("%s has no %q", path, mark)
	return 0
}

// TestAttachToTracedProcess: while one pycoroner watches a process, a
// second one is told who holds it ("already traced by PID N (pycoroner)")
// instead of a permission problem.
func TestAttachToTracedProcess(t *testing.T) {
	needBreakpoints(t)
	ins := interpreters(t)
	in := ins[len(ins)-1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := startLive(t, ctx, in, "counter")
	var out bytes.Buffer
	w := startWatch(t, ctx, &out, "watch", strconv.Itoa(l.PID), "--on-change", "sys:path", "-o", t.TempDir(), "--json")
	defer func() {
		w.cmd.Process.Signal(unix.SIGTERM)
		w.cmd.Wait()
	}()
	want := fmt.Sprintf("already traced by PID %d (pycoroner)", w.cmd.Process.Pid)
	for _, args := range [][]string{{"stacks", "--pid", strconv.Itoa(l.PID)}, {"snapshot", strconv.Itoa(l.PID), "-o", filepath.Join(t.TempDir(), "x.core")}} {
		r := pycoroner(t, args...)
		if r.code != 1 || !strings.Contains(string(r.stderr), want) || strings.Count(strings.TrimSpace(string(r.stderr)), "\n") != 0 {
			t.Errorf("%v: exit %d %q; want exit 1 and one line with %q", args, r.code, r.stderr, want)
		}
	}
}

// needBreakpoints skips a test whose watch must see a hardware breakpoint
// fire, on a machine where none does (a virtual machine without the CPU's
// debug registers: watch refuses there with ErrBreakpointsDoNotFire).
// Nothing installable changes that, so it is a skip with its reason, not
// a failure, under CI=true too.
func needBreakpoints(t *testing.T) {
	t.Helper()
	if err := live.BreakpointsFire(); err != nil {
		t.Skipf("watch cannot work on this machine: %v", err)
	}
}
