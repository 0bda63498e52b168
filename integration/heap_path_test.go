package integration

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// path, show, syspath and object expressions against the threads oracle
// (run from TestHeapMatchesOracle).

// checkPath: a path from a named root ends at the marked list, and --all
// includes the module global.
func checkPath(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	ml := m.MarkedList
	var paths []heapPath
	heapJSON(t, &paths, core, "path", "CORE", ml.Address)
	if len(paths) != 1 {
		t.Fatalf("path: %d paths, want 1: %+v", len(paths), paths)
	}
	checkOnePath(t, paths[0], ml.Address)
	heapJSON(t, &paths, core, "path", "--all", "CORE", ml.Address)
	g := ml.Holders.Global
	want := fmt.Sprintf("sys.modules[%q] › __dict__ › key '%s'", g.Module, g.Name)
	found := false
	for _, p := range paths {
		checkOnePath(t, p, ml.Address)
		vias := []string{p.Root.Name}
		for _, h := range p.Hops[1:] {
			vias = append(vias, *h.Via)
		}
		if strings.Join(vias, " › ") == want && p.Root.Kind == "module" {
			found = true
		}
	}
	if !found {
		t.Errorf("path --all has no %s", want)
	}
}

// checkInterned: the interpreter's interned strings are a named root
// whose references are the strs it owns: an immortal one (every interned
// str on 3.12) is reached from it, as the key of a dict; a mortal one is
// not (the dict's reference is not counted), so a list that alone holds
// mortal interned strs retains them. A stripped build before 3.12 keeps
// the dict in a static variable only its symbol table names: there, no
// such root.
func checkInterned(t *testing.T, core coreRef, res *harness.Result) {
	var m harness.ThreadsMarkers
	if err := res.Oracle.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	in := m.Interned
	if in == nil || !in.IsInterned {
		t.Fatalf("the oracle has no interned str: %+v", in)
	}
	minor, _ := strconv.Atoi(strings.Split(res.Oracle.PythonVersion, ".")[1])
	rooted := !(res.Interp.Stripped && minor < 12)
	var paths []heapPath
	heapJSON(t, &paths, core, "path", "--all", "CORE", in.Address)
	found := 0
	for _, p := range paths {
		checkOnePath(t, p, in.Address)
		if p.Root.Kind != "interned" {
			continue
		}
		found++
		wantVia := fmt.Sprintf("key '%s' (the key itself)", in.Value)
		if p.Root.Name != "interned strings" || len(p.Hops) != 2 || p.Hops[0].Type != "dict" || *p.Hops[1].Via != wantVia {
			t.Errorf("path from the interned strings: %+v; want the dict, then %s", p, wantVia)
		}
	}
	if want := rooted && in.Immortal; want && found != 1 || !want && found != 0 {
		t.Errorf("%d path(s) from the interned strings to %q (immortal %v), want %v", found, in.Value, in.Immortal, want)
	}
	var ret struct {
		RetainedSize int64 `json:"retained_size"`
	}
	heapJSON(t, &ret, core, "retained", "CORE", in.IDsList)
	want := in.IDsListSize + in.IDsSize
	if in.Immortal {
		want = in.IDsListSize // the interned strings own them too
	}
	if ret.RetainedSize != want {
		t.Errorf("a list of 50 interned strs retains %d bytes, want %d (list %d, strs %d, immortal %v)", ret.RetainedSize, want, in.IDsListSize, in.IDsSize, in.Immortal)
	}
}

func checkOnePath(t *testing.T, p heapPath, target string) {
	t.Helper()
	kinds := "module sys builtins local exception thread-dict interned"
	if !strings.Contains(kinds, p.Root.Kind) || p.Root.Kind == "" || p.Root.Name == "" {
		t.Errorf("path root %+v is not a named root", p.Root)
	}
	if len(p.Hops) == 0 || !sameAddr(p.Hops[len(p.Hops)-1].Address, target) {
		t.Errorf("path %+v does not end at %s", p, target)
		return
	}
	for i, h := range p.Hops {
		if (i == 0) != (h.Via == nil) {
			t.Errorf("path %s: hop %d via %v", p.Root.Name, i, h.Via)
		}
	}
}

