package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// The memory budget (docs/limits.md, "Memory: the ceiling"): past it a
// heap command fails in one line naming the memory it needs, never an
// OOM kill.

// Past the memory budget a heap command fails in one line naming the
// memory it needs, and shows no progress bar on a pipe.
func TestHeapMemoryCeiling(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	r := runBudget(t, t.TempDir(), 64<<10, "histogram", res.CorePath)
	msg := string(r.stderr)
	if r.code != 1 || len(r.stdout) != 0 || strings.Count(strings.TrimSpace(msg), "\n") != 0 ||
		!strings.Contains(msg, "needs about") || !strings.Contains(msg, "PYCORONER_MEMORY_MAX") || strings.Contains(msg, "heap census (") {
		t.Errorf("exit %d, stdout %q, stderr %q: want exit 1 and one line naming the memory needed", r.code, r.stdout, msg)
	}
}

// runBudget runs the binary with the index cache in dir and the memory
// budget set to budget bytes, without the index trace: the test reads
// stderr as a user would.
func runBudget(t *testing.T, dir string, budget int64, args ...string) result {
	t.Helper()
	return runIndexedEnv(t, dir, []string{fmt.Sprintf("PYCORONER_MEMORY_MAX=%d", budget)}, args...)
}

// The dominator tree is checked against the budget before it is computed:
// with a budget the census fits in but not the census and the tree beside
// it (--no-index), a leak command fails in one line naming the tree's
// memory; with the saved index the census's arrays are given back first
// and the same budget is enough, for the same answer.
func TestLeakTreeMemoryCeiling(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	plain := runIndexed(t, t.TempDir(), "--no-index", "top", "--json", "--retained", res.CorePath)
	if plain.code != 0 {
		t.Fatalf("top --no-index: exit %d: %s", plain.code, plain.stderr)
	}
	var doc struct {
		Census struct {
			Objects int `json:"objects"`
		} `json:"census"`
	}
	if err := json.Unmarshal(plain.stdout, &doc); err != nil || doc.Census.Objects == 0 {
		t.Fatalf("no census in %s (%v)", plain.stdout, err)
	}
	// 64 bytes per object: the census (40 without the index, 48 with it)
	// fits, the census and the tree beside it (40 + 36 and 8 per
	// reference) do not, the tree alone (36 and 4 per reference, about 2.5
	// references per object here) does.
	budget := 64 * int64(doc.Census.Objects)
	if r := runBudget(t, t.TempDir(), budget, "histogram", "--json", "--no-index", res.CorePath); r.code != 0 {
		t.Fatalf("the census alone does not fit %d bytes: exit %d: %s", budget, r.code, r.stderr)
	}
	r := runBudget(t, t.TempDir(), budget, "top", "--json", "--retained", "--no-index", res.CorePath)
	msg := string(r.stderr)
	if r.code != 1 || len(r.stdout) != 0 || strings.Count(strings.TrimSpace(msg), "\n") != 0 ||
		!strings.Contains(msg, "dominator tree") || !strings.Contains(msg, "needs about") || !strings.Contains(msg, "PYCORONER_MEMORY_MAX") {
		t.Errorf("top --no-index within %d bytes: exit %d, stdout %q, stderr %q: want exit 1 and one line naming the tree's memory", budget, r.code, r.stdout, msg)
	}
	r = runBudget(t, t.TempDir(), budget, "top", "--json", "--retained", res.CorePath)
	if r.code != 0 || !sameAnswer(t, r.stdout, plain.stdout) {
		t.Errorf("top within %d bytes, with the index: exit %d, stderr %s\n%s\n--- without a budget:\n%s", budget, r.code, r.stderr, r.stdout, plain.stdout)
	}
}
