package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// The heap questions (histogram, refs, path, show, grep, modules,
// syspath), checked against what each process said about itself: its
// gc.get_objects() counts, gc.get_referrers() of the marked list, the temp
// files its frames hold, and the module it imported twice. The JSON shapes
// are decoded here independently of package reports.

type heapHolder struct {
	Kind       string `json:"kind"`
	Address    string `json:"address"`
	Type       string `json:"type"`
	Via        string `json:"via"`
	Owner      *struct{ Address, Type string }
	ThreadID   uint64  `json:"thread_id"`
	ThreadName *string `json:"thread_name"`
	Function   string  `json:"function"`
	Line       int     `json:"line"`
	Name       string  `json:"name"`
}

type heapHop struct {
	Via     *string `json:"via"`
	Address string  `json:"address"`
	Type    string  `json:"type"`
	Repr    string  `json:"repr"`
}

type heapPath struct {
	Root struct{ Kind, Name string } `json:"root"`
	Hops []heapHop                   `json:"hops"`
}

// coreRef is a core under test: its path, the flags it needs (--sysroot
// for golden cores), and whether it was made on this host (its files are
// here).
type coreRef struct {
	path  string
	flags []string
	local bool
}

// heapJSON runs a command with --json, CORE in args standing for the
// core, and decodes its answer into v.
func heapJSON(t *testing.T, v any, core coreRef, args ...string) {
	t.Helper()
	full := []string{"--json"}
	for _, a := range args {
		if a == "CORE" {
			a = core.path
		}
		full = append(full, a)
	}
	full = append(full, core.flags...)
	r := pycoroner(t, full...)
	if r.code != 0 {
		t.Fatalf("pycoroner %v exited %d: %s", full, r.code, r.stderr)
	}
	decode := func(b []byte, v any) error { _, err := unwrap(b, v); return err }
	if !slices.ContainsFunc(args, isEnveloped) {
		decode = json.Unmarshal // stacks, info: objects with their own warnings
	}
	if err := decode(r.stdout, v); err != nil {
		t.Fatalf("pycoroner %v: %v\n%s", full, err, r.stdout)
	}
}

// isEnveloped reports whether command answers --json inside the envelope.
func isEnveloped(command string) bool {
	switch command {
	case "histogram", "refs", "path", "show", "grep", "retained", "top", "leaks", "instances", "diff", "modules", "syspath":
		return true
	}
	return false
}

// envelope is the JSON of the heap commands, modules and syspath: the
// answer under "result", beside whether it is complete (docs/json.md).
type envelope struct {
	Result   json.RawMessage `json:"result"`
	Complete *bool           `json:"complete"`
	Warnings []string        `json:"warnings"`
	Census   *struct {
		Objects      int      `json:"objects"`
		GCTracked    int      `json:"gc_tracked"`
		FromIndex    bool     `json:"from_index"`
		GCCollecting bool     `json:"gc_collecting"`
		Incomplete   []string `json:"incomplete"`
	} `json:"census"`
}

// unwrap decodes an enveloped answer into v, checking the envelope: every
// field present, and "complete" false exactly when the census says what
// it misses, each such sentence also among the warnings.
func unwrap(stdout []byte, v any) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(stdout, &env); err != nil {
		return env, err
	}
	if env.Result == nil || env.Complete == nil || env.Warnings == nil {
		return env, fmt.Errorf("not an envelope with result, complete and warnings")
	}
	if c := env.Census; c != nil {
		if c.Incomplete == nil {
			return env, fmt.Errorf("census without its incomplete list")
		}
		partial := len(c.Incomplete) > 0 || c.GCCollecting
		if *env.Complete == partial {
			return env, fmt.Errorf("complete is %v, but the census lists %q as missing (collecting %v)", *env.Complete, c.Incomplete, c.GCCollecting)
		}
		for _, why := range c.Incomplete {
			if !slices.Contains(env.Warnings, why) {
				return env, fmt.Errorf("the census's %q is not among the warnings %q", why, env.Warnings)
			}
		}
	}
	return env, json.Unmarshal(env.Result, v)
}

// sameAddr compares addresses as numbers ("0x7f…" from either side).
func sameAddr(a, b string) bool {
	x, err1 := harness.ParseAddress(a)
	y, err2 := harness.ParseAddress(b)
	return err1 == nil && err2 == nil && x == y
}

