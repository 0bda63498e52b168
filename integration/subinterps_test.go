package integration

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// subinterpsMarkers are the markers of fixtures/scenarios/subinterps.py:
// what each interpreter said of itself, the main interpreter first.
type subinterpsMarkers struct {
	API          string `json:"api"`
	Interpreters []struct {
		ID     int64 `json:"id"`
		Marker struct {
			Address, Type, Module, Global string
		} `json:"marker"`
		Modules []string       `json:"modules"`
		Threads []oracleThread `json:"threads"`
	} `json:"interpreters"`
}

// The shapes of the answers, decoded here independently of package
// reports.
type subStacks struct {
	Threads []struct {
		oracleThread
		Interpreter *int64 `json:"interpreter"`
	} `json:"threads"`
	Interpreters []struct {
		ID      int64  `json:"id"`
		Address string `json:"address"`
		IsMain  bool   `json:"is_main"`
		Threads int    `json:"threads"`
	} `json:"interpreters"`
}

type subModule struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	Interpreter int64  `json:"interpreter"`
}

type subPath struct {
	Root struct {
		Kind, Name  string
		Interpreter int64 `json:"interpreter"`
	} `json:"root"`
	Hops []heapHop `json:"hops"`
}

type subHolder struct {
	heapHolder
	Interpreter *int64 `json:"interpreter"`
}

// TestSubinterpreters: the main interpreter and two subinterpreters
// (concurrent.interpreters on 3.14+, _interpreters or _xxsubinterpreters
// before), each with threads blocked in known functions, the thread that
// entered each subinterpreter having a thread state in both. stacks must
// group the threads by interpreter exactly as each interpreter saw its
// own (frames, locals, names); modules must list each interpreter's
// sys.modules under its id; refs and path must find each interpreter's
// marker object from that interpreter's own module.
func TestSubinterpreters(t *testing.T) {
	forEachCoreMode(t, "subinterps", []harness.Mode{harness.Gcore}, func(t *testing.T, res *harness.Result) {
		var m subinterpsMarkers
		if err := res.Oracle.DecodeMarkers(&m); err != nil {
			t.Fatal(err)
		}
		if len(m.Interpreters) != 3 || m.Interpreters[0].ID != 0 {
			t.Fatalf("oracle (%s): %d interpreters, want the main one and 2 more", m.API, len(m.Interpreters))
		}
		core := coreRef{path: res.CorePath, local: true}
		checkSubStacks(t, core, m)
		mods := checkSubModules(t, core, m)
		for _, in := range m.Interpreters {
			checkSubMarker(t, core, in.ID, in.Marker.Address, in.Marker.Module, mods)
		}
		checkSubNames(t, core, m)
	})
}

