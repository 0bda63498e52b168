package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// The saved heap index (docs/design.md, "The saved index"): every heap
// command gives the same answer, byte for byte, without an index, when it
// takes the census and saves the index (cold), and when it loads the index
// an earlier command saved (warm); a damaged index is rebuilt with a
// warning; concurrent commands on one core leave one valid index.

// runIndexed runs the binary with the index cache in dir and
// PYCORONER_INDEX_TRACE set, so that stderr says whether the index was
// loaded or saved.
func runIndexed(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runIndexedEnv(t, dir, []string{"PYCORONER_INDEX_TRACE=1"}, args...)
}

// runIndexedEnv runs the binary with the index cache in dir and env added
// to the environment. The trace is off unless env sets it (even when the
// shell running the tests exports it): stderr then holds only what a user
// would see.
func runIndexedEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(append(os.Environ(), "PYCORONER_INDEX_DIR="+dir, "PYCORONER_INDEX_TRACE="), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pycoroner %v: timed out", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("pycoroner %v: %v", args, err)
	}
	if bytes.Contains(errb.Bytes(), []byte("panic:")) {
		t.Fatalf("pycoroner %v printed a Go panic:\n%s", args, errb.Bytes())
	}
	return result{out.Bytes(), errb.Bytes(), code}
}

// heapCommands are the heap questions asked of the threads scenario's
// core, CORE standing for its path.
func heapCommands(m harness.ThreadsMarkers) [][]string {
	addr := m.MarkedList.Address
	cmds := [][]string{
		{"histogram", "--json", "--top", "0", "CORE"},
		{"histogram", "--json", "--by", "module", "CORE"},
		{"refs", "--json", "CORE", addr},
		{"path", "--json", "--all", "CORE", addr},
		{"path", "CORE", addr},
		{"show", "--json", "CORE", addr},
		// The leak commands: the first computes the dominator tree and
		// saves it beside the census index, the next ones map it.
		{"leaks", "--json", "--min-share", "0.01", "CORE"},
		{"top", "--json", "--retained", "CORE"},
		{"top", "--json", "CORE"},
		{"top", "--json", "--retained", "--by", "type", "CORE"},
		{"retained", "--json", "CORE", addr},
		{"instances", "--json", "CORE", "list"},
		{"instances", "--json", "--top", "3", "CORE", "dict"},
	}
	if len(m.TempFiles) > 0 {
		cmds = append(cmds, []string{"grep", "--json", "CORE", m.TempFiles[0].Prefix})
	}
	return cmds
}

func withCore(args []string, core string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "CORE" {
			a = core
		}
		out[i] = a
	}
	return out
}

func TestHeapSameAnswersWithSavedIndex(t *testing.T) {
	forEachCoreMode(t, "threads", []harness.Mode{harness.Gcore}, func(t *testing.T, res *harness.Result) {
		var m harness.ThreadsMarkers
		if err := res.Oracle.DecodeMarkers(&m); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for i, c := range heapCommands(m) {
			args := withCore(c, res.CorePath)
			plain := runIndexed(t, dir, append([]string{"--no-index"}, args...)...)
			if plain.code != 0 {
				t.Fatalf("%v --no-index: exit %d: %s", args, plain.code, plain.stderr)
			}
			if strings.Contains(string(plain.stderr), "index:") {
				t.Errorf("%v --no-index used an index: %s", args, plain.stderr)
			}
			first := runIndexed(t, dir, args...)
			again := runIndexed(t, dir, args...)
			for _, r := range []struct {
				name  string
				r     result
				trace string
			}{{"first", first, "index: saved"}, {"again", again, "index: loaded"}} {
				if i > 0 && r.name == "first" {
					r.trace = "index: loaded" // the first command saved it
				}
				got, fromIndex, want, plainFromIndex := r.r.stdout, r.trace == "index: loaded", plain.stdout, false
				if slices.Contains(args, "--json") {
					got, fromIndex = withoutFromIndex(t, r.r.stdout)
					want, plainFromIndex = withoutFromIndex(t, plain.stdout)
				}
				if r.r.code != 0 || !bytes.Equal(got, want) {
					t.Errorf("%v, %s run: exit %d, answer differs from --no-index:\n%s\n--- without the index:\n%s\nstderr: %s", args, r.name, r.r.code, r.r.stdout, plain.stdout, r.r.stderr)
				}
				if loaded := r.trace == "index: loaded"; fromIndex != loaded || plainFromIndex {
					t.Errorf("%v, %s run: census.from_index %v (with --no-index %v), want %v (false)", args, r.name, fromIndex, plainFromIndex, loaded)
				}
				if !strings.Contains(string(r.r.stderr), r.trace) {
					t.Errorf("%v, %s run: stderr does not say %q: %s", args, r.name, r.trace, r.r.stderr)
				}
			}
		}
		entries, _ := filepath.Glob(filepath.Join(dir, "*.pycidx"))
		if want := 2 + min(len(m.TempFiles), 1); len(entries) != want { // grep's string table
			t.Errorf("index cache holds %v, want one census index, one dominator tree and one string table if grep ran", entries)
		}
	})
}