func TestHeapMatchesOracle(t *testing.T) {
	forEachCore(t, "threads", func(t *testing.T, res *harness.Result) {
		core := coreRef{path: res.CorePath, local: true}
		checkHeap(t, core, res.Oracle)
		t.Run("interned", func(t *testing.T) { checkInterned(t, core, res) })
	})
}

// The same questions on the golden cores, which run anywhere: Debian's
// stripped 3.11 with its files in a sysroot, a 3.13 crash core with none.
func TestHeapGoldenCores(t *testing.T) {
	for _, name := range []string{"debian-3.11-gcore", "pyenv-3.13-abort"} {
		t.Run(name, func(t *testing.T) {
			core, sysroot, _ := goldenCore(t, name)
			if name == "pyenv-3.13-abort" {
				sysroot = t.TempDir()
			}
			o, err := harness.LoadOracle(filepath.Join(goldenDir(), name+".oracle.json"))
			if err != nil {
				t.Fatal(err)
			}
			checkHeap(t, coreRef{path: core, flags: []string{"--sysroot", sysroot}}, o)
		})
	}
}

// checkHeap asks every heap question of one core of the threads scenario.
func checkHeap(t *testing.T, core coreRef, o *harness.Oracle) {
	var m harness.ThreadsMarkers
	if err := o.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	minor, _ := strconv.Atoi(strings.Split(o.PythonVersion, ".")[1])
	t.Run("histogram", func(t *testing.T) { checkHistogram(t, core, m) })
	t.Run("refs", func(t *testing.T) { checkRefs(t, core, o, m, minor) })
	t.Run("refs-show", func(t *testing.T) { checkRefsShowAgree(t, core, m) })
	t.Run("refs-max", func(t *testing.T) { checkRefsMax(t, core) })
	t.Run("grep", func(t *testing.T) { checkGrep(t, core, o, m) })
	t.Run("modules", func(t *testing.T) { checkDuplicates(t, core, m) })
	t.Run("instances-ambiguous", func(t *testing.T) { checkInstancesOfTwoClasses(t, core, m) })
	t.Run("path", func(t *testing.T) { checkPath(t, core, m) })
	t.Run("show", func(t *testing.T) { checkShow(t, core, m) })
	t.Run("traceback", func(t *testing.T) { checkTraceback(t, core, m) })
	t.Run("syspath", func(t *testing.T) { checkSysPath(t, core, m) })
	t.Run("expressions", func(t *testing.T) { checkExpressions(t, core, m) })
}

// checkHistogram: each user class has as many instances as gc.get_objects() saw.
func checkHistogram(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	var rows []struct {
		Type, Module string
		Count        int
		Size         int64
	}
	heapJSON(t, &rows, core, "histogram", "--top", "0", "CORE")
	for name, want := range m.ClassCounts {
		got, n := 0, 0
		for _, r := range rows {
			if r.Type == name && r.Module == m.Classes[name].Module {
				got += r.Count
				n++
			}
		}
		if got != want || n != 1 {
			t.Errorf("%s.%s: %d instances in %d row(s), oracle %d", m.Classes[name].Module, name, got, n, want)
		}
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].Size > rows[i-1].Size {
			t.Errorf("rows not sorted by size: %v before %v", rows[i-1], rows[i])
			break
		}
	}
}

