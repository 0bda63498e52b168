package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/coreread/live"
	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// TestWatchSubinterpreterNames: against the live subinterps scenario, a
// name that gives a different object in each subinterpreter
// (child:MARKER) makes watch --on-change and watch --until say so once on
// stderr, as show does, and list it under "warnings" in their JSON; with
// @N they say nothing and "warnings" is [].
func TestWatchSubinterpreterNames(t *testing.T) {
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel() // mostly waiting: the scenario's start and the watches' timeouts
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			l, err := harness.StartLive(ctx, in, "subinterps")
			if err != nil {
				t.Skipf("the subinterps scenario cannot run live under %s: %v", in.Name, err)
			}
			t.Cleanup(l.Stop)
			var m subinterpsMarkers
			if err := l.Oracle.DecodeMarkers(&m); err != nil {
				t.Fatal(err)
			}
			if len(m.Interpreters) != 3 {
				t.Fatalf("oracle (%s): %d interpreters, want 3", m.API, len(m.Interpreters))
			}
			// The oldest is read first (interpreters are listed by
			// creation, and ids follow it). Each runner thread makes its
			// own, so which index was made first is a race: by id.
			sub1, sub2 := m.Interpreters[1], m.Interpreters[2]
			if sub1.ID > sub2.ID {
				sub1, sub2 = sub2, sub1
			}
			hexOf := func(a string) string {
				n, err := harness.ParseAddress(a)
				if err != nil {
					t.Fatalf("oracle: %v", err)
				}
				return fmt.Sprintf("0x%x", n)
			}
			parts := []string{
				"child:MARKER names a different object in each of 2 interpreters",
				fmt.Sprintf("interpreter %d: %s", sub1.ID, hexOf(sub1.Marker.Address)),
				fmt.Sprintf("interpreter %d: %s", sub2.ID, hexOf(sub2.Marker.Address)),
				fmt.Sprintf("interpreter %d's is used", sub1.ID),
				fmt.Sprintf("child:MARKER@%d", sub2.ID),
			}
			pid := strconv.Itoa(l.PID)
			type run struct {
				name string
				args []string
				warn bool
			}
			runs := []run{
				{"until", []string{"--until", "child:MARKER != nil"}, true},
				{"until@N", []string{"--until", fmt.Sprintf("child:MARKER@%d != nil", sub2.ID)}, false},
			}
			if err := live.BreakpointsFire(); err == nil {
				// The warning comes from resolving the name, before the
				// timeout starts: a short watch says it as well as a long.
				runs = append(runs,
					run{"on-change", []string{"--on-change", "child:MARKER", "--timeout", "200ms"}, true},
					run{"on-change@N", []string{"--on-change", fmt.Sprintf("child:MARKER@%d", sub2.ID), "--timeout", "200ms"}, false})
			} else {
				t.Logf("--on-change not checked: %v", err)
			}
			for _, r := range runs {
				for _, jsonOut := range []bool{true, false} {
					args := append([]string{"watch", pid}, r.args...)
					args = append(args, "-o", t.TempDir())
					if jsonOut {
						args = append(args, "--json")
					}
					cmd := exec.CommandContext(ctx, binary, args...)
					var stderr strings.Builder
					cmd.Stderr = &stderr
					stdout, err := cmd.Output()
					if err != nil {
						t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
					}
					var warnLines []string
					for _, line := range strings.Split(stderr.String(), "\n") {
						if strings.HasPrefix(line, "warning: ") {
							warnLines = append(warnLines, line)
						}
					}
					want := 0
					if r.warn {
						want = 1
					}
					if len(warnLines) != want {
						t.Errorf("%s: %d warning lines on stderr, want %d:\n%s", r.name, len(warnLines), want, stderr.String())
					}
					for _, w := range warnLines {
						for _, p := range parts {
							if !strings.Contains(w, p) {
								t.Errorf("%s: warning %q does not say %q", r.name, w, p)
							}
						}
					}
					if !jsonOut {
						continue
					}
					var got struct {
						Warnings *[]string `json:"warnings"`
					}
					if err := json.Unmarshal(stdout, &got); err != nil {
						t.Fatalf("%s: %v\n%s", r.name, err, stdout)
					}
					if got.Warnings == nil {
						t.Fatalf("%s: no \"warnings\" in %s", r.name, stdout)
					}
					if len(*got.Warnings) != want {
						t.Errorf("%s: warnings %q, want %d", r.name, *got.Warnings, want)
					}
					for _, w := range *got.Warnings {
						if len(warnLines) == 0 || "warning: "+w != warnLines[0] {
							t.Errorf("%s: JSON warning %q is not stderr's %q", r.name, w, warnLines[0])
						}
					}
				}
			}
			if ok, state := l.Running(); !ok {
				t.Errorf("the scenario does not run on after the watches: %s", state)
			}
		})
	}
}
