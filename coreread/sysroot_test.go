package coreread

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// openers are the two ways a file is opened under a sysroot: openat2, and
// the component walk used where the kernel lacks it.
var openers = map[string]func(root, path string) (*os.File, error){
	"openat2": OpenInRoot,
	"walk": func(root, path string) (*os.File, error) {
		rootFD, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		defer unix.Close(rootFD)
		fd, err := walkInRoot(rootFD, strings.TrimLeft(filepath.Clean("/"+path), "/"), unix.O_RDONLY|unix.O_NONBLOCK)
		if err != nil {
			return nil, err
		}
		return regularFile(fd, path)
	},
}

// realPath is where an open file really is.
func realPath(t *testing.T, f *os.File) string {
	t.Helper()
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenInRoot(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/libreal.so.1"), []byte("inside"), 0o644)
	os.Symlink("/usr/lib/libreal.so.1", filepath.Join(root, "usr/lib/libabs.so"))      // absolute, inside
	os.Symlink("libreal.so.1", filepath.Join(root, "usr/lib/librel.so"))               // relative, inside
	os.Symlink("/proc", filepath.Join(root, "proc"))                                   // the probe's escape
	os.Symlink("/etc/hostname", filepath.Join(root, "usr/lib/libout.so"))              // points out
	os.Symlink("../../../../../etc/hostname", filepath.Join(root, "usr/lib/libup.so")) // climbs out
	tests := []struct {
		path    string
		inside  string // the file opened, relative to root; "" when it must fail
		outside bool   // the failure says it leads out of the root
	}{
		{"/usr/lib/libreal.so.1", "usr/lib/libreal.so.1", false},
		{"/usr/lib/libabs.so", "usr/lib/libreal.so.1", false},
		{"/usr/lib/librel.so", "usr/lib/libreal.so.1", false},
		{"/../../usr/lib/libreal.so.1", "usr/lib/libreal.so.1", false},
		{"/proc/self/fd/0", "", true},
		{"/proc/self/exe", "", true},
		{"/usr/lib/libout.so", "", true},
		{"/usr/lib/libup.so", "", true},
		{"/usr/lib/missing.so", "", false},
		{"/usr/lib", "", false}, // a directory is not a regular file
	}
	for name, open := range openers {
		for _, tc := range tests {
			t.Run(name+tc.path, func(t *testing.T) {
				f, err := open(root, tc.path)
				if tc.inside == "" {
					if err == nil {
						got := realPath(t, f)
						f.Close()
						t.Fatalf("opened %s", got)
					}
					if tc.outside && !errors.Is(err, ErrOutsideRoot) && name == "openat2" {
						t.Errorf("error %v does not say the path leads outside the root", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				defer f.Close()
				if got := realPath(t, f); got != filepath.Join(root, tc.inside) {
					t.Errorf("opened %s, want %s", got, filepath.Join(root, tc.inside))
				}
			})
		}
	}
}

// A file that flips between a regular file and a symlink out of the root
// while it is opened: no open may land outside (was: 5 of 400 did).
func TestOpenInRootRace(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "lib"), 0o755)
	target := filepath.Join(root, "lib/libc.so.6")
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tmpFile, tmpLink := target+".f", target+".l"
		for !stop.Load() {
			os.WriteFile(tmpFile, []byte("inside"), 0o644)
			os.Rename(tmpFile, target)
			os.Symlink("/etc/hostname", tmpLink)
			os.Rename(tmpLink, target)
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()
	for name, open := range openers {
		opened, refused := 0, 0
		for i := 0; i < 200000 && (opened < 200 || refused < 200); i++ {
			f, err := open(root, "/lib/libc.so.6")
			if err != nil {
				refused++
				continue
			}
			opened++
			if got := realPath(t, f); !strings.HasPrefix(got, root+"/") {
				f.Close()
				t.Fatalf("%s: opened %s, outside %s", name, got, root)
			}
			f.Close()
		}
		t.Logf("%s: %d opens found the regular file, %d were refused", name, opened, refused)
		if opened == 0 || refused == 0 {
			t.Errorf("%s: the race never happened (%d opened, %d refused)", name, opened, refused)
		}
	}
}

func TestStatInRoot(t *testing.T) {
	root := t.TempDir()
	os.Symlink("/usr", filepath.Join(root, "usr")) // resolves to itself inside the root
	if _, err := StatInRoot(root, "/usr/lib"); err == nil {
		t.Errorf("/usr/lib exists under a root that only links to the host's /usr")
	}
	os.MkdirAll(filepath.Join(root, "opt/app"), 0o755)
	if st, err := StatInRoot(root, "/opt/app"); err != nil || !st.IsDir() {
		t.Errorf("StatInRoot(/opt/app) = %v, %v", st, err)
	}
}
