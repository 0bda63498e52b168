package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWatchKilledLeavesNothingArmed: SIGKILL pycoroner while it watches
// sys:path, then make the program write sys.path. A breakpoint left armed
// in the program's threads kills it with SIGTRAP at that write (debug
// registers set with PTRACE_POKEUSER outlive their tracer); it must
// instead finish normally.
func TestWatchKilledLeavesNothingArmed(t *testing.T) {
	needBreakpoints(t)
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "syspath_culprit")
			var out bytes.Buffer
			w := startWatch(t, ctx, &out, "watch", strconv.Itoa(l.PID), "--on-change", "sys:path", "-o", t.TempDir(), "--json")
			w.cmd.Process.Signal(unix.SIGKILL)
			w.cmd.Wait()
			// The kernel detaches the tracees of a dead tracer; wait for it.
			for i := 0; i < 600; i++ {
				if ok, _ := l.Running(); ok {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if ok, why := l.Running(); !ok {
				t.Fatalf("after SIGKILL of watch the process is not running freely: %s\n%s", why, l.Describe())
			}
			// The cue to run culprit(), which inserts into sys.path.
			if err := unix.Tgkill(l.PID, l.PID, unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			code, output, err := l.Wait(time.Minute)
			if err != nil || code != 0 || !strings.Contains(output, "finished normally") {
				t.Errorf("the program did not finish normally after writing the object a killed watch watched: exit %d, %v\n%s", code, err, output)
			}
		})
	}
}

// TestProgramExitsDuringSnapshot: the program is killed while `snapshot`
// (and `stacks --pid`) copies its memory. pycoroner must say so, exit 1,
// and leave no core (and no temporary file); it used to exit 0 with a core
// whose pages after the kill were zeros.
func TestProgramExitsDuringSnapshot(t *testing.T) {
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			for _, mode := range []string{"snapshot", "stacks --pid"} {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				l := startLive(t, ctx, in, "bigmem")
				dir := t.TempDir()
				core := filepath.Join(dir, "big.core")
				args := []string{"snapshot", strconv.Itoa(l.PID), "-o", core}
				if mode != "snapshot" {
					args = []string{"stacks", "--pid", strconv.Itoa(l.PID)}
				}
				cmd := exec.CommandContext(ctx, binary, args...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// Kill the program as soon as pycoroner holds it: the copy
				// of its 256 MB takes far longer than this loop's step.
				for !threadsStopped(l.PID) && cmd.ProcessState == nil {
					time.Sleep(200 * time.Microsecond)
				}
				unix.Kill(l.PID, unix.SIGKILL)
				err := cmd.Wait()
				code := cmd.ProcessState.ExitCode()
				want := "pid " + strconv.Itoa(l.PID) + " exited during the snapshot"
				if err == nil || code != 1 || !strings.Contains(stderr.String(), want) {
					t.Errorf("%s: exit %d, %q; want exit 1 and %q", mode, code, stderr.String(), want)
				}
				if strings.Count(strings.TrimSpace(stderr.String()), "\n") > 0 {
					t.Errorf("%s: more than one line on stderr:\n%s", mode, stderr.String())
				}
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					t.Errorf("%s: left %s behind", mode, e.Name())
				}
			}
		})
	}
}

// threadsStopped reports whether every thread of pid is in a stop.
func threadsStopped(pid int) bool {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil || len(ents) == 0 {
		return false
	}
	for _, e := range ents {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + e.Name() + "/stat")
		i := bytes.LastIndexByte(data, ')')
		if err != nil || i < 0 || i+2 >= len(data) || (data[i+2] != 't' && data[i+2] != 'T') {
			return false
		}
	}
	return true
}

// TestInterruptedSnapshotLeavesNoFile: SIGINT or SIGTERM to `snapshot`
// while it copies removes its partial file and lets the program go; the
// partial file a SIGKILLed snapshot leaves is removed by the next run in
// that directory.
func TestInterruptedSnapshotLeavesNoFile(t *testing.T) {
	ins := interpreters(t)
	in := ins[len(ins)-1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l := startLive(t, ctx, in, "bigmem")
	dir := t.TempDir()
	core := filepath.Join(dir, "big.core")
	for _, sig := range []unix.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGKILL} {
		cmd := exec.CommandContext(ctx, binary, "snapshot", strconv.Itoa(l.PID), "-o", core)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Once every thread is held, the copy of 256 MB is under way.
		for !threadsStopped(l.PID) && cmd.ProcessState == nil {
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(20 * time.Millisecond)
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		if err == nil {
			t.Errorf("%v: snapshot exited 0; want an interrupted snapshot (%s)", sig, stderr.String())
		}
		for i := 0; i < 600; i++ {
			if ok, _ := l.Running(); ok {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if ok, why := l.Running(); !ok {
			t.Fatalf("%v: the program does not run freely after: %s", sig, why)
		}
		ents, _ := os.ReadDir(dir)
		if sig == unix.SIGKILL {
			if len(ents) != 1 || !strings.Contains(ents[0].Name(), ".partial-") {
				t.Errorf("SIGKILL: want the one partial file a killed run cannot remove, found %v", ents)
			}
			continue
		}
		if len(ents) != 0 {
			t.Errorf("%v: left %v behind (%s)", sig, ents[0].Name(), stderr.String())
		}
	}
	// The next run removes the stale partial file and writes its core.
	r := pycoroner(t, "snapshot", strconv.Itoa(l.PID), "-o", core)
	if r.code != 0 {
		t.Fatalf("snapshot after a killed one: exit %d: %s", r.code, r.stderr)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "big.core" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("after the next snapshot the directory holds %v; want big.core alone", names)
	}
}