// checkShow: the marked list and its items have the oracle's repr.
func checkShow(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	var s struct {
		Address, Type, Repr string
		Size                int64
		Referrers           int
		Edges               []struct{ Via, Address, Type, Repr string }
	}
	heapJSON(t, &s, core, "show", "CORE", m.MarkedList.Address)
	if s.Repr != m.MarkedList.Repr || s.Type != "list" || !sameAddr(s.Address, m.MarkedList.Address) {
		t.Errorf("show: %s %s %q, oracle list %s %q", s.Type, s.Address, s.Repr, m.MarkedList.Address, m.MarkedList.Repr)
	}
	var items []string
	for _, e := range s.Edges {
		if e.Via == fmt.Sprintf("item %d", len(items)) {
			items = append(items, e.Repr)
		}
	}
	if got := "[" + strings.Join(items, ", ") + "]"; got != m.MarkedList.Repr {
		t.Errorf("show: items %s, oracle %s", got, m.MarkedList.Repr)
	}
	if s.Referrers < len(m.MarkedList.Referrers) {
		t.Errorf("show: %d referrers, gc.get_referrers() says %d", s.Referrers, len(m.MarkedList.Referrers))
	}

	// A function is shown with the module it was defined in (the
	// scenario's, whose __name__ the oracle records), not builtins.
	var fn struct {
		Module    string `json:"module"`
		DefinedIn string `json:"defined_in"`
	}
	mod := m.MarkedList.Holders.Global.Module
	heapJSON(t, &fn, core, "show", "CORE", mod+":scalars_entry")
	if fn.DefinedIn != mod || fn.Module != "builtins" {
		t.Errorf("show %s:scalars_entry: defined_in %q, module %q; want %q and the function type's builtins", mod, fn.DefinedIn, fn.Module, mod)
	}
}