// checkSubNames: a module:attr name that resolves in several interpreters
// (each subinterpreter imports its own child) answers with the first,
// warns naming each interpreter and the address it gives, and NAME@N
// answers with interpreter N's own object, as that interpreter recorded
// it. An interpreter that does not exist, or lacks the module, is a
// one-line error naming the ids that do.
func checkSubNames(t *testing.T, core coreRef, m subinterpsMarkers) {
	t.Helper()
	hexOf := func(a string) string {
		n, err := harness.ParseAddress(a)
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		return fmt.Sprintf("0x%x", n)
	}
	// The oldest is read first (interpreters are listed by creation, and
	// ids follow it). Each runner thread makes its own, so which index
	// was made first is a race: by id.
	sub1, sub2 := m.Interpreters[1], m.Interpreters[2]
	if sub1.ID > sub2.ID {
		sub1, sub2 = sub2, sub1
	}
	ids := fmt.Sprintf("%d, %d, %d", m.Interpreters[0].ID, sub1.ID, sub2.ID)
	type tc struct {
		expr     string
		addr     string   // the oracle's address of the answer; "" when it fails
		warn     []string // parts of the one ambiguity warning; nil: none
		errParts []string // parts of the error line
	}
	tests := []tc{
		{expr: "child:MARKER", addr: sub1.Marker.Address, warn: []string{
			"child:MARKER names a different object in each of 2 interpreters",
			fmt.Sprintf("interpreter %d: %s", sub1.ID, hexOf(sub1.Marker.Address)),
			fmt.Sprintf("interpreter %d: %s", sub2.ID, hexOf(sub2.Marker.Address)),
			fmt.Sprintf("interpreter %d's is used", sub1.ID),
			fmt.Sprintf("child:MARKER@%d", sub2.ID)}},
		{expr: "__main__:MARKER", addr: m.Interpreters[0].Marker.Address}, // only the main script has one
		{expr: fmt.Sprintf("child:MARKER@%d", sub2.ID+1), errParts: []string{
			fmt.Sprintf("no interpreter %d", sub2.ID+1), "its interpreters: " + ids}},
		{expr: fmt.Sprintf("child@%d", m.Interpreters[0].ID), errParts: []string{
			fmt.Sprintf(`module "child" is not in interpreter %d's sys.modules`, m.Interpreters[0].ID),
			fmt.Sprintf("interpreters that have it: %d, %d", sub1.ID, sub2.ID)}},
	}
	for _, in := range m.Interpreters {
		tests = append(tests, tc{expr: fmt.Sprintf("%s:%s@%d", in.Marker.Module, in.Marker.Global, in.ID), addr: in.Marker.Address})
	}
	for _, tc := range tests {
		args := append([]string{"--json", "show", core.path, tc.expr}, core.flags...)
		r := pycoroner(t, args...)
		if tc.addr == "" {
			lines := strings.Split(strings.TrimSpace(string(r.stderr)), "\n")
			if r.code == 0 || len(lines) != 1 {
				t.Errorf("show %s: exit %d, stderr %q; want an error in one line", tc.expr, r.code, r.stderr)
				continue
			}
			for _, part := range tc.errParts {
				if !strings.Contains(lines[0], part) {
					t.Errorf("show %s: error %q does not say %q", tc.expr, lines[0], part)
				}
			}
			continue
		}
		if r.code != 0 {
			t.Errorf("show %s exited %d: %s", tc.expr, r.code, r.stderr)
			continue
		}
		var got struct {
			Address string `json:"address"`
		}
		env, err := unwrap(r.stdout, &got)
		if err != nil {
			t.Errorf("show %s: %v", tc.expr, err)
			continue
		}
		if !sameAddr(got.Address, tc.addr) {
			t.Errorf("show %s: object %s, the process recorded %s", tc.expr, got.Address, tc.addr)
		}
		var ambiguous []string
		for _, w := range env.Warnings {
			if strings.Contains(w, "interpreters (") {
				ambiguous = append(ambiguous, w)
			}
		}
		if tc.warn == nil {
			if len(ambiguous) != 0 {
				t.Errorf("show %s: warns %q, want no ambiguity", tc.expr, ambiguous)
			}
			continue
		}
		if len(ambiguous) != 1 {
			t.Errorf("show %s: %d ambiguity warnings among %q, want 1", tc.expr, len(ambiguous), env.Warnings)
			continue
		}
		for _, part := range tc.warn {
			if !strings.Contains(ambiguous[0], part) {
				t.Errorf("show %s: warning %q does not say %q", tc.expr, ambiguous[0], part)
			}
		}
		// Text: the same answer, the same warning on stderr.
		text := pycoroner(t, append([]string{"show", core.path, tc.expr}, core.flags...)...)
		if text.code != 0 || !strings.Contains(string(text.stdout), hexOf(tc.addr)) ||
			!strings.Contains(string(text.stderr), "warning: "+ambiguous[0]) {
			t.Errorf("show %s (text): exit %d, stdout %.80q, stderr %q: want %s and the warning", tc.expr, text.code, text.stdout, text.stderr, hexOf(tc.addr))
		}
	}
}

func checkSubStacks(t *testing.T, core coreRef, m subinterpsMarkers) {
	t.Helper()
	var got subStacks
	heapJSON(t, &got, core, "stacks", "--locals", "CORE")
	if len(got.Interpreters) != len(m.Interpreters) {
		t.Errorf("stacks lists %d interpreters, the process had %d", len(got.Interpreters), len(m.Interpreters))
	}
	// Threads come grouped: every interpreter's in one run, in the order
	// of interpreters.
	var order []int64
	for _, th := range got.Threads {
		if th.Interpreter == nil {
			t.Errorf("thread %d has no interpreter", th.ThreadID)
			continue
		}
		if n := len(order); n == 0 || order[n-1] != *th.Interpreter {
			order = append(order, *th.Interpreter)
		}
	}
	var listed []int64
	for _, in := range got.Interpreters {
		listed = append(listed, in.ID)
	}
	if fmt.Sprint(order) != fmt.Sprint(listed) {
		t.Errorf("threads grouped by interpreter as %v, interpreters listed %v", order, listed)
	}
	for _, want := range m.Interpreters {
		where := fmt.Sprintf("interpreter %d", want.ID)
		byID := map[uint64]oracleThread{}
		for _, th := range got.Threads {
			if th.Interpreter != nil && *th.Interpreter == want.ID {
				byID[th.ThreadID] = th.oracleThread
			}
		}
		for _, in := range got.Interpreters {
			if in.ID == want.ID && (in.IsMain != (want.ID == 0) || in.Threads != len(byID)) {
				t.Errorf("%s: is_main %v, %d threads, but %d threads name it", where, in.IsMain, in.Threads, len(byID))
			}
		}
		if len(byID) != len(want.Threads) {
			t.Errorf("%s: %d threads, the interpreter had %d", where, len(byID), len(want.Threads))
		}
		for _, w := range want.Threads {
			g, ok := byID[w.ThreadID]
			at := fmt.Sprintf("%s thread %d (%s)", where, w.ThreadID, strp(w.Name))
			if !ok {
				t.Errorf("%s: missing", at)
				continue
			}
			if strp(g.Name) != strp(w.Name) {
				t.Errorf("%s: name %q", at, strp(g.Name))
			}
			if w.NativeThreadID != nil && (g.NativeThreadID == nil || *g.NativeThreadID != *w.NativeThreadID) {
				t.Errorf("%s: native_thread_id %s, oracle %d", at, intp(g.NativeThreadID), *w.NativeThreadID)
			}
			compareFrames(t, at, w.Frames, g.Frames)
		}
	}
}

