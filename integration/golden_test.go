package integration

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// The golden cores in testdata/golden are real cores with their oracles,
// committed small and compressed, so these tests run on any machine: no
// gdb, no pyenv. scripts/make-golden.sh regenerates them.

func goldenDir() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "testdata", "golden")
}

// unxz decompresses src into dst.
func unxz(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := xz.NewReader(in)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, r); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// goldenCore unpacks one golden core and the sysroot files it needs.
func goldenCore(t *testing.T, name string) (core, sysroot string, oracle oracleFile) {
	t.Helper()
	dir := t.TempDir()
	core = filepath.Join(dir, name+".core")
	unxz(t, filepath.Join(goldenDir(), name+".core.xz"), core)
	sysroot = filepath.Join(dir, "root")
	if err := os.MkdirAll(sysroot, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(goldenDir(), "root")
	filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(path, ".xz") {
			rel, _ := filepath.Rel(root, strings.TrimSuffix(path, ".xz"))
			unxz(t, path, filepath.Join(sysroot, rel))
			os.Chmod(filepath.Join(sysroot, rel), 0o755)
		}
		return nil
	})
	return core, sysroot, readOracle(t, filepath.Join(goldenDir(), name+".oracle.json"))
}

// TestGoldenStrippedDebian reads Debian's stripped python3.11 through the
// executable's .dynsym alone, with only the files of the sysroot.
func TestGoldenStrippedDebian(t *testing.T) {
	core, sysroot, oracle := goldenCore(t, "debian-3.11-gcore")
	compareStacks(t, oracle, stacksOf(t, "--locals", "--sysroot", sysroot, core))
}

// TestGoldenNoBinaries3_13 reads a 3.13 crash core with no binary at all:
// the runtime is found by its _Py_DebugOffsets cookie and static types are
// named from the process's own memory.
func TestGoldenNoBinaries3_13(t *testing.T) {
	core, _, oracle := goldenCore(t, "pyenv-3.13-abort")
	empty := t.TempDir()
	compareStacks(t, oracle, stacksOf(t, "--locals", "--sysroot", empty, core))

	info := pycoroner(t, "info", "--json", "--sysroot", empty, core)
	var in struct {
		Signal  struct{ Name string } `json:"signal"`
		Runtime struct {
			FoundBy string `json:"found_by"`
		} `json:"runtime"`
	}
	if err := json.Unmarshal(info.stdout, &in); err != nil {
		t.Fatalf("info --json: %v\n%s", err, info.stdout)
	}
	if in.Signal.Name != "SIGABRT" || !strings.Contains(in.Runtime.FoundBy, "_Py_DebugOffsets") {
		t.Errorf("info: signal %q, runtime found by %q", in.Signal.Name, in.Runtime.FoundBy)
	}
}
