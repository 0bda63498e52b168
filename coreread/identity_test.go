package coreread

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func identityOf(t *testing.T, path string) Identity {
	t.Helper()
	p, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	id, err := p.Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// The identity follows the core's content, not its path; a core rewritten
// with other notes has another, even with the same size and time.
func TestIdentity(t *testing.T) {
	mem := []byte("0123456789abcdef")
	core := synthCore(t, note(ntPrstatus, prstatus(101, 0x7000)), 0x1000, mem)
	path := writeTemp(t, core)
	stamp := time.Unix(1700000000, 0)
	os.Chtimes(path, stamp, stamp)
	a := identityOf(t, path)
	if a.Size != int64(len(core)) || !a.MTime.Equal(stamp) || a.Notes == ([32]byte{}) {
		t.Fatalf("identity %+v", a)
	}
	copyPath := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(copyPath, core, 0o644)
	os.Chtimes(copyPath, stamp, stamp)
	if b := identityOf(t, copyPath); b != a {
		t.Errorf("a copy elsewhere: %+v, want %+v", b, a)
	}
	// Another thread id in the notes, same size and time.
	rewritten := synthCore(t, note(ntPrstatus, prstatus(102, 0x7000)), 0x1000, mem)
	os.WriteFile(path, rewritten, 0o644)
	os.Chtimes(path, stamp, stamp)
	if b := identityOf(t, path); b.Notes == a.Notes || b.Size != a.Size || !b.MTime.Equal(a.MTime) {
		t.Errorf("rewritten notes: %+v, was %+v", b, a)
	}
	// The same notes, another time.
	os.WriteFile(path, core, 0o644)
	if b := identityOf(t, path); b == a {
		t.Errorf("a new mtime kept the identity %+v", b)
	}
}
