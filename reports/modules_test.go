package reports

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pycoroner/pycoroner/pyheap"
)

func TestModuleNameOf(t *testing.T) {
	for rel, want := range map[string]string{
		"mod.py":                               "mod",
		"pkg/sub/mod.py":                       "pkg.sub.mod",
		"pkg/__init__.py":                      "pkg",
		"pkg/sub/__init__.pyc":                 "pkg.sub",
		"_ext.cpython-312-x86_64-linux-gnu.so": "_ext",
		"pkg/__pycache__/m.cpython-312.pyc":    "pkg.__pycache__.m",
	} {
		if got := moduleNameOf(rel); got != want {
			t.Errorf("moduleNameOf(%q) = %q, want %q", rel, got, want)
		}
	}
}

func TestFindDuplicates(t *testing.T) {
	mods := []pyheap.Module{
		{Name: "os", Addr: 0x10, File: "/usr/lib/python3.12/os.py"},
		{Name: "posixpath", Addr: 0x20, File: "/usr/lib/python3.12/posixpath.py"},
		{Name: "os.path", Addr: 0x20, File: "/usr/lib/python3.12/posixpath.py"}, // one object, two names: fine
		{Name: "sys", Addr: 0x30},
		{Name: "pkg.sub.mod", Addr: 0x40, File: "/app/pkg/sub/mod.py"},
		{Name: "sub.mod", Addr: 0x50, File: "/app/pkg/sub/../sub/mod.py"},
		{Name: "__main__", Addr: 0x60, File: "/srv/run/tool.py"},
		{Name: "tool", Addr: 0x70, File: "/srv/link/tool.py"}, // the same file through a link
		{Name: "sub2", Addr: 0x80, File: "/app/pkg/sub2.py", Interp: 0},
		{Name: "sub2", Addr: 0x90, File: "/app/pkg/sub2.py", Interp: 1}, // another interpreter's copy: fine
	}
	canon := func(p string) string {
		c := filepath.Clean(p)
		if dir, file := filepath.Split(c); dir == "/srv/link/" {
			return "/srv/run/" + file
		}
		return c
	}
	sysPath := []string{"/app/pkg", "/srv/run", "/app/", "/usr/lib/python3.12", "/app"}
	got := findDuplicates(mods, sysPath, canon)
	want := []DuplicateModule{
		{File: "/app/pkg/sub/mod.py", Names: []string{"pkg.sub.mod", "sub.mod"}, Addresses: []string{"0x40", "0x50"},
			SysPathEntries: []string{"/app/pkg", "/app/"}, ImportedFrom: []string{"/app/", "/app/pkg"}},
		// The script run as __main__ and imported as tool: only tool comes
		// from a sys.path entry.
		{File: "/srv/run/tool.py", Names: []string{"__main__", "tool"}, Addresses: []string{"0x60", "0x70"},
			SysPathEntries: []string{"/srv/run"}, ImportedFrom: []string{"", "/srv/run"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findDuplicates:\n got %+v\nwant %+v", got, want)
	}
}

func TestBlameEntriesFallsBackToNesting(t *testing.T) {
	// Names that no entry explains (a custom loader): name the nested
	// entries that hold the file.
	canon := []string{"/x", "/app", "/app/lib", "/app/lib/deep"}
	got := blameEntries("/app/lib/deep/m.py", []string{"weird", "names"}, canon, canon)
	if want := []string{"/app", "/app/lib", "/app/lib/deep"}; !reflect.DeepEqual(got, want) {
		t.Errorf("blameEntries = %q, want %q", got, want)
	}
	if got := blameEntries("/y/m.py", []string{"m", "n"}, canon, canon); len(got) != 0 {
		t.Errorf("entries that do not hold the file were blamed: %q", got)
	}
}