// A damaged index is noticed, named in a warning, rebuilt, and the answer
// is the same. (refs reads every part of the index: a command reads and
// checks only the parts it uses, so histogram would not notice damage in
// the reverse index, which it never reads.)
func TestHeapDamagedIndexRebuilt(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	var m harness.ThreadsMarkers
	if err := res.Oracle.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"refs", "--json", res.CorePath, m.MarkedList.Address}
	want := runIndexed(t, dir, args...)
	if want.code != 0 {
		t.Fatalf("exit %d: %s", want.code, want.stderr)
	}
	file, data := savedFile(t, dir, "*.pycidx")
	for name, damage := range fileDamages {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(file, damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
			got := runIndexed(t, dir, args...)
			if got.code != 0 || !bytes.Equal(resultOf(t, got.stdout), resultOf(t, want.stdout)) {
				t.Fatalf("exit %d, answer differs after the index was damaged: %s", got.code, got.stderr)
			}
			var gotEnv envelope
			json.Unmarshal(got.stdout, &gotEnv)
			// JSON says so too, not only stderr.
			if !slices.ContainsFunc(gotEnv.Warnings, func(w string) bool { return strings.HasPrefix(w, "saved index") }) {
				t.Errorf("the answer's warnings do not name the damaged index: %q", gotEnv.Warnings)
			}
			if !strings.Contains(string(got.stderr), "warning: saved index") || !strings.Contains(string(got.stderr), "index: saved") {
				t.Errorf("no warning about the damaged index, or not rebuilt: %s", got.stderr)
			}
			again := runIndexed(t, dir, args...)
			if !strings.Contains(string(again.stderr), "index: loaded") || strings.Contains(string(again.stderr), "warning") {
				t.Errorf("the rebuilt index was not used: %s", again.stderr)
			}
		})
	}
}

// resultOf is a heap answer's result, without the envelope's warnings.
func resultOf(t *testing.T, stdout []byte) []byte {
	t.Helper()
	var result json.RawMessage
	if _, err := unwrap(stdout, &result); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	return result
}

