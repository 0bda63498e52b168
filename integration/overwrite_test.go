package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLiveWritesNeverOverwrite: snapshot -o FILE and watch -o DIR refuse,
// in one line and before touching the process, to replace a file that is
// already there (a crash core passed as -o by mistake used to be
// destroyed), and replace it with --force. Files a watch would not write
// stay as they were.
func TestLiveWritesNeverOverwrite(t *testing.T) {
	ins := interpreters(t)
	in := ins[len(ins)-1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := startLive(t, ctx, in, "counter")
	pid := strconv.Itoa(l.PID)
	earlier := []byte("an earlier core, not to be lost\n")
	elf := []byte("\x7fELF")
	tests := []struct {
		name     string
		existing []string // files in the scratch directory D first
		args     []string // "D" is the scratch directory
		code     int
		stderr   string
		replaced []string // of existing: which become cores (the rest keep their bytes)
	}{
		{"snapshot onto a file", []string{"crash.core"}, []string{"snapshot", pid, "-o", "D/crash.core"}, 1, "D/crash.core exists: pass --force to overwrite it", nil},
		{"snapshot --force", []string{"crash.core"}, []string{"snapshot", pid, "-o", "D/crash.core", "--force"}, 0, "", []string{"crash.core"}},
		{"snapshot onto a directory", []string{"crash.core"}, []string{"snapshot", pid, "-o", "D", "--force"}, 1, "D is a directory: give -o a file name", nil},
		{"watch --until onto until.core", []string{"until.core"}, []string{"watch", pid, "--until", "len(sys:path) > 0", "-o", "D"}, 1, "D already holds until.core (from an earlier watch?): pass --force", nil},
		{"watch --until --force", []string{"until.core", "hit-1.core"}, []string{"watch", pid, "--until", "len(sys:path) > 0", "-o", "D", "--force"}, 0, "", []string{"until.core"}},
		{"watch --until beside other cores", []string{"hit-1.core", "crash.core"}, []string{"watch", pid, "--until", "len(sys:path) > 0", "-o", "D"}, 0, "", nil},
		{"watch --on-change onto hit-2.core", []string{"hit-2.core"}, []string{"watch", pid, "--on-change", "sys:path", "--count", "2", "-o", "D"}, 1, "D already holds hit-2.core (from an earlier watch?): pass --force", nil},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		for _, f := range tc.existing {
			if err := os.WriteFile(filepath.Join(dir, f), earlier, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		args := make([]string, len(tc.args))
		for i, a := range tc.args {
			if a == "D" || strings.HasPrefix(a, "D/") {
				a = dir + a[1:]
			}
			args[i] = a
		}
		start := time.Now()
		r := pycoroner(t, args...)
		stderr := strings.TrimSpace(string(r.stderr))
		want := strings.ReplaceAll(tc.stderr, "D", dir)
		if r.code != tc.code || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, r.code, tc.code, want, stderr)
		}
		if tc.code != 0 && (strings.Contains(stderr, "\n") || time.Since(start) > 20*time.Second) {
			t.Errorf("%s: want a one-line error at once, got after %v:\n%s", tc.name, time.Since(start), stderr)
		}
		for _, f := range tc.existing {
			got, err := os.ReadFile(filepath.Join(dir, f))
			replaced := false
			for _, g := range tc.replaced {
				replaced = replaced || g == f
			}
			switch {
			case err != nil:
				t.Errorf("%s: %s: %v", tc.name, f, err)
			case replaced && !bytes.HasPrefix(got, elf):
				t.Errorf("%s: %s was not replaced by a core: %q", tc.name, f, got[:min(len(got), 40)])
			case !replaced && !bytes.Equal(got, earlier):
				t.Errorf("%s: %s was changed", tc.name, f)
			}
		}
	}
	if ok, why := l.Running(); !ok {
		t.Errorf("the process does not run freely after: %s", why)
	}
}
