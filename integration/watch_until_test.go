package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// lateNamesMarkers are the late_names scenario's markers.
type lateNamesMarkers struct {
	Global struct {
		Name  string `json:"name"`
		Value int    `json:"value"`
	} `json:"global"`
	Module struct {
		Name            string `json:"name"`
		Attr            string `json:"attr"`
		ImportedAtStart bool   `json:"imported_at_start"`
	} `json:"module"`
	LateClass struct {
		Name      string `json:"name"`
		Instances int    `json:"instances"`
	} `json:"late_class"`
	EarlyClass struct {
		Name      string `json:"name"`
		Instances int    `json:"instances"`
	} `json:"early_class"`
}

// TestWatchUntilWaitsForLateNames: a condition on a name the process does
// not have yet (a global set later, a module imported later, a class
// defined later) is what --until waits for: watch says once on stderr that
// it cannot read it yet, polls on, and snapshots once the scenario's next
// step (cued by SIGUSR1) made it. It used to say nothing at all.
func TestWatchUntilWaitsForLateNames(t *testing.T) {
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "late_names")
			var m lateNamesMarkers
			if err := l.Oracle.DecodeMarkers(&m); err != nil {
				t.Fatal(err)
			}
			if m.Module.ImportedAtStart {
				t.Fatalf("%s is imported at start under %s: the scenario needs a module nothing imports", m.Module.Name, in.Name)
			}
			global := "__main__:" + m.Global.Name
			module := m.Module.Name + ":" + m.Module.Attr
			count := fmt.Sprintf("count(%q)", m.LateClass.Name)
			// In the scenario's order: each row's cue runs the step that
			// makes its name.
			steps := []struct {
				condition string
				note      string // the start of the line watch must say first
				key, want string // a value the snapshot must have read ("" = any)
			}{
				{global + " == " + strconv.Itoa(m.Global.Value), "waiting: " + global + " cannot be read yet (", global, strconv.Itoa(m.Global.Value)},
				{module + " > 0", "waiting: " + module + " cannot be read yet (", module, ""},
				{count + " >= " + strconv.Itoa(m.LateClass.Instances), "note: " + count + " is 0: the process has no class named", count, strconv.Itoa(m.LateClass.Instances)},
			}
			for _, s := range steps {
				stdout, stderr, code := untilAfterNote(t, ctx, l.PID, s.condition, s.note)
				if code != 0 {
					t.Fatalf("--until %s: exit %d\n%s", s.condition, code, stderr)
				}
				var got struct {
					Held   bool              `json:"held"`
					Values map[string]string `json:"values"`
				}
				if err := json.Unmarshal(stdout, &got); err != nil {
					t.Fatalf("--until %s: %v\n%s", s.condition, err, stdout)
				}
				v, ok := got.Values[s.key]
				if !got.Held || !ok || (s.want != "" && v != s.want) {
					t.Errorf("--until %s: held %v, %s = %q, want %q\n%s", s.condition, got.Held, s.key, v, s.want, stdout)
				}
			}
			if ok, why := l.Running(); !ok {
				t.Errorf("the process does not run freely after watch: %s", why)
			}
		})
	}
}

// untilAfterNote runs watch --until CONDITION on pid, waits for a stderr
// line starting with note, then cues the scenario's next step (SIGUSR1)
// and waits for watch to end. The watch is killed with the context.
func untilAfterNote(t *testing.T, ctx context.Context, pid int, condition, note string) ([]byte, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "watch", strconv.Itoa(pid), "--until", condition,
		"--interval", "20ms", "--timeout", "50s", "-o", t.TempDir(), "--json")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(pipe)
	noted := false
	for !noted && sc.Scan() {
		lines = append(lines, sc.Text())
		noted = strings.HasPrefix(sc.Text(), note)
	}
	if !noted {
		cmd.Wait()
		t.Fatalf("--until %s: watch ended without saying %q:\n%s", condition, note, strings.Join(lines, "\n"))
	}
	if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("--until %s: still polling a minute after the cue:\n%s", condition, strings.Join(lines, "\n"))
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return []byte(stdout.String()), strings.Join(lines, "\n"), code
}

