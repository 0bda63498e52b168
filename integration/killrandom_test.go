package integration

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKillAtRandomMoments kills pycoroner (SIGKILL, SIGINT or SIGTERM) at a
// random moment of `snapshot`, `stacks --pid`, `watch --on-change` and
// `watch --until` against a program that is sent signals throughout and
// writes the watched list every 20 ms. After every trial the program must
// run freely (no thread stopped or traced); at the end it must still be
// alive (a breakpoint left armed would have killed it with SIGTRAP at its
// next write) and have received every signal sent.
//
// PYCORONER_KILL_TRIALS sets the number of trials per interpreter (make
// soak runs many; the default keeps make test short).
func TestKillAtRandomMoments(t *testing.T) {
	trials := 6
	if n, err := strconv.Atoi(os.Getenv("PYCORONER_KILL_TRIALS")); err == nil && n > 0 {
		trials = n
	}
	seed := time.Now().UnixNano()
	if s, err := strconv.ParseInt(os.Getenv("PYCORONER_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (PYCORONER_KILL_SEED repeats a run)", seed)
	rng := rand.New(rand.NewSource(seed))
	var total, harmed, lost, stopped int
	for _, in := range interpreters(t) {
		in := in
		ok := t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(trials)*time.Minute+5*time.Minute)
			defer cancel()
			p := startSignalProgram(t, ctx, in)
			pid := strconv.Itoa(p.PID)
			sent := 0
			for i := 0; i < trials; i++ {
				sender := p.send(rng.Int63())
				dir := t.TempDir()
				commands := [][]string{
					{"snapshot", pid, "-o", filepath.Join(dir, "snap.core")},
					{"stacks", "--pid", pid},
					{"watch", pid, "--on-change", "__main__:WATCHED", "--count", "5", "--timeout", "30s", "-o", dir},
					{"watch", pid, "--until", "len(__main__:WATCHED) < 0", "--interval", "20ms", "--timeout", "30s", "-o", dir},
				}
				args := commands[rng.Intn(len(commands))]
				sig := []unix.Signal{unix.SIGKILL, unix.SIGINT, unix.SIGTERM}[rng.Intn(3)]
				delay := time.Duration(rng.Intn(400)) * time.Millisecond
				cmd := exec.CommandContext(ctx, binary, args...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(delay)
				cmd.Process.Signal(sig)
				cmd.Wait()
				total++
				if !settles(p.PID) {
					if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.PID)); err != nil || p.exited() {
						harmed++
						t.Fatalf("trial %d (%v after %v, %s): the program died", i, unix.SignalName(sig), delay, args[0])
					}
					stopped++
					t.Errorf("trial %d (%v after %v, %v): threads left stopped or traced:\n%s", i, unix.SignalName(sig), delay, args, p.Describe())
				}
				n, missing := sender.finish()
				sent += n
				if missing != "" {
					lost++
					t.Errorf("trial %d (%v after %v, %v): signals lost (%d sent): %s", i, unix.SignalName(sig), delay, args, n, missing)
				}
			}
			// A breakpoint left armed kills the program at its next write
			// to the list, within 20 ms; give it ample time.
			time.Sleep(500 * time.Millisecond)
			if p.exited() {
				harmed++
				code, out, _ := p.Wait(time.Second)
				t.Fatalf("the program died after the trials: exit %d\n%s", code, out)
			}
			t.Logf("%d trials, %d signals sent", trials, sent)
		})
		if !ok && t.Failed() && harmed > 0 {
			break
		}
	}
	t.Logf("kill-at-random: %d trials, %d programs harmed, %d trials lost signals, %d trials left threads stopped", total, harmed, lost, stopped)
}

// settles waits (generously) until no thread of pid is stopped or traced.
func settles(pid int) bool {
	for i := 0; i < 300; i++ {
		state, tracer := procState(pid)
		if tracer == "0" && state != 't' && state != 'T' && state != 0 && !anyThreadStopped(pid) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func anyThreadStopped(pid int) bool {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, e := range ents {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, e.Name()))
		for i := len(data) - 1; i >= 0; i-- {
			if data[i] == ')' {
				if i+2 < len(data) && (data[i+2] == 't' || data[i+2] == 'T') {
					return true
				}
				break
			}
		}
	}
	return false
}

// exited reports whether the program is gone or a zombie.
func (p *signalProgram) exited() bool {
	state, _ := procState(p.PID)
	return state == 0 || state == 'Z' || state == 'X'
}