// checkRefs: every gc.get_referrers() entry is a referrer, with the right
// labels, and the frame local holding the list is one too.
func checkRefs(t *testing.T, core coreRef, o *harness.Oracle, m harness.ThreadsMarkers, minor int) {
	ml := m.MarkedList
	var hs []heapHolder
	heapJSON(t, &hs, core, "refs", "CORE", ml.Address)
	byAddr := map[uint64][]heapHolder{}
	for _, h := range hs {
		if h.Kind == "object" {
			a, _ := harness.ParseAddress(h.Address)
			byAddr[a] = append(byAddr[a], h)
		}
	}
	oracleRefs := map[uint64]bool{}
	for _, r := range ml.Referrers {
		a, _ := harness.ParseAddress(r.Address)
		oracleRefs[a] = true
		if got := byAddr[a]; len(got) == 0 {
			t.Errorf("gc.get_referrers() lists %s at %s; refs does not", r.Type, r.Address)
		} else if got[0].Type != r.Type {
			t.Errorf("referrer %s: type %q, oracle %q", r.Address, got[0].Type, r.Type)
		}
	}
	// Anything else must be a frame object (3.8-3.10 frames of running
	// functions hold their locals but are not GC-tracked, so
	// gc.get_referrers() cannot see them).
	for a, got := range byAddr {
		if !oracleRefs[a] && got[0].Type != "frame" {
			t.Errorf("refs lists %s at 0x%x (via %q), which gc.get_referrers() does not", got[0].Type, a, got[0].Via)
		}
	}
	hasVia := func(addr, via string) bool {
		a, _ := harness.ParseAddress(addr)
		for _, h := range byAddr[a] {
			if h.Via == via {
				return true
			}
		}
		return false
	}
	g := ml.Holders.Global
	if !hasVia(g.DictAddress, fmt.Sprintf("key '%s'", g.Name)) {
		t.Errorf("the global %s.%s: no referrer %s via key '%s': %+v", g.Module, g.Name, g.DictAddress, g.Name, byAddr)
	} else if a, _ := harness.ParseAddress(g.DictAddress); byAddr[a][0].Owner == nil || byAddr[a][0].Owner.Type != "module" {
		t.Errorf("the globals dict %s does not name its module as owner", g.DictAddress)
	}
	d := ml.Holders.DictValue
	if !hasVia(d.DictAddress, fmt.Sprintf("key '%s'", d.Key)) {
		t.Errorf("REGISTRY[%q]: no referrer %s via key '%s'", d.Key, d.DictAddress, d.Key)
	}
	at := ml.Holders.Attribute
	if minor >= 11 {
		if !hasVia(at.ObjectAddress, "attribute "+at.Name) {
			t.Errorf("%s.%s: no referrer %s via attribute %s", at.Type, at.Name, at.ObjectAddress, at.Name)
		}
	} else {
		found := false
		for _, h := range hs { // the instance's __dict__, owned by the instance
			if h.Owner != nil && sameAddr(h.Owner.Address, at.ObjectAddress) && h.Owner.Type == at.Type && h.Via == "key '"+at.Name+"'" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s.%s: no __dict__ referrer owned by %s via key '%s'", at.Type, at.Name, at.ObjectAddress, at.Name)
		}
	}
	l := ml.Holders.Local
	th := o.ThreadByName(l.Thread)
	if th == nil {
		t.Fatalf("oracle has no thread %q", l.Thread)
	}
	found := false
	for _, h := range hs {
		if h.Kind == "frame" && h.ThreadID == th.ThreadID && h.ThreadName != nil && *h.ThreadName == l.Thread && h.Function == l.Function && h.Name == l.Name {
			found = true
		}
	}
	if !found {
		t.Errorf("no frame holder: thread %s, %s, local %s; got %+v", l.Thread, l.Function, l.Name, hs)
	}
}

// checkGrep: every temp-file name is found, held by its frame's local.
func checkGrep(t *testing.T, core coreRef, o *harness.Oracle, m harness.ThreadsMarkers) {
	if len(m.TempFiles) == 0 {
		t.Fatal("the oracle lists no temp files")
	}
	var matches []struct {
		Address, Type, Value string
		Holders              []heapHolder
	}
	heapJSON(t, &matches, core, "grep", "CORE", m.TempFiles[0].Prefix)
	for _, tf := range m.TempFiles {
		th := o.ThreadByName(tf.Thread)
		if th == nil {
			t.Fatalf("oracle has no thread %q", tf.Thread)
		}
		held := false
		seen := false
		for _, mt := range matches {
			if mt.Value != tf.Path || mt.Type != "str" {
				continue
			}
			seen = true
			for _, h := range mt.Holders {
				if h.Kind == "frame" && h.ThreadID == th.ThreadID && h.Function == tf.Function && h.Name == tf.Local {
					held = true
				}
			}
		}
		switch {
		case !seen:
			t.Errorf("grep did not find %s (%s)", tf.Path, tf.Kind)
		case !held:
			t.Errorf("%s: no holder thread %s › %s › local %s", tf.Path, tf.Thread, tf.Function, tf.Local)
		}
	}
}