// TestWatchUntilNames: a name that can never resolve is a one-line usage
// error before any poll; a well-formed name the process lacks is said once
// on stderr and the watch runs to its timeout, the report naming the last
// reason; a pid that is no Python process is an error at the first poll.
func TestWatchUntilNames(t *testing.T) {
	ins := interpreters(t)
	in := ins[len(ins)-1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l := startLive(t, ctx, in, "late_names")
	var m lateNamesMarkers
	if err := l.Oracle.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	// A process that is no Python: the first poll cannot read a runtime.
	sleeper := exec.CommandContext(ctx, "sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Wait()
	defer sleeper.Process.Kill()
	py, other := strconv.Itoa(l.PID), strconv.Itoa(sleeper.Process.Pid)
	typo := m.EarlyClass.Name[:len(m.EarlyClass.Name)-1]
	tests := []struct {
		pid, condition string
		code           int
		stderr, stdout string // what each must contain
	}{
		{py, `count("Leaky User") > 0`, 2, `"Leaky User" is no class name`, ""},
		{py, `count("") == 0`, 2, `"" is no class name`, ""},
		{py, `__main__:EARLY[x] == 1`, 2, `write [N] or ['key']`, ""},
		{py, `len(__main__:NOPE) > 10`, 0, `waiting: __main__:NOPE cannot be read yet (<module '__main__'> has no attribute "NOPE")`, `"last_error"`},
		{py, `nosuchmod:X == 1`, 0, `waiting: nosuchmod:X cannot be read yet (module "nosuchmod" is not in sys.modules)`, `"last_error"`},
		{py, `count("NoSuchType") > 0`, 0, `note: count("NoSuchType") is 0: the process has no class named "NoSuchType" (yet)`, `"held": false`},
		{py, fmt.Sprintf("count(%q) > 0", typo), 0, fmt.Sprintf("did you mean %q?", m.EarlyClass.Name), `"held": false`},
		{py, `__main__:EARLY[5] == 1`, 0, `waiting: __main__:EARLY[5] cannot be read yet (index 5 is out of range`, `"last_error"`},
		{py, `__main__:EARLY > 1`, 1, `cannot be evaluated on the values read: invalid operation: list > int (to compare`, ""},
		{other, `__main__:DONE == 1`, 1, "pycoroner: ", ""},
	}
	for _, tc := range tests {
		start := time.Now()
		r := pycoroner(t, "watch", tc.pid, "--until", tc.condition, "--interval", "50ms", "--timeout", "1s", "-o", t.TempDir(), "--json")
		stderr := strings.TrimSpace(string(r.stderr))
		if r.code != tc.code || !strings.Contains(stderr, tc.stderr) || !strings.Contains(string(r.stdout), tc.stdout) {
			t.Errorf("--until %s on pid %s: exit %d, want %d with %q on stderr and %q on stdout\nstdout: %s\nstderr: %s",
				tc.condition, tc.pid, r.code, tc.code, tc.stderr, tc.stdout, r.stdout, stderr)
		}
		if tc.code != 0 && (strings.Count(stderr, "\n") > 1 || time.Since(start) > 30*time.Second) {
			t.Errorf("--until %s on pid %s: want a one-line error at once, got after %v:\n%s", tc.condition, tc.pid, time.Since(start), stderr)
		}
		if tc.code == 0 && strings.Count(stderr, tc.stderr) != 1 {
			t.Errorf("--until %s: want the note once, got:\n%s", tc.condition, stderr)
		}
	}
	if ok, why := l.Running(); !ok {
		t.Errorf("the process does not run freely after watch: %s", why)
	}
}

// TestWatchUntilProgramEnds: `watch --until COND -- PROGRAM` whose program
// ends without the condition ever holding ends the watch as a timeout
// does (exit 0, held false), saying the program ended and how. It used to
// exit 1 with "exited during the snapshot ... something killed it".
func TestWatchUntilProgramEnds(t *testing.T) {
	needBreakpoints(t)
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			args := []string{"watch", "--until", "len(sys:path) > 5000 and sys:path", "--interval", "20ms", "--timeout", "60s", "-o", t.TempDir(), "--json", "--"}
			r := pycoroner(t, append(args, in.Command("-c", "import sys, time; sys.path.insert(0, '/marker'); time.sleep(0.5)")...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s\n%s", r.code, r.stderr, r.stdout)
			}
			var got struct {
				Held         bool              `json:"held"`
				Polls        int               `json:"polls"`
				ProgramEnded bool              `json:"program_ended"`
				Values       map[string]string `json:"values"`
				LastError    string            `json:"last_error"`
				Program      struct {
					ExitStatus *int `json:"exit_status"`
				} `json:"program"`
			}
			if err := json.Unmarshal(r.stdout, &got); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			if got.Held || !got.ProgramEnded || got.Polls < 2 || got.Program.ExitStatus == nil || *got.Program.ExitStatus != 0 {
				t.Errorf("want the program ended with status 0, the condition never held, after some polls: %s", r.stdout)
			}
			// Why it never held: what the last full read saw, not the
			// finalising interpreter's missing sys.
			if !strings.Contains(got.Values["sys:path"], "'/marker'") || got.LastError != "" {
				t.Errorf("want the last values read (sys.path with '/marker') and no last error: %s", r.stdout)
			}
		})
	}
}
