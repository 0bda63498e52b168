package integration

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// lazyMarkers are the markers of fixtures/scenarios/lazyimports.py.
type lazyMarkers struct {
	Module        string `json:"module"`
	ModuleAddress string `json:"module_address"`
	Globals       map[string]struct {
		Type, Address, Repr string
		Referents           []string
	} `json:"globals"`
	Lazy []string `json:"lazy"`
}

// before315 skips interpreters without lazy imports.
func before315(in harness.Interpreter, _ harness.Mode) string {
	if _, minor, ok := strings.Cut(in.Minor, "."); ok {
		if n, err := strconv.Atoi(minor); err == nil && n >= 15 {
			return ""
		}
	}
	return "lazy imports (PEP 810) are CPython 3.15+"
}

// TestLazyImports: a module whose globals were bound by 3.15's lazy
// imports, some still placeholders. modules must list exactly the globals
// the process says are still lazy, naming what each will import as
// CPython's repr does; show must give CPython's repr and walk the
// placeholder precisely (exactly gc.get_referents(), none conservative);
// refs must name the module global that holds each one.
func TestLazyImports(t *testing.T) {
	forEachCoreModeExcept(t, "lazyimports", []harness.Mode{harness.Gcore}, before315, func(t *testing.T, res *harness.Result) {
		var m lazyMarkers
		if err := res.Oracle.DecodeMarkers(&m); err != nil {
			t.Fatal(err)
		}
		if len(m.Lazy) < 5 || len(m.Globals) != 8 {
			t.Fatalf("oracle: %d globals, %d still lazy", len(m.Globals), len(m.Lazy))
		}
		core := coreRef{path: res.CorePath, local: true}

		var mods []struct {
			Name        string `json:"name"`
			Address     string `json:"address"`
			LazyGlobals []struct {
				Name, Imports, Address string
			} `json:"lazy_globals"`
		}
		heapJSON(t, &mods, core, "modules", "CORE")
		found := false
		for _, mod := range mods {
			if mod.Name != m.Module {
				if len(mod.LazyGlobals) > 0 && mod.Name == "__main__" {
					t.Errorf("__main__ has no lazy globals, modules lists %+v", mod.LazyGlobals)
				}
				continue
			}
			found = true
			var got []string
			for _, g := range mod.LazyGlobals {
				got = append(got, g.Name)
				want, ok := m.Globals[g.Name]
				if !ok || want.Type != "lazy_import" || !sameAddr(g.Address, want.Address) || "<lazy_import '"+g.Imports+"'>" != want.Repr {
					t.Errorf("modules: lazy global %s = %s (imports %q); the process: %s %s %s", g.Name, g.Address, g.Imports, want.Type, want.Address, want.Repr)
				}
			}
			want := append([]string(nil), m.Lazy...)
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("modules: lazy globals of %s %v, the process says %v", m.Module, got, want)
			}
		}
		if !found {
			t.Fatalf("modules does not list %s", m.Module)
		}

		for _, name := range m.Lazy {
			want := m.Globals[name]
			var s struct {
				Type       string `json:"type"`
				Repr       string `json:"repr"`
				LazyImport string `json:"lazy_import"`
				Edges      []struct {
					Via, Address string
					Conservative bool
				} `json:"edges"`
			}
			heapJSON(t, &s, core, "show", "CORE", m.Module+":"+name)
			if s.Type != "lazy_import" || s.Repr != want.Repr || "<lazy_import '"+s.LazyImport+"'>" != want.Repr {
				t.Errorf("show %s:%s: %s %q (lazy_import %q), the process: %s %q", m.Module, name, s.Type, s.Repr, s.LazyImport, want.Type, want.Repr)
			}
			var refs []string
			for _, e := range s.Edges {
				if e.Conservative {
					t.Errorf("show %s: conservative edge %s → %s", name, e.Via, e.Address)
				}
				if e.Via != "__class__" {
					refs = append(refs, normAddr(e.Address))
				}
			}
			var wantRefs []string
			for _, a := range want.Referents {
				wantRefs = append(wantRefs, normAddr(a))
			}
			sort.Strings(refs)
			sort.Strings(wantRefs)
			if strings.Join(refs, " ") != strings.Join(wantRefs, " ") {
				t.Errorf("show %s: references %v, gc.get_referents() %v", name, refs, wantRefs)
			}

			var holders []heapHolder
			heapJSON(t, &holders, core, "refs", "CORE", want.Address)
			held := false
			for _, h := range holders {
				if h.Kind == "object" && h.Via == "key '"+name+"'" && h.Owner != nil && sameAddr(h.Owner.Address, m.ModuleAddress) {
					held = true
				}
			}
			if !held {
				t.Errorf("refs %s (%s): no holder is %s's global %q: %+v", name, want.Address, m.Module, name, holders)
			}
		}
		// Globals that are no longer (or never were) lazy are not listed.
		for name, g := range m.Globals {
			if g.Type == "lazy_import" {
				continue
			}
			var s struct {
				LazyImport string `json:"lazy_import"`
			}
			heapJSON(t, &s, core, "show", "CORE", m.Module+":"+name)
			if s.LazyImport != "" {
				t.Errorf("show %s:%s says lazy import %q; the process has a %s", m.Module, name, s.LazyImport, g.Type)
			}
		}
	})
}

func normAddr(a string) string {
	n, err := harness.ParseAddress(a)
	if err != nil {
		return a
	}
	return strconv.FormatUint(n, 16)
}