// checkDuplicates: the file imported twice, under its two names, with the
// two overlapping sys.path entries.
func checkDuplicates(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	var dups []struct {
		File           string   `json:"file"`
		Names          []string `json:"names"`
		Addresses      []string `json:"addresses"`
		SysPathEntries []string `json:"sys_path_entries"`
		ImportedFrom   []string `json:"imported_from"`
	}
	heapJSON(t, &dups, core, "modules", "--duplicates", "CORE")
	wantFrom := map[string]string{}
	di := m.DoubleImport
	var wantNames, wantEntries []string
	wantAddr := map[string]string{}
	for _, mod := range di.Modules {
		wantNames = append(wantNames, mod.Name)
		wantAddr[mod.Name] = mod.Address
		// The entry the name was imported from: the file minus the name's path.
		rel := strings.ReplaceAll(mod.Name, ".", "/") + filepath.Ext(mod.File)
		entry := strings.TrimSuffix(strings.TrimSuffix(mod.File, rel), "/")
		wantEntries = append(wantEntries, entry)
		wantFrom[mod.Name] = entry
	}
	sort.Strings(wantNames)
	sort.Strings(wantEntries)
	for _, d := range dups {
		if d.File != di.RealPath {
			continue
		}
		names := append([]string(nil), d.Names...)
		sort.Strings(names)
		if strings.Join(names, " ") != strings.Join(wantNames, " ") {
			t.Errorf("%s is loaded as %q, oracle %q", d.File, d.Names, wantNames)
		}
		for i, n := range d.Names {
			if i < len(d.Addresses) && !sameAddr(d.Addresses[i], wantAddr[n]) {
				t.Errorf("%s at %s, oracle %s", n, d.Addresses[i], wantAddr[n])
			}
			// Each name with the entry it came from, not a list beside it.
			if i >= len(d.ImportedFrom) || d.ImportedFrom[i] != wantFrom[n] {
				t.Errorf("%s imported from %q, want %q", n, d.ImportedFrom, wantFrom[n])
			}
		}
		entries := append([]string(nil), d.SysPathEntries...)
		sort.Strings(entries)
		if strings.Join(entries, "\n") != strings.Join(wantEntries, "\n") {
			t.Errorf("sys_path_entries %q, want %q", d.SysPathEntries, wantEntries)
		}
		return
	}
	t.Errorf("modules --duplicates does not list %s: %+v", di.RealPath, dups)
}

// checkInstancesOfTwoClasses: the module imported twice defines Config
// twice. `instances Config` counts both classes' objects and says so,
// naming each by the module the oracle names; a module-qualified name
// counts one.
func checkInstancesOfTwoClasses(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	type answer struct {
		Count     int      `json:"count"`
		Types     []string `json:"types"`
		Instances []struct {
			Address, Type, Repr string
		} `json:"instances"`
	}
	var want []string
	for _, mod := range m.DoubleImport.Modules {
		want = append(want, mod.Name+".Config")
	}
	slices.Sort(want)
	args := []string{"--json", "instances", core.path, "Config"}
	r := pycoroner(t, append(args, core.flags...)...)
	var both answer
	env, err := unwrap(r.stdout, &both)
	if r.code != 0 || err != nil {
		t.Fatalf("instances Config: exit %d, %v: %s", r.code, err, r.stderr)
	}
	if !slices.Equal(both.Types, want) {
		t.Errorf("instances Config counted types %q, want %q", both.Types, want)
	}
	warned := slices.ContainsFunc(env.Warnings, func(w string) bool { return strings.Contains(w, `"Config" names 2 types`) })
	if !warned || !strings.Contains(string(r.stderr), "names 2 types") {
		t.Errorf("no warning that Config names two classes: %q; stderr %s", env.Warnings, r.stderr)
	}
	// Each instance's repr is the one show gives it.
	for _, in := range both.Instances {
		var s struct{ Repr string }
		heapJSON(t, &s, core, "show", "--depth", "0", "CORE", in.Address)
		if in.Repr != s.Repr || !slices.Contains(want, in.Type) {
			t.Errorf("instance %s: type %q, repr %q; show says %q", in.Address, in.Type, in.Repr, s.Repr)
		}
	}
	sum := 0
	for _, q := range want {
		var one answer
		heapJSON(t, &one, core, "instances", "CORE", q)
		if !slices.Equal(one.Types, []string{q}) || one.Count == 0 {
			t.Errorf("instances %s: %d objects of %q", q, one.Count, one.Types)
		}
		sum += one.Count
	}
	if sum != both.Count {
		t.Errorf("instances Config: %d objects; its two classes: %d", both.Count, sum)
	}
}
