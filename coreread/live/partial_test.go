package live

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPartialPID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{".x.core.partial-123-456789", 123, true},
		{".hit-1.core.partial-99-1", 99, true},
		{"x.core.partial-123-456789", 0, false}, // not hidden: not ours
		{".x.core.partial-123456789", 0, false}, // the old name, no pid
		{".x.core.partial--5-1", 0, false},
		{".x.core", 0, false},
	}
	for _, tc := range tests {
		pid, ok := partialPID(tc.name)
		if pid != tc.pid || ok != tc.ok {
			t.Errorf("partialPID(%q) = %d, %v; want %d, %v", tc.name, pid, ok, tc.pid, tc.ok)
		}
	}
}

// TestRemoveStalePartials: a partial file whose writer is dead is removed;
// one whose writer lives (this process, holding the lock) stays, and so
// does any other file.
func TestRemoveStalePartials(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1) to make a dead pid")
	}
	stale := filepath.Join(dir, ".a.core.partial-"+strconv.Itoa(dead.Process.Pid)+"-1")
	other := filepath.Join(dir, "a.core")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mine, err := CreatePartial(filepath.Join(dir, "b.core"))
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale partial file still there (%v)", err)
	}
	for _, p := range []string{other, mine.Name()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if err := unix.Flock(int(mine.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Errorf("our partial file is not locked by us: %v", err)
	}
}

// TestInstall: without overwrite an existing file is left as it was and
// the error says it exists; with overwrite, or when nothing is there, the
// temporary file takes the name.
func TestInstall(t *testing.T) {
	tests := []struct {
		name      string
		existing  bool
		overwrite bool
		want      string // the content at the path after
		exists    bool   // the error wraps fs.ErrExist
	}{
		{"new file", false, false, "new", false},
		{"existing kept", true, false, "old", true},
		{"existing replaced with overwrite", true, true, "new", false},
		{"new file with overwrite", false, true, "new", false},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		path, tmp := filepath.Join(dir, "x.core"), filepath.Join(dir, ".x.core.partial-1-1")
		if err := os.WriteFile(tmp, []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
		if tc.existing {
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		err := Install(tmp, path, tc.overwrite)
		if errors.Is(err, fs.ErrExist) != tc.exists || (err != nil && !tc.exists) {
			t.Errorf("%s: Install = %v, want exists %v", tc.name, err, tc.exists)
		}
		if got, _ := os.ReadFile(path); string(got) != tc.want {
			t.Errorf("%s: %s holds %q, want %q", tc.name, path, got, tc.want)
		}
		if _, err := os.Stat(tmp); (err == nil) != tc.exists {
			t.Errorf("%s: the temporary file is there: %v, want %v (the caller removes it on error)", tc.name, err == nil, tc.exists)
		}
	}
}
