package live

import (
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
