package integration

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// TestInfoOnACoreCutInHalf: a real crash core cut at half its length. The
// files whose header page lay in the lost half are "unverified" (their
// build-id is unknown, not absent), those before the cut keep their
// status, and python says why it is unknown. Which file is which comes
// from the core's own program headers and file note.
func TestInfoOnACoreCutInHalf(t *testing.T) {
	in := interpreters(t)[0]
	// A kernel core: its notes come first, so a cut keeps them (gcore
	// writes them at the end).
	res := cachedCore(t, in, "threads", harness.Segv)
	raw, ef := coreBytes(t, res.CorePath)
	cut := int64(len(raw) / 2)
	for _, p := range ef.Progs {
		if p.Type == elf.PT_NOTE && int64(p.Off+p.Filesz) > cut {
			t.Fatalf("the notes of %s end past half of it: a kernel core's come first", res.CorePath)
		}
	}
	// Each file's first page, from the whole core's file note (read with
	// the package itself, as the corrupt-core tests read their facts),
	// and its status there.
	p, err := coreread.Open(res.CorePath, coreread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files := p.Files()
	p.Close()
	offsetOf := func(addr uint64) (int64, bool) {
		for _, p := range ef.Progs {
			if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
				return int64(p.Off + addr - p.Vaddr), true
			}
		}
		return 0, false
	}
	core := filepath.Join(t.TempDir(), "core")
	if err := os.WriteFile(core, raw[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	r := pycoroner(t, "info", "--json", core)
	var got struct {
		PythonVersion *string `json:"python_version"`
		Files         []struct {
			Path   string `json:"path"`
			Status string `json:"status"`
		} `json:"files"`
	}
	if err := json.Unmarshal(r.stdout, &got); r.code != 0 || err != nil {
		t.Fatalf("info of the cut core: exit %d, %v: %s", r.code, err, r.stderr)
	}
	status := map[string]string{}
	for _, f := range got.Files {
		status[f.Path] = f.Status
	}
	lost := 0
	for _, f := range files {
		off, dumped := offsetOf(f.Start)
		if !dumped || f.Status == coreread.FileMissing || f.Status == coreread.FileNotELF {
			continue
		}
		want := string(f.Status)
		if off >= cut {
			want, lost = "unverified", lost+1
		}
		if status[f.Path] != want {
			t.Errorf("%s (header at core offset %d, cut at %d): status %q, want %q", f.Path, off, cut, status[f.Path], want)
		}
	}
	if lost == 0 {
		t.Fatalf("no file's header page lies past the cut of %s: nothing tested", res.CorePath)
	}
	text := pycoroner(t, "info", core)
	if got.PythonVersion == nil && !strings.Contains(string(text.stdout), "the core is truncated") {
		t.Errorf("python unknown without saying the core is truncated:\n%s", text.stdout)
	}
	t.Logf("%d file(s) past the cut, python %v", lost, got.PythonVersion)
}
