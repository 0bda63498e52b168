package integration

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// A core analysed without its binaries names the builtin types from the
// process's own memory (builtins, the types module): the cold census, the
// saved index and --no-index give the same histogram, and the types named
// from memory count what they count with the binaries.
func TestHeapWithoutBinariesSameAnswers(t *testing.T) {
	empty := t.TempDir()
	forEachCoreMode(t, "threads", []harness.Mode{harness.Gcore}, func(t *testing.T, res *harness.Result) {
		dir := t.TempDir()
		args := []string{"histogram", "--json", "--top", "0", "--sysroot", empty, res.CorePath}
		plain := runIndexed(t, dir, append([]string{"--no-index"}, args...)...)
		first := runIndexed(t, dir, args...)
		again := runIndexed(t, dir, args...)
		for name, r := range map[string]result{"--no-index": plain, "first": first, "again": again} {
			if r.code != 0 {
				t.Fatalf("%s run: exit %d: %s", name, r.code, r.stderr)
			}
		}
		if !bytes.Contains(again.stderr, []byte("index: loaded")) {
			t.Fatalf("the second run did not load the index: %s", again.stderr)
		}
		for name, r := range map[string]result{"first": first, "again": again} {
			if !sameAnswer(t, r.stdout, plain.stdout) {
				t.Errorf("%s run without binaries differs from --no-index:\n%s\n--- --no-index:\n%s", name, r.stdout, plain.stdout)
			}
		}
		withBinaries := runIndexed(t, dir, "--no-index", "histogram", "--json", "--top", "0", res.CorePath)
		want, got := histogramCounts(t, withBinaries.stdout), histogramCounts(t, again.stdout)
		// Named from builtins on every version; their tp_name lives in the
		// binary's read-only data, which a core leaves out. Without the
		// binaries a few more objects are found: extension types whose
		// names are unreadable are walked conservatively (the answer says
		// so), and the words that look like pointers reach a handful more.
		// Before 3.12 the interned strings' dict is found only through the
		// binary's symbol `interned` (docs/limits.md): without it, the
		// strs that dict alone holds (a few dozen) are not found.
		minor, _ := strconv.Atoi(strings.Split(res.Oracle.PythonVersion, ".")[1])
		for _, typ := range []string{"str", "int", "dict", "list", "tuple", "type", "function", "code"} {
			least := want[typ]
			if typ == "str" && minor < 12 {
				least -= want[typ] / 50
			}
			if want[typ] == 0 || got[typ] < least || got[typ] > want[typ]+want[typ]/50 {
				t.Errorf("%s: %d without the binaries, %d with them (want as many, or up to 2%% more — 2%% fewer strs before 3.12 —, and not 0)", typ, got[typ], want[typ])
			}
		}
	})
}

// histogramCounts is a histogram --json answer's count by type name.
func histogramCounts(t *testing.T, stdout []byte) map[string]int {
	t.Helper()
	var doc struct {
		Result []struct {
			Type  string `json:"type"`
			Count int    `json:"count"`
		} `json:"result"`
	}
	if err := json.Unmarshal(stdout, &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	counts := map[string]int{}
	for _, row := range doc.Result {
		counts[row.Type] += row.Count
	}
	return counts
}
