package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// TestRuntimeWarningsReachEveryCommand: what pyheap works around must be
// said by every command, not only by info and stacks. A 3.13 core whose
// _Py_DebugOffsets cookie is wiped still opens (by symbol) with the
// committed table, and says so.
func TestRuntimeWarningsReachEveryCommand(t *testing.T) {
	var in harness.Interpreter
	for _, i := range interpreters(t) {
		if i.Minor == "3.13" && strings.HasPrefix(i.Name, "pyenv-") {
			in = i
		}
	}
	if in.Name == "" {
		t.Skip("no pyenv 3.13 here")
	}
	res := cachedCore(t, in, "threads", harness.Gcore)
	cf := factsOf(t, res.CorePath)
	b := bytes.Clone(cf.raw)
	off := cf.offset(t, cf.rtAddr)
	if !bytes.Equal(b[off:off+8], []byte("xdebugpy")) {
		t.Fatalf("no cookie at _PyRuntime+0: %q", b[off:off+8])
	}
	copy(b[off:], "\x00\x00\x00\x00\x00\x00\x00\x00")
	core := filepath.Join(t.TempDir(), "core")
	if err := os.WriteFile(core, b, 0o644); err != nil {
		t.Fatal(err)
	}
	const want = "no _Py_DebugOffsets cookie"
	for _, args := range [][]string{
		{"stacks", core}, {"histogram", core}, {"modules", core}, {"modules", "--duplicates", core},
		{"syspath", core}, {"grep", core, "worker"}, {"show", core, "sys:path"},
	} {
		r := pycoroner(t, args...)
		if r.code != 0 {
			t.Errorf("%s: exit %d: %s", strings.Join(args[:len(args)-1], " "), r.code, r.stderr)
			continue
		}
		// stacks prints its warnings after the threads, the others on stderr.
		if !strings.Contains(string(r.stdout)+string(r.stderr), want) {
			t.Errorf("%s does not say %q; stderr:\n%s", strings.Join(args[:len(args)-1], " "), want, r.stderr)
		}
	}
}
