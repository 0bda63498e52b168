package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// binary is the pycoroner executable built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pycoroner-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pycoroner")
	// Heap commands save their census in an index cache: a private one,
	// so that the tests neither fill the user's nor share one run to run.
	os.Setenv("PYCORONER_INDEX_DIR", filepath.Join(dir, "index"))
	// And decompressed cores in a private directory too: `cache --clear`
	// removes them.
	os.Setenv("PYCORONER_CACHE_DIR", filepath.Join(dir, "cores"))
	_, self, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", binary, "./cmd/pycoroner")
	build.Dir = filepath.Join(filepath.Dir(self), "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build pycoroner: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr []byte
	code           int
}

func pycoroner(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pycoroner %v: timed out", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("pycoroner %v: %v", args, err)
	}
	if bytes.Contains(errb.Bytes(), []byte("goroutine ")) || bytes.Contains(errb.Bytes(), []byte("panic:")) {
		t.Fatalf("pycoroner %v printed a Go panic:\n%s", args, errb.Bytes())
	}
	return result{out.Bytes(), errb.Bytes(), code}
}

// interpreters returns the interpreters to test on; under CI a missing
// gcore or fewer than 6 minor versions is a failure, never a silent skip.
func interpreters(t *testing.T) []harness.Interpreter {
	t.Helper()
	ins := harness.FindInterpreters()
	minors := map[string]bool{}
	for _, in := range ins {
		minors[in.Minor] = true
	}
	_, gcoreErr := exec.LookPath("gcore")
	problem := ""
	switch {
	case gcoreErr != nil:
		problem = "gcore is not installed (apt-get install gdb)"
	case len(minors) < 6:
		problem = fmt.Sprintf("found %d CPython minor versions, need 3.8 to 3.13 (pyenv install)", len(minors))
	case len(harness.MissingSid()) > 0:
		problem = fmt.Sprintf("Debian sid's CPython %v missing under %s (run scripts/sid-pythons.sh)", harness.MissingSid(), harness.SidRoot())
	}
	if problem != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("integration tests cannot run: %s", problem)
		}
		t.Skipf("integration tests skipped: %s", problem)
	}
	return ins
}
