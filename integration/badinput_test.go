package integration

import (
	"bytes"
	"context"
	"github.com/pycoroner/pycoroner/fixtures/harness"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bad input must give a one-line error naming the problem and exit 1 (2 for
// usage errors): never a Go panic, never a hang.

func truncatedCopy(t *testing.T, src string, size int64) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if size > int64(len(data)) {
		size = int64(len(data))
	}
	dst := filepath.Join(t.TempDir(), "truncated.core")
	if err := os.WriteFile(dst, data[:size], 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestBadInput(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	text := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(text, []byte("this is not a core file\n"), 0o644)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	st, _ := os.Stat(core)

	tests := []struct {
		name string
		args []string
		code int
		want string // in the one-line error
	}{
		{"missing file", []string{"stacks", "/nonexistent/core"}, 1, "no such file"},
		{"directory", []string{"stacks", t.TempDir()}, 1, "is a directory"},
		{"text file", []string{"stacks", text}, 1, "not an ELF core file"},
		{"empty file", []string{"stacks", empty}, 1, "not an ELF core file"},
		{"executable", []string{"stacks", "/bin/sh"}, 1, "not a core file"},
		{"truncated in the headers", []string{"stacks", truncatedCopy(t, core, 100)}, 1, "truncated"},
		// gcore writes the notes last: a core cut in half loses them and
		// the interpreter's data.
		{"truncated in the heap", []string{"stacks", "--sysroot", sysroot, truncatedCopy(t, core, st.Size()/2)}, 1, "truncated"},
		{"no argument", []string{"stacks"}, 2, "missing CORE"},
		{"two arguments", []string{"stacks", core, core}, 2, "expected one CORE"},
		{"unknown flag", []string{"stacks", "--frobnicate", core}, 2, "unknown flag"},
		{"unknown command", []string{"frobnicate", core}, 2, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := pycoroner(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tc.code, r.stderr)
			}
			first, _, _ := strings.Cut(strings.TrimSpace(string(r.stderr)), "\n")
			if !strings.Contains(first, tc.want) {
				t.Errorf("error %q does not say %q", first, tc.want)
			}
		})
	}
}

// A wrong --exe is a different build: warn, naming both build-ids, and
// still read what can be read.
func TestWrongExeWarns(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	r := pycoroner(t, "info", "--sysroot", sysroot, "--exe", "/bin/sh", core)
	if !bytes.Contains(r.stdout, []byte("different build")) && !bytes.Contains(r.stderr, []byte("different build")) {
		t.Errorf("no build-id warning for --exe /bin/sh:\n%s\n%s", r.stdout, r.stderr)
	}
	if r.code != 0 {
		t.Errorf("info exited %d", r.code)
	}
	// A replacement with DWARF of its own (pyenv's python, whose structs
	// live in libpython) is named as the file read in the warning that
	// its DWARF was not used, not only by the core's path.
	for _, in := range interpreters(t) {
		if !strings.HasPrefix(in.Name, "pyenv-") || in.LibPython == "" {
			continue
		}
		r := pycoroner(t, "stacks", "--json", "--sysroot", sysroot, "--exe", in.Path, core)
		if !bytes.Contains(r.stdout, []byte("not used")) {
			// pyenv's builds carry DWARF: a wrong binary's is refused.
			t.Fatalf("%s's DWARF raised no warning: %s", in.Path, r.stdout)
		}
		if !bytes.Contains(r.stdout, []byte("(read from "+in.Path+")")) {
			t.Errorf("the DWARF warning does not name %s, the file read:\n%s", in.Path, r.stdout)
		}
		break
	}
}

// TestWrongExeFailsSayingSo: when the runtime cannot be found and a file
// read is of another build (--exe), the error says that first: it is all
// a failing command prints.
func TestWrongExeFailsSayingSo(t *testing.T) {
	deb, err := harness.Lookup("debian-3.11")
	if err != nil {
		skipOrFail(t, "Debian's python3.11 is not installed (apt-get install python3.11)")
	}
	for _, in := range interpreters(t) {
		if in.Origin != "pyenv" || in.Minor == "3.11" {
			continue
		}
		res := cachedCore(t, in, "threads", harness.Gcore)
		r := pycoroner(t, "stacks", "--exe", deb.Path, res.CorePath)
		if r.code == 0 {
			t.Fatalf("%s read with --exe %s: the runtime was found through another build's symbols", in.Name, deb.Path)
		}
		want := "pycoroner: " + res.CorePath + ": " + deb.Path + " on this host is a different build than the one in the core"
		if r.code != 1 || !strings.HasPrefix(string(r.stderr), want) {
			t.Errorf("stacks --exe %s on a %s core: exit %d: %s\nwant 1 and an error starting %q", deb.Path, in.Name, r.code, r.stderr, want)
		}
		return
	}
	t.Skip("no pyenv interpreter")
}

// A core whose files are missing still opens; info says which are missing.
func TestMissingLibraryWarns(t *testing.T) {
	core, _, _ := goldenCore(t, "debian-3.11-gcore")
	r := pycoroner(t, "info", "--json", "--sysroot", t.TempDir(), core)
	if r.code != 0 {
		t.Fatalf("info exited %d: %s", r.code, r.stderr)
	}
	if !bytes.Contains(r.stdout, []byte(`"status": "missing"`)) || !bytes.Contains(r.stdout, []byte("is not on this host")) {
		t.Errorf("info does not report the missing files:\n%s", r.stdout)
	}
}

// A core of a process that is not Python says so.
func TestNonPythonCore(t *testing.T) {
	gcore, err := exec.LookPath("gcore")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gcore is not installed")
		}
		t.Skip("gcore is not installed")
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	time.Sleep(100 * time.Millisecond)
	prefix := filepath.Join(t.TempDir(), "sleep")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, gcore, "-o", prefix, strconv.Itoa(sleep.Process.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	core := prefix + "." + strconv.Itoa(sleep.Process.Pid)
	r := pycoroner(t, "stacks", core)
	if r.code != 1 || !bytes.Contains(r.stderr, []byte("no CPython runtime found")) {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
	if r := pycoroner(t, "info", core); r.code != 0 || !bytes.Contains(r.stdout, []byte("no CPython interpreter found")) {
		t.Errorf("info on a non-Python core: exit %d\n%s", r.code, r.stdout)
	}
}