// checkSysPath: the scenario's two overlapping entries are flagged.
func checkSysPath(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	var entries []struct {
		Index       int    `json:"index"`
		Path        string `json:"path"`
		Exists      bool   `json:"exists"`
		DuplicateOf *int   `json:"duplicate_of"`
		Inside      []int  `json:"inside"`
		DoubleFrom  []int  `json:"double_import_from"`
	}
	heapJSON(t, &entries, core, "syspath", "CORE")
	pkg := filepath.Dir(filepath.Dir(m.DoubleImport.RealPath)) // …/dupdemo/pkg
	outer, inner := -1, -1
	for _, e := range entries {
		switch e.Path {
		case pkg:
			inner = e.Index
		case filepath.Dir(pkg):
			outer = e.Index
		}
	}
	if inner < 0 || outer < 0 {
		t.Fatalf("sys.path lacks %s or its parent: %+v", pkg, entries)
	}
	if (core.local && !entries[inner].Exists) || !contains(entries[inner].Inside, outer) || !contains(entries[inner].DoubleFrom, outer) {
		t.Errorf("sys.path[%d] %s: exists %v, inside %v, double imports from %v; want [%d] in both (the process imported a module twice)",
			inner, pkg, entries[inner].Exists, entries[inner].Inside, entries[inner].DoubleFrom, outer)
	}
	// lib-dynload lies inside lib/pythonX.Y, but "lib-dynload" is no
	// package name: no double import from there.
	for _, e := range entries {
		if filepath.Base(e.Path) == "lib-dynload" && len(e.DoubleFrom) > 0 {
			t.Errorf("sys.path[%d] %s: double imports from %v", e.Index, e.Path, e.DoubleFrom)
		}
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// checkExpressions: module:attr expressions name the oracle's objects.
func checkExpressions(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	ml := m.MarkedList
	want := map[string]string{
		"__main__:MARKED_LIST":                         ml.Address,
		"__main__:REGISTRY":                            ml.Holders.DictValue.DictAddress,
		"__main__:HOLDER":                              ml.Holders.Attribute.ObjectAddress,
		"__main__:HOLDER." + ml.Holders.Attribute.Name: ml.Address,
		fmt.Sprintf("__main__:REGISTRY['%s']", ml.Holders.DictValue.Key): ml.Address,
	}
	for name, c := range m.Classes {
		want[c.Module+":"+name] = c.Address
	}
	for _, mod := range m.DoubleImport.Modules {
		want[mod.Name] = mod.Address
	}
	for expr, addr := range want {
		var s struct{ Address string }
		heapJSON(t, &s, core, "show", "--depth", "0", "CORE", expr)
		if !sameAddr(s.Address, addr) {
			t.Errorf("%s is %s, oracle %s", expr, s.Address, addr)
		}
	}
}

// checkTraceback: show of a kept exception lists its traceback as
// traceback.extract_tb does, and each function frame's locals with the
// reprs the process gave them.
func checkTraceback(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	le := m.LastError
	if le == nil {
		t.Skip("a golden core's oracle from before the traceback view") // the real cores' oracles have it
	}
	var s struct {
		Traceback []struct {
			Function, Filename, Error string
			Line                      int
			Locals                    map[string]struct{ Repr string }
		} `json:"traceback"`
		Raised string                 `json:"raised"`
		Edges  []struct{ Via string } `json:"edges"`
	}
	heapJSON(t, &s, core, "show", "CORE", le.Address)
	dicts := 0
	for _, e := range s.Edges {
		if e.Via == "__dict__" {
			dicts++
		}
	}
	if dicts != 1 {
		t.Errorf("the exception's __dict__ listed %d times among its references, want once", dicts)
	}
	if s.Raised != le.Raised {
		t.Errorf("raised %q, Python ends the traceback with %q", s.Raised, le.Raised)
	}
	checkChain(t, core, m)
	if len(s.Traceback) != len(le.Traceback) {
		t.Fatalf("traceback of %d entries, the process says %d: %+v", len(s.Traceback), len(le.Traceback), s.Traceback)
	}
	for i, want := range le.Traceback {
		got := s.Traceback[i]
		if got.Function != want.Function || got.Filename != want.Filename || got.Line != want.Line || got.Error != "" {
			t.Errorf("entry %d: %s %s:%d (%s), the process says %s %s:%d", i, got.Function, got.Filename, got.Line, got.Error, want.Function, want.Filename, want.Line)
		}
		if le.Locals[i] == nil {
			continue // a module body: its globals
		}
		for name, repr := range le.Locals[i] {
			if v, ok := got.Locals[name]; !ok || v.Repr != repr {
				t.Errorf("entry %d (%s): local %s = %q, the process says %q", i, want.Function, name, v.Repr, repr)
			}
		}
		if len(got.Locals) != len(le.Locals[i]) {
			t.Errorf("entry %d (%s): %d locals, the process has %d", i, want.Function, len(got.Locals), len(le.Locals[i]))
		}
	}
}

// checkChain: show of an exception raised from another gives the chain as
// Python prints it: the cause, its last line, its traceback.
func checkChain(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	ce := m.ChainedError
	if ce == nil {
		t.Fatal("the oracle has no chained exception")
	}
	var s struct {
		Raised string `json:"raised"`
		Chain  []struct {
			Relation, Address, Raised string
			Traceback                 []struct {
				Function, Filename string
				Line               int
			}
		} `json:"chain"`
	}
	heapJSON(t, &s, core, "show", "CORE", ce.Address)
	if s.Raised != ce.Raised || len(s.Chain) != len(ce.Chain) {
		t.Fatalf("chained exception: raised %q with %d before it; Python: %q with %d", s.Raised, len(s.Chain), ce.Raised, len(ce.Chain))
	}
	for i, want := range ce.Chain {
		got := s.Chain[i]
		if got.Relation != want.Relation || !sameAddr(got.Address, want.Address) || got.Raised != want.Raised || len(got.Traceback) != len(want.Traceback) {
			t.Errorf("chain %d: %s %s %q (%d entries); Python: %s %s %q (%d entries)", i, got.Relation, got.Address, got.Raised, len(got.Traceback),
				want.Relation, want.Address, want.Raised, len(want.Traceback))
			continue
		}
		for j, e := range want.Traceback {
			g := got.Traceback[j]
			if g.Function != e.Function || g.Filename != e.Filename || g.Line != e.Line {
				t.Errorf("chain %d entry %d: %s %s:%d; Python: %s %s:%d", i, j, g.Function, g.Filename, g.Line, e.Function, e.Filename, e.Line)
			}
		}
	}
}
