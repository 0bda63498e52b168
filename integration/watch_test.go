package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

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
			if n < threshold || n > threshold+20 {
				t.Errorf("TICKS had %d items at the snapshot (%q), want %d or a few more", n, got.Values["__main__:TICKS"], threshold)
			}
			st := pycoroner(t, "stacks", "--json", got.Core)
			if st.code != 0 || !bytes.Contains(st.stdout, []byte(`"ticker"`)) {
				t.Errorf("the snapshot has no ticker thread: exit %d\n%s", st.code, st.stdout)
			}
			if ok, why := l.Running(); !ok {
				t.Errorf("the process does not run freely after watch: %s", why)
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
	if !bytes.Contains(out.Bytes(), []byte("stopped by")) {
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
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "counter")
			var out bytes.Buffer
			w := startWatch(t, ctx, &out, "watch", strconv.Itoa(l.PID), "--on-change", "sys:path", "-o", t.TempDir(), "--json")
			if !progresses(l.PID) {
				t.Fatalf("the program makes no progress while watched:\n%s", l.Describe())
			}
			unix.Kill(l.PID, unix.SIGSTOP)
			time.Sleep(100 * time.Millisecond)
			if progresses(l.PID) {
				t.Errorf("SIGSTOP during watch: the program still runs:\n%s", l.Describe())
			}
			unix.Kill(l.PID, unix.SIGCONT)
			time.Sleep(100 * time.Millisecond)
			if !progresses(l.PID) {
				t.Errorf("SIGCONT during watch: the program does not run again:\n%s", l.Describe())
			}
			unix.Kill(l.PID, unix.SIGSTOP)
			time.Sleep(100 * time.Millisecond)
			w.cmd.Process.Signal(unix.SIGTERM)
			w.cmd.Wait()
			state, tracer := procState(l.PID)
			if state != 'T' || tracer != "0" {
				t.Errorf("after watch ended with the program stopped: state %c, tracer %s; want T (stopped) and 0", state, tracer)
			}
			unix.Kill(l.PID, unix.SIGCONT)
			time.Sleep(100 * time.Millisecond)
			if ok, why := l.Running(); !ok || !progresses(l.PID) {
				t.Errorf("after SIGCONT the program does not run freely: %s\n%s", why, l.Describe())
			}
		})
	}
}

// progresses reports whether the process's threads make progress within
// a generous while: the ticker thread sleeps 20 ms per tick, so its
// context switches count up while it runs.
func progresses(pid int) bool {
	first := contextSwitches(pid)
	for i := 0; i < 20; i++ {
		time.Sleep(50 * time.Millisecond)
		if contextSwitches(pid) > first {
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
