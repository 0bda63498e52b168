package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// runningScript is a small Python program a test wrote, running under one
// interpreter: its pid, and its standard output line by line (how it says
// what it knows of itself).
type runningScript struct {
	cmd   *exec.Cmd
	lines *bufio.Reader
}

func (s runningScript) pid() int { return s.cmd.Process.Pid }

// forEachScript writes src to a file and runs fn, in parallel subtests,
// with it running under every interpreter; the process is killed when fn
// returns.
func forEachScript(t *testing.T, name, src string, fn func(t *testing.T, ctx context.Context, s runningScript)) {
	script := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			fn(t, ctx, startScript(t, ctx, in, script))
		})
	}
}

func startScript(t *testing.T, ctx context.Context, in harness.Interpreter, script string) runningScript {
	t.Helper()
	argv := in.Command(script)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return runningScript{cmd: cmd, lines: bufio.NewReader(out)}
}
