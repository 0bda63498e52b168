package reports

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestPathInside(t *testing.T) {
	tests := []struct {
		child, parent string
		want          bool
	}{
		{"/a/b", "/a", true},
		{"/a/b/c", "/a", true},
		{"/a", "/a", false},
		{"/ab", "/a", false},
		{"/a", "/a/b", false},
		{"/a", "/", true},
		{"/", "/", false},
		{"a/b", "a", true},
		{"a", ".", true},
		{"..", ".", false},
		{"../x", ".", false},
		{".", ".", false},
		{"/a/b", ".", false},
		{"a", "/", false},
	}
	for _, tc := range tests {
		if got := pathInside(tc.child, tc.parent); got != tc.want {
			t.Errorf("pathInside(%q, %q) = %v, want %v", tc.child, tc.parent, got, tc.want)
		}
	}
}

func TestAnalyzeSysPath(t *testing.T) {
	exists := map[string]bool{"/app": true, "/app/pkg": true, "/usr/lib/python3.12": true}
	canon := func(p string) string {
		c := filepath.Clean(p)
		if c == "/srv/link" { // a symlink to /app
			return "/app"
		}
		return c
	}
	ints := func(v ...int) []int { return append([]int{}, v...) }
	one := func(i int) *int { return &i }
	got := analyzeSysPath([]string{"/app/pkg", "/app", "/app/", "", "/usr/lib/python3.12", "/usr/lib/python312.zip", "/srv/link", "sub/dir"},
		canon, func(p string) bool { return exists[filepath.Clean(p)] })
	want := []SysPathEntry{
		{Index: 0, Path: "/app/pkg", Exists: true, Inside: ints(1, 2, 6), DoubleImportFrom: ints(1, 2, 6)},
		{Index: 1, Path: "/app", Exists: true, Inside: ints(), DoubleImportFrom: ints()},
		{Index: 2, Path: "/app/", Exists: true, DuplicateOf: one(1), Inside: ints(), DoubleImportFrom: ints()},
		{Index: 3, Path: "", Inside: ints(), DoubleImportFrom: ints(), Relative: true},
		{Index: 4, Path: "/usr/lib/python3.12", Exists: true, Inside: ints(), DoubleImportFrom: ints()},
		{Index: 5, Path: "/usr/lib/python312.zip", Inside: ints(), DoubleImportFrom: ints()},
		{Index: 6, Path: "/srv/link", DuplicateOf: one(1), Inside: ints(), DoubleImportFrom: ints()},
		{Index: 7, Path: "sub/dir", Inside: ints(3), DoubleImportFrom: ints(3), Relative: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("analyzeSysPath:\n got %+v\nwant %+v", got, want)
	}
}

func TestImportableFrom(t *testing.T) {
	tests := []struct {
		inner, outer string
		want         bool
	}{
		{"/app/pkg", "/app", true},
		{"/app/pkg/sub", "/app", true},
		{"/usr/lib/python3.12/site-packages", "/usr/lib/python3.12", false},
		{"/usr/lib/python3.12/lib-dynload", "/usr/lib/python3.12", false},
		{"/app/2fast", "/app", false},
		{"/app/pkg/", "/app", true},
		{"/app", "/app", false},
		{"/other", "/app", false},
	}
	for _, tc := range tests {
		if got := importableFrom(tc.inner, tc.outer); got != tc.want {
			t.Errorf("importableFrom(%q, %q) = %v, want %v", tc.inner, tc.outer, got, tc.want)
		}
	}
}

func TestHostPathsCanon(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "real/pkg"), 0o755))
	must(os.Symlink(filepath.Join(root, "real"), filepath.Join(root, "link")))
	must(os.Symlink("/etc", filepath.Join(root, "escape")))
	realRoot, _ := filepath.EvalSymlinks(root)

	host := HostPaths{}
	if got, want := host.Canon(filepath.Join(root, "link/pkg/")), filepath.Join(realRoot, "real/pkg"); got != want {
		t.Errorf("Canon through a link = %q, want %q", got, want)
	}
	if got := host.Canon("/no/such/dir/../x"); got != "/no/such/x" {
		t.Errorf("Canon of a missing path = %q, want it cleaned only", got)
	}
	if got := host.Canon(""); got != "." {
		t.Errorf("Canon(\"\") = %q", got)
	}
	sys := HostPaths{Sysroot: root}
	if got := sys.Canon("/link/pkg"); got != "/real/pkg" {
		t.Errorf("Canon under the sysroot = %q, want /real/pkg", got)
	}
	if got := sys.Canon("/escape"); got != "/escape" {
		t.Errorf("a link out of the sysroot was followed: %q", got)
	}
	if !sys.Exists("/real/pkg") || sys.Exists("/nope") || sys.Exists("real") {
		t.Errorf("Exists under the sysroot is wrong")
	}
}
