package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
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
			l, err := harness.StartLive(ctx, in, "syspath_culprit")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Stop()
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
			cmd := exec.CommandContext(ctx, binary, "watch", strconv.Itoa(l.PID), "--on-change", "sys:path",
				"-o", t.TempDir(), "--timeout", "60s", "--json")
			var out bytes.Buffer
			cmd.Stdout = &out
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ready := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stderr)
				var all []string
				for sc.Scan() {
					all = append(all, sc.Text())
					if sc.Text() == "watching" {
						ready <- ""
					}
				}
				ready <- strings.Join(all, "\n")
			}()
			select {
			case msg := <-ready:
				if msg != "" {
					cmd.Wait()
					t.Fatalf("watch ended before arming: %s", msg)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("watch did not arm within 30s")
			}
			syscall.Kill(l.PID, syscall.SIGUSR1) // the scenario's cue to run culprit()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("watch: %v\n%s", err, out.Bytes())
			}
			var got watchJSON
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("watch --json: %v\n%s", err, out.Bytes())
			}
			if len(got.Hits) != 1 || len(got.Hits[0].Thread.Frames) == 0 {
				t.Fatalf("want one hit with a Python stack, got %s", out.Bytes())
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
