package integration

import (
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
)

// TestLiveSnapshotAndPid snapshots a running scenario process on every
// interpreter: the snapshot's stacks match the process's own oracle, the
// process keeps running untraced afterwards, gdb opens the snapshot and
// lists every thread, and `stacks --pid` gives the same answer directly.
func TestLiveSnapshotAndPid(t *testing.T) {
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "threads")
			oracle := readOracle(t, l.OraclePath)
			pid := strconv.Itoa(l.PID)

			core := filepath.Join(t.TempDir(), "snap.core")
			r := pycoroner(t, "snapshot", pid, "-o", core, "--json")
			if r.code != 0 {
				t.Fatalf("snapshot exited %d: %s", r.code, r.stderr)
			}
			var snap struct {
				Threads  int   `json:"threads"`
				PausedMS int64 `json:"paused_ms"`
			}
			json.Unmarshal(r.stdout, &snap)
			if snap.Threads != oracle.NativeThreads {
				t.Errorf("snapshot saw %d threads, the process has %d", snap.Threads, oracle.NativeThreads)
			}
			if ok, why := l.Running(); !ok {
				t.Fatalf("after the snapshot the process is not running freely: %s", why)
			}
			for _, args := range [][]string{{"--locals", core}, {"--locals", "--pid", pid}} {
				compareStacks(t, oracle, stacksOf(t, args...))
			}
			if ok, why := l.Running(); !ok {
				t.Fatalf("after --pid the process is not running freely: %s", why)
			}
			compareLiveHistogram(t, core, pid)
			gdbThreads(t, in.Path, core, oracle.NativeThreads)
		})
	}
}

// compareLiveHistogram: histogram --pid, which counts without a census
// (a tally: no index is saved for a live process), agrees with the
// census of the snapshot taken just before. The process waits, but its
// threads are not stopped between the two: a row may differ by a few
// objects (1%), not more.
func compareLiveHistogram(t *testing.T, core, pid string) {
	t.Helper()
	type row struct {
		Type  string `json:"type"`
		Count int    `json:"count"`
	}
	var fromCore, live struct {
		Result []row `json:"result"`
	}
	for _, c := range []struct {
		args []string
		to   any
	}{{[]string{"histogram", "--json", "--top", "10", core}, &fromCore}, {[]string{"histogram", "--json", "--top", "10", "--pid", pid}, &live}} {
		r := runIndexed(t, t.TempDir(), c.args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, r.code, r.stderr)
		}
		if err := json.Unmarshal(r.stdout, c.to); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
	}
	if len(fromCore.Result) == 0 || len(live.Result) != len(fromCore.Result) {
		t.Fatalf("histogram --pid: %d rows, of the snapshot: %d", len(live.Result), len(fromCore.Result))
	}
	counts := map[string]int{}
	for _, r := range live.Result {
		counts[r.Type] = r.Count
	}
	for _, r := range fromCore.Result {
		if got := counts[r.Type]; got < r.Count*99/100 || got > r.Count*101/100 {
			t.Errorf("histogram --pid counts %d %s, the snapshot's census %d", got, r.Type, r.Count)
		}
	}
}

// gdbThreads checks that gdb opens the core and lists n threads.
func gdbThreads(t *testing.T, exe, core string, n int) {
	t.Helper()
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		t.Skip("gdb is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gdb, "-nx", "-batch", "-ex", "info threads", exe, core).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	// "LWP N" without thread debugging, "Thread 0x... (LWP N)" once gdb
	// has found libc in the core and loaded its libthread_db.
	lwps := regexp.MustCompile(`(?m)^\*?\s+\d+\s+(?:Thread 0x[0-9a-f]+ \()?LWP \d+`).FindAll(out, -1)
	if len(lwps) != n {
		t.Errorf("gdb lists %d threads, want %d:\n%s", len(lwps), n, out)
	}
}

func TestLiveBadInput(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"snapshot", "999999999", "-o", filepath.Join(t.TempDir(), "x.core")}, 1, "no such process"},
		{[]string{"stacks", "--pid", "999999999"}, 1, "no such process"},
		{[]string{"snapshot", "abc", "-o", "x.core"}, 2, "not a number"},
		{[]string{"snapshot", "1"}, 2, "missing -o"},
		{[]string{"stacks", "--pid", "1", "core"}, 2, "either --pid or a CORE"},
		{[]string{"stacks", "--nonblocking", "core"}, 2, "--nonblocking needs --pid"},
	}
	for _, tc := range tests {
		r := pycoroner(t, tc.args...)
		first, _, _ := strings.Cut(strings.TrimSpace(string(r.stderr)), "\n")
		if r.code != tc.code || !strings.Contains(first, tc.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, r.code, first, tc.code, tc.want)
		}
	}
}

// TestPidOfNonPythonProcess: --pid names the process in its messages, not
// the in-memory copy it reads ("/proc/thread-self/fd/5"), and a process
// id of 0 or less is a usage error.
func TestPidOfNonPythonProcess(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", sleep.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("pid %d (%s)", sleep.Process.Pid, strings.TrimSpace(string(comm)))
	pid := strconv.Itoa(sleep.Process.Pid)
	r := pycoroner(t, "stacks", "--pid", pid)
	if r.code != 1 || !strings.HasPrefix(string(r.stderr), "pycoroner: "+name+": no CPython runtime found") || strings.Contains(string(r.stderr), "/proc/") {
		t.Errorf("stacks --pid %s: exit %d: %s; want 1 and an error naming %s", pid, r.code, r.stderr, name)
	}
	r = pycoroner(t, "info", "--json", "--pid", pid)
	var in struct {
		Core string `json:"core"`
	}
	if err := json.Unmarshal(r.stdout, &in); r.code != 0 || err != nil || !strings.HasPrefix(in.Core, name) {
		t.Errorf("info --json --pid %s: exit %d, %v, core %q; want it to start with %q", pid, r.code, err, in.Core, name)
	}
	for _, bad := range []string{"0", "-3"} {
		for _, args := range [][]string{{"stacks", "--pid", bad}, {"show", "--pid", bad, "0x10"}} {
			if r := pycoroner(t, args...); r.code != 2 || !strings.Contains(string(r.stderr), "want a process id above 0") {
				t.Errorf("%v: exit %d: %s; want a usage error", args, r.code, r.stderr)
			}
		}
	}
}