// savedFile is the one file of dir matching pattern, and its bytes.
func savedFile(t *testing.T, dir, pattern string) (string, []byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(files) != 1 {
		t.Fatalf("want one saved %s in %s, found %v", pattern, dir, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return files[0], data
}

// A core rewritten in place (another core under the same name) is not
// answered from the old core's index.
func TestHeapIndexOfRewrittenCore(t *testing.T) {
	ins := interpreters(t)
	if len(ins) < 2 {
		t.Skip("needs two interpreters")
	}
	a := cachedCore(t, ins[0], "threads", harness.Gcore)
	b := cachedCore(t, ins[1], "threads", harness.Gcore)
	dir := t.TempDir()
	core := filepath.Join(t.TempDir(), "core")
	copyFile(t, a.CorePath, core)
	args := []string{"histogram", "--json", "--top", "0", "--exe", a.Interp.Path, core}
	first := runIndexed(t, dir, args...)
	copyFile(t, b.CorePath, core)
	args[5] = b.Interp.Path
	rewritten := runIndexed(t, dir, args...)
	plain := runIndexed(t, dir, append([]string{"--no-index"}, args...)...)
	if first.code != 0 || rewritten.code != 0 || plain.code != 0 {
		t.Fatalf("exits %d %d %d: %s %s", first.code, rewritten.code, plain.code, first.stderr, rewritten.stderr)
	}
	if !bytes.Equal(rewritten.stdout, plain.stdout) || strings.Contains(string(rewritten.stderr), "index: loaded") {
		t.Errorf("the rewritten core was answered from the old core's index: %s", rewritten.stderr)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Two commands on one core at once, with no index yet: both answer, and
// the cache holds one index that the next command loads.
func TestHeapConcurrentCommandsShareIndex(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	dir := t.TempDir()
	args := []string{"histogram", "--json", "--top", "0", res.CorePath}
	want := runIndexed(t, t.TempDir(), append([]string{"--no-index"}, args...)...)
	for round := 0; round < 3; round++ {
		os.RemoveAll(dir)
		var wg sync.WaitGroup
		results := make([]result, 4)
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = runIndexed(t, dir, args...)
			}(i)
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 || !sameAnswer(t, r.stdout, want.stdout) {
				t.Fatalf("round %d, command %d: exit %d, answer differs: %s", round, i, r.code, r.stderr)
			}
			if strings.Contains(string(r.stderr), "warning") {
				t.Errorf("round %d, command %d warned: %s", round, i, r.stderr)
			}
		}
		next := runIndexed(t, dir, args...)
		if !sameAnswer(t, next.stdout, want.stdout) || !strings.Contains(string(next.stderr), "index: loaded") {
			t.Errorf("round %d: after concurrent commands the index is not usable: %s", round, next.stderr)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		var kept []string
		for _, f := range files {
			if !strings.HasSuffix(f, ".pycidx.ok") { // the verified stamp of the index (indexfile/stamp.go)
				kept = append(kept, f)
			}
		}
		if len(kept) != 1 {
			t.Errorf("round %d: cache holds %v, want one index (and its stamp) and no temporary file", round, files)
		}
	}
}

// pycoroner index saves the index ahead of time and keeps a valid one;
// pycoroner cache lists it with the core it was built from and clears it.
func TestIndexAndCacheCommands(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	dir := t.TempDir()
	type built struct {
		Index         string `json:"index"`
		Size          int64  `json:"size"`
		Objects       int    `json:"objects"`
		Built         bool   `json:"built"`
		StringTable   string `json:"string_table"`
		DominatorTree string `json:"dominator_tree"`
	}
	type listing struct {
		Dir     string `json:"dir"`
		Total   int64  `json:"total"`
		Entries []struct {
			Path  string `json:"path"`
			Size  int64  `json:"size"`
			Kind  string `json:"kind"`
			Label string `json:"label"`
		} `json:"entries"`
		Cleared *int `json:"cleared"`
	}
	decode := func(r result, v any) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if err := json.Unmarshal(r.stdout, v); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
	}
	var first, second built
	decode(runIndexed(t, dir, "index", "--census-only", "--json", res.CorePath), &first)
	decode(runIndexed(t, dir, "index", "--census-only", "--json", res.CorePath), &second)
	if !first.Built || second.Built || first.Index != second.Index || first.Objects == 0 || first.StringTable != "" || first.DominatorTree != "" {
		t.Errorf("index twice: %+v then %+v; want built once, then kept, the census only", first, second)
	}
	var hist []struct {
		Count int `json:"count"`
	}
	r := runIndexed(t, dir, "histogram", "--json", "--top", "0", res.CorePath)
	if _, err := unwrap(r.stdout, &hist); r.code != 0 || err != nil {
		t.Fatalf("histogram: exit %d, %v: %s", r.code, err, r.stderr)
	}
	total := 0
	for _, row := range hist {
		total += row.Count
	}
	if total != first.Objects || !strings.Contains(string(r.stderr), "index: loaded") {
		t.Errorf("histogram after index: %d objects (index says %d), stderr %s", total, first.Objects, r.stderr)
	}
	var l listing
	decode(runIndexed(t, dir, "cache", "--json"), &l)
	abs, _ := filepath.Abs(res.CorePath)
	if l.Dir != dir || len(l.Entries) != 1 || l.Entries[0].Path != first.Index || l.Entries[0].Kind != "census" ||
		l.Entries[0].Label != abs || l.Entries[0].Size != first.Size || l.Total != first.Size {
		t.Errorf("cache --json: %+v; want the one index of %s", l, abs)
	}
	// Without --census-only, index saves grep's string table and the
	// dominator tree beside the census it keeps, and the first grep and
	// the first leak command load them instead of making them.
	var all built
	decode(runIndexed(t, dir, "index", "--json", res.CorePath), &all)
	if all.Built || all.Index != first.Index || all.StringTable == "" || all.DominatorTree == "" {
		t.Fatalf("index: %+v; want the census kept, a string table and a dominator tree saved", all)
	}
	for _, c := range []struct {
		args []string
		file string
	}{
		{[]string{"grep", "--json", res.CorePath, "^x$"}, all.StringTable},
		{[]string{"top", "--json", res.CorePath}, all.DominatorTree},
	} {
		r := runIndexed(t, dir, c.args...)
		if r.code != 0 || !strings.Contains(string(r.stderr), "index: loaded "+c.file) || strings.Contains(string(r.stderr), "index: saved") {
			t.Errorf("%s after index: exit %d, want %s loaded and nothing saved: %s", c.args[0], r.code, c.file, r.stderr)
		}
	}
	var cleared listing
	decode(runIndexed(t, dir, "cache", "--clear", "--json"), &cleared)
	if cleared.Cleared == nil || *cleared.Cleared != 3 {
		t.Errorf("cache --clear: %+v", cleared)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("after --clear: %v", files)
	}
}

// withoutFromIndex is an enveloped JSON answer without census.from_index,
// the one field that says whether the census came from the saved index,
// and that field.
func withoutFromIndex(t *testing.T, stdout []byte) ([]byte, bool) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(stdout, &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	census, _ := doc["census"].(map[string]any)
	if census == nil {
		t.Fatalf("no census in the answer: %s", stdout)
	}
	from, _ := census["from_index"].(bool)
	delete(census, "from_index")
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out, from
}

// sameAnswer reports whether two enveloped JSON answers are the same but
// for where their census came from (census.from_index).
func sameAnswer(t *testing.T, a, b []byte) bool {
	t.Helper()
	x, _ := withoutFromIndex(t, a)
	y, _ := withoutFromIndex(t, b)
	return bytes.Equal(x, y)
}

// fileDamages are the ways a saved file is damaged in the tests: each
// returns a damaged copy.
var fileDamages = map[string]func([]byte) []byte{
	"truncated":   func(b []byte) []byte { return b[:len(b)*2/3] },
	"bit flipped": func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 4; return c },
	"zeroed":      func(b []byte) []byte { return make([]byte, len(b)) },
}

// TestAddressInsideAnObject: an address 8 bytes into an object the
// process names (its marked list) is not taken for an object, and the
// error names the object it lies in; the NULL address is called so.
func TestAddressInsideAnObject(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	var m harness.ThreadsMarkers
	if err := res.Oracle.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	list, err := harness.ParseAddress(m.MarkedList.Address)
	if err != nil {
		t.Fatal(err)
	}
	inside := fmt.Sprintf("0x%x", list+8)
	r := runIndexed(t, t.TempDir(), "show", res.CorePath, inside)
	want := fmt.Sprintf("lies 8 bytes into <list at 0x%x>", list)
	if r.code != 1 || !strings.Contains(string(r.stderr), want) {
		t.Errorf("show %s: exit %d: %s; want 1 and %q", inside, r.code, r.stderr, want)
	}
	if r := pycoroner(t, "show", res.CorePath, "0x0"); r.code == 0 || !strings.Contains(string(r.stderr), "the NULL address") {
		t.Errorf("show 0x0: exit %d: %s", r.code, r.stderr)
	}
}

// TestUnusableCacheDirWarnsOnce: an index cache that is no usable
// directory (a file in its place, a symlink) means no saved index, said in
// one warning, and the same answer; it used to be said twice, once for the
// load and once for the save.
func TestUnusableCacheDirWarnsOnce(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	want := runIndexedEnv(t, t.TempDir(), nil, "--no-index", "histogram", "--json", "--sysroot", sysroot, core)
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, link} {
		for _, command := range []string{"histogram", "leaks", "top"} {
			r := runIndexedEnv(t, dir, nil, command, "--json", "--sysroot", sysroot, core)
			var about []string // the golden sysroot lacks some files: those warnings are not the cache's
			for _, l := range strings.Split(string(r.stderr), "\n") {
				if strings.Contains(l, "index") {
					about = append(about, l)
				}
			}
			if r.code != 0 || len(about) != 1 || !strings.HasPrefix(about[0], "warning: no saved index: ") {
				t.Errorf("%s with the cache at %s: exit %d, warnings about the index %q; want one", command, filepath.Base(dir), r.code, about)
			}
			var got, clean json.RawMessage
			if _, err := unwrap(r.stdout, &got); err != nil {
				t.Fatal(err)
			}
			if _, err := unwrap(want.stdout, &clean); err != nil {
				t.Fatal(err)
			}
			if command == "histogram" && !bytes.Equal(got, clean) {
				t.Errorf("histogram with the cache at %s differs from --no-index", filepath.Base(dir))
			}
		}
	}
}
