package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// The memory budget (docs/limits.md, "Memory: the ceiling"): past it a
// heap command fails in one line naming the memory it needs, never an
// OOM kill.

// Past the memory budget a heap command fails in one line naming the
// memory it needs, and shows no progress bar on a pipe; histogram counts
// without a census instead (a tally, which needs no memory per object),
// with the same answer and a warning that says so; a budget that is not
// a size is refused there too.
func TestHeapMemoryCeiling(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	r := runBudget(t, t.TempDir(), 64<<10, "instances", res.CorePath, "list")
	msg := string(r.stderr)
	if r.code != 1 || len(r.stdout) != 0 || strings.Count(strings.TrimSpace(msg), "\n") != 0 ||
		!strings.Contains(msg, "needs about") || !strings.Contains(msg, "PYCORONER_MEMORY_MAX") || strings.Contains(msg, "heap census (") {
		t.Errorf("instances: exit %d, stdout %q, stderr %q: want exit 1 and one line naming the memory needed", r.code, r.stdout, msg)
	}
	dir := t.TempDir()
	r = runBudget(t, dir, 64<<10, "histogram", "--json", "--top", "0", res.CorePath)
	census := runIndexed(t, t.TempDir(), "--no-index", "instances", "--json", res.CorePath, "list") // a census, for its facts
	plain := runIndexed(t, t.TempDir(), "histogram", "--json", "--top", "0", res.CorePath)
	var doc struct {
		Census   map[string]any `json:"census"`
		Warnings []string       `json:"warnings"`
	}
	if err := json.Unmarshal(r.stdout, &doc); err != nil {
		t.Fatalf("histogram within 64 KiB: exit %d, %v: %s", r.code, err, r.stderr)
	}
	if r.code != 0 || !sameAnswer(t, withoutWarnings(t, r.stdout), withoutWarnings(t, plain.stdout)) {
		t.Errorf("histogram within 64 KiB: exit %d, answer differs from a census's:\n%s\n--- census:\n%s", r.code, r.stdout, plain.stdout)
	}
	var facts struct {
		Census map[string]any `json:"census"`
	}
	if err := json.Unmarshal(census.stdout, &facts); err != nil || facts.Census["objects"] == nil || fmt.Sprint(facts.Census["objects"]) != fmt.Sprint(doc.Census["objects"]) {
		t.Errorf("histogram within 64 KiB counted %v objects, a census %v (%v)", doc.Census["objects"], facts.Census["objects"], err)
	}
	said := false
	for _, w := range doc.Warnings {
		// The tally's own count, not the refused census's estimate.
		said = said || strings.Contains(w, "counted them without keeping them") && strings.Contains(w, fmt.Sprintf("census of these %v objects would need about", doc.Census["objects"]))
	}
	if !said || !strings.Contains(string(r.stderr), "counted them without keeping them") {
		t.Errorf("histogram within 64 KiB does not say it counted %v objects without a census: %q, stderr %s", doc.Census["objects"], doc.Warnings, r.stderr)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*.pycidx")); len(entries) != 0 {
		t.Errorf("histogram within 64 KiB saved %v", entries)
	}
	bad := runIndexedEnv(t, t.TempDir(), []string{"PYCORONER_MEMORY_MAX=garbage"}, "--no-index", "histogram", res.CorePath)
	if bad.code != 2 || !strings.Contains(string(bad.stderr), "PYCORONER_MEMORY_MAX") {
		t.Errorf("histogram --no-index with PYCORONER_MEMORY_MAX=garbage: exit %d, stderr %q; want 2 and the variable named", bad.code, bad.stderr)
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
	var m harness.ThreadsMarkers
	if err := res.Oracle.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	if r := runBudget(t, t.TempDir(), budget, "refs", "--json", "--no-index", res.CorePath, m.MarkedList.Address); r.code != 0 {
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

// withoutWarnings is an enveloped JSON answer without its warnings.
func withoutWarnings(t *testing.T, stdout []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(stdout, &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	delete(doc, "warnings")
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
