package integration

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// coreBytes reads a core whole, with its ELF headers parsed.
func coreBytes(t *testing.T, path string) ([]byte, *elf.File) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return raw, ef
}

// TestRenamedExecutableMissing: Debian's python3.11 has libpython linked
// in, so a renamed copy ("myapp") is the interpreter under a name that
// does not say python. With the file missing too, the runtime is found
// only by the scan of writable memory, which must count the executable's
// pages whatever its name (it said "no interpreter state in its memory").
// The core is a real one whose file notes are rewritten to the new name.
func TestRenamedExecutableMissing(t *testing.T) {
	in, err := harness.Lookup("debian-3.11")
	if err != nil {
		skipOrFail(t, "Debian's python3.11 is not installed (apt-get install python3.11)")
	}
	res := cachedCore(t, in, "threads", harness.Gcore)
	raw, ef := coreBytes(t, res.CorePath)
	old := []byte(in.Path + "\x00")
	renamed := []byte(filepath.Join(filepath.Dir(in.Path), strings.Repeat("x", len(filepath.Base(in.Path)))) + "\x00")
	n := 0
	for _, p := range ef.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		notes := raw[p.Off : p.Off+p.Filesz]
		n += bytes.Count(notes, old)
		copy(notes, bytes.ReplaceAll(notes, old, renamed))
	}
	if n == 0 {
		t.Fatalf("the core's notes never name %s", in.Path)
	}
	core := filepath.Join(t.TempDir(), "core")
	if err := os.WriteFile(core, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	r := pycoroner(t, "stacks", "--json", "--sysroot", t.TempDir(), core)
	checkThreadsWithoutBinaries(t, res, r)
	if !strings.Contains(string(r.stderr)+string(r.stdout), strings.TrimSuffix(string(renamed), "\x00")) {
		t.Errorf("no warning names the missing %s: %s", renamed, r.stderr)
	}
}
