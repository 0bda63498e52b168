package integration

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A core truncated while pycoroner reads it (a copy still in progress, a
// disk quota, a rotation job): the mapped pages past the new end fault.
// Each trial stops pycoroner once the core is mapped, truncates the core,
// and lets it go on: it must end with one line and exit 1 (or finish, if
// it had read everything it needed), never die of SIGBUS with a Go dump.
// The census runs on three workers too, so their goroutines are covered.
func TestCoreTruncatedWhileRead(t *testing.T) {
	golden, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		args []string
	}{
		{"histogram", nil, []string{"histogram"}},
		{"histogram on 3 census workers", []string{"PYCORONER_CENSUS_WORKERS=3"}, []string{"histogram"}},
		{"stacks --locals", nil, []string{"stacks", "--locals"}},
		{"grep", []string{"PYCORONER_CENSUS_WORKERS=3"}, []string{"grep", "--json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			changed := 0
			for trial := 0; trial < 20 && changed == 0; trial++ {
				core := filepath.Join(t.TempDir(), "core")
				if err := os.WriteFile(core, data, 0o644); err != nil {
					t.Fatal(err)
				}
				args := append(append([]string{}, tc.args...), "--sysroot", sysroot, core)
				if tc.args[0] == "grep" {
					args = append(args, "user")
				}
				code, stderr, stopped := runTruncatingCore(t, core, tc.env, args)
				first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
				switch {
				case !stopped:
					continue // it ended before it was caught with the core mapped
				case code == 0:
					continue // it had read all it needed before the truncation
				case code != 1 || strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "internal error"):
					t.Fatalf("trial %d: exit %d after the core was truncated; stderr:\n%.2000s", trial, code, stderr)
				case strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(first, "warning"):
					t.Fatalf("trial %d: more than one line: %q", trial, stderr)
				}
				if strings.Contains(stderr, "the core changed while being read") {
					changed++
				}
				t.Logf("trial %d: exit %d: %s", trial, code, lastLine(stderr))
			}
			if changed == 0 {
				t.Errorf("no trial caught pycoroner reading the truncated core")
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// runTruncatingCore runs pycoroner, stops it as soon as it has the core
// mapped, truncates the core to one page, and continues it. stopped says
// whether it was caught with the core still mapped.
func runTruncatingCore(t *testing.T, core string, env, args []string) (code int, stderr string, stopped bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	maps := "/proc/" + strconv.Itoa(pid) + "/maps"
	for {
		m, err := os.ReadFile(maps)
		if err != nil || len(m) == 0 {
			break // exited
		}
		if !bytes.Contains(m, []byte(core)) {
			continue
		}
		syscall.Kill(pid, syscall.SIGSTOP)
		waitStopped(pid)
		if m, _ := os.ReadFile(maps); bytes.Contains(m, []byte(core)) {
			stopped = true
			if err := os.Truncate(core, 4096); err != nil {
				t.Fatal(err)
			}
		}
		syscall.Kill(pid, syscall.SIGCONT)
		break
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("pycoroner %v: timed out", args)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, errb.String(), stopped
}

// waitStopped waits (a little) until the process is in the stopped state.
func waitStopped(pid int) {
	for i := 0; i < 1000; i++ {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if i := bytes.LastIndexByte(st, ')'); i >= 0 && i+2 < len(st) && (st[i+2] == 'T' || st[i+2] == 'Z') {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