// checkSubModules compares each interpreter's sys.modules with modules
// --json and returns its entries by interpreter and name.
func checkSubModules(t *testing.T, core coreRef, m subinterpsMarkers) map[int64]map[string]string {
	t.Helper()
	var got []subModule
	heapJSON(t, &got, core, "modules", "CORE")
	byInterp := map[int64]map[string]string{}
	for _, e := range got {
		if byInterp[e.Interpreter] == nil {
			byInterp[e.Interpreter] = map[string]string{}
		}
		byInterp[e.Interpreter][e.Name] = e.Address
	}
	if len(byInterp) != len(m.Interpreters) {
		t.Errorf("modules names %d interpreters, the process had %d", len(byInterp), len(m.Interpreters))
	}
	for _, want := range m.Interpreters {
		var names []string
		for n := range byInterp[want.ID] {
			names = append(names, n)
		}
		sort.Strings(names)
		if strings.Join(names, " ") != strings.Join(want.Modules, " ") {
			t.Errorf("interpreter %d: modules lists %d names, its sys.modules had %d:\n got  %v\n want %v",
				want.ID, len(names), len(want.Modules), names, want.Modules)
		}
	}
	return byInterp
}

// checkSubMarker: the marker of one interpreter is held by that
// interpreter's module (its global), and path starts at that module.
func checkSubMarker(t *testing.T, core coreRef, interp int64, addr, module string, mods map[int64]map[string]string) {
	t.Helper()
	modAddr := mods[interp][module]
	if modAddr == "" {
		t.Errorf("interpreter %d: module %s is not listed", interp, module)
		return
	}
	var holders []subHolder
	heapJSON(t, &holders, core, "refs", "CORE", addr)
	fromModule := 0
	for _, h := range holders {
		switch h.Kind {
		case "object":
			if h.Via == "key 'MARKER'" && h.Owner != nil && sameAddr(h.Owner.Address, modAddr) {
				fromModule++
				continue
			}
		}
		// A frame running the module body holds MARKER only as an entry
		// of its globals, the dict listed above: no frame row for it.
		t.Errorf("interpreter %d marker %s: unexpected holder %+v (interpreter %s)", interp, addr, h.heapHolder, int64p(h.Interpreter))
	}
	if fromModule != 1 {
		t.Errorf("interpreter %d marker %s: %d holders are %s's globals of that interpreter (%s), want 1", interp, addr, fromModule, module, modAddr)
	}
	// --all: the main script's marker is also a local of its <module>
	// frame, a shorter path than through its module.
	var paths []subPath
	heapJSON(t, &paths, core, "path", "--all", "CORE", addr)
	name := fmt.Sprintf("sys.modules[%q]", module)
	if interp != 0 {
		name = fmt.Sprintf("interpreter %d › %s", interp, name)
	}
	found := false
	for _, p := range paths {
		if p.Root.Interpreter != interp {
			t.Errorf("interpreter %d marker %s: a path from %s of interpreter %d", interp, addr, p.Root.Name, p.Root.Interpreter)
		}
		if p.Root.Kind == "module" && p.Root.Name == name && len(p.Hops) >= 2 &&
			sameAddr(p.Hops[0].Address, modAddr) && sameAddr(p.Hops[len(p.Hops)-1].Address, addr) {
			found = true
		}
	}
	if !found {
		t.Errorf("interpreter %d marker %s: no path from %s (%s) among %+v", interp, addr, name, modAddr, paths)
	}
}

func int64p(p *int64) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}
