package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// retainedMarkers is what the "retained" scenario computes about its cache.
type retainedMarkers struct {
	Retained struct {
		Address string   `json:"address"`
		Count   uint32   `json:"count"`
		Size    uint64   `json:"size"`
		IDs     []string `json:"ids"`
	} `json:"retained"`
}

// TestRetainedMatchesOracle: the cache's retained size and count are what
// the process computed (the objects reachable only through it, summed with
// sys.getsizeof), the cache is the first leak suspect, and top lists it
// with the same figures.
func TestRetainedMatchesOracle(t *testing.T) {
	forEachCoreMode(t, "retained", []harness.Mode{harness.Gcore}, func(t *testing.T, res *harness.Result) {
		var m retainedMarkers
		if err := res.Oracle.DecodeMarkers(&m); err != nil || m.Retained.Count < 40000 {
			t.Fatalf("oracle: %v (%d objects)", err, m.Retained.Count)
		}
		core := coreRef{path: res.CorePath, local: true}
		var r struct {
			Address         string `json:"address"`
			Type            string `json:"type"`
			ShallowSize     uint64 `json:"shallow_size"`
			RetainedSize    uint64 `json:"retained_size"`
			RetainedObjects uint32 `json:"retained_objects"`
			Children        []struct {
				Address         string `json:"address"`
				Type            string `json:"type"`
				RetainedSize    uint64 `json:"retained_size"`
				RetainedObjects uint32 `json:"retained_objects"`
			} `json:"children"`
			ChildrenOmitted int `json:"children_omitted"`
		}
		heapJSON(t, &r, core, "retained", "--top", "0", "CORE", m.Retained.Address)
		if r.RetainedObjects != m.Retained.Count || r.RetainedSize != m.Retained.Size {
			t.Errorf("retained: %d objects, %d bytes; the process says %d objects, %d bytes",
				r.RetainedObjects, r.RetainedSize, m.Retained.Count, m.Retained.Size)
		}
		// The children add up: the cache's own size plus theirs.
		sum, count := r.ShallowSize, uint32(1)
		for _, c := range r.Children {
			sum += c.RetainedSize
			count += c.RetainedObjects
		}
		if sum != r.RetainedSize || count != r.RetainedObjects || r.ChildrenOmitted != 0 {
			t.Errorf("children sum to %d bytes, %d objects (%d omitted); retained %d, %d", sum, count, r.ChildrenOmitted, r.RetainedSize, r.RetainedObjects)
		}

		var l struct {
			HeapSize uint64 `json:"heap_size"`
			Suspects []struct {
				Address      string  `json:"address"`
				Type         string  `json:"type"`
				RetainedSize uint64  `json:"retained_size"`
				Share        float64 `json:"share"`
				Path         *struct {
					Root struct{ Kind, Name string }
				} `json:"path"`
				Accumulates []struct {
					Type  string `json:"type"`
					Count int    `json:"count"`
				} `json:"accumulates"`
				Summary string `json:"summary"`
			} `json:"suspects"`
		}
		heapJSON(t, &l, core, "leaks", "CORE")
		if len(l.Suspects) == 0 || !sameAddr(l.Suspects[0].Address, m.Retained.Address) {
			t.Fatalf("leaks: first suspect is not the cache %s: %+v", m.Retained.Address, l.Suspects)
		}
		s := l.Suspects[0]
		if s.RetainedSize != m.Retained.Size || s.Path == nil || s.Share <= 0.3 || s.Share != float64(s.RetainedSize)/float64(l.HeapSize) {
			t.Errorf("suspect: %d bytes, share %v of %d, path %+v", s.RetainedSize, s.Share, l.HeapSize, s.Path)
		}
		if len(s.Accumulates) == 0 || s.Accumulates[0].Type != "dict" || s.Accumulates[0].Count != 3000 {
			t.Errorf("suspect accumulates %+v, want 3000 dict records first", s.Accumulates)
		}
		if !strings.Contains(s.Summary, "CACHE") || !strings.Contains(s.Summary, "3000 dict objects") {
			t.Errorf("summary %q names neither CACHE nor its 3000 records", s.Summary)
		}

		var top []struct {
			Address      string    `json:"address"`
			RetainedSize uint64    `json:"retained_size"`
			Path         *struct{} `json:"path"`
		}
		heapJSON(t, &top, core, "top", "--retained", "--top", "10", "CORE")
		found := false
		for i, o := range top {
			if i > 0 && o.RetainedSize > top[i-1].RetainedSize {
				t.Errorf("top: not biggest first at %d", i)
			}
			if sameAddr(o.Address, m.Retained.Address) {
				found = true
				if o.RetainedSize != m.Retained.Size || o.Path == nil {
					t.Errorf("top: the cache retains %d (path %v), the process says %d", o.RetainedSize, o.Path, m.Retained.Size)
				}
			}
		}
		if !found {
			t.Errorf("top --retained --top 10 does not list the cache %s", m.Retained.Address)
		}
	})
}

// checkSwappedWarning checks that diff warns of cores given newest first
// exactly when it should.
func checkSwappedWarning(t *testing.T, warnings []string, want bool) {
	t.Helper()
	got := slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "is older than OLD") })
	if got != want {
		t.Errorf("diff warnings %q: a warning of swapped cores %v, want %v", warnings, got, want)
	}
}

// diffMarkers is what the "diff" scenario says about itself in each phase.
type diffMarkers struct {
	Counts      map[string]int    `json:"counts"`
	Sizes       map[string]uint64 `json:"sizes"`
	LeakList    string            `json:"leak_list"`
	Leaked      int               `json:"leaked"`
	Freed       int               `json:"freed"`
	NewSessions []string          `json:"new_sessions"`
}

type diffJSON struct {
	ObjectsInBoth int `json:"objects_in_both"`
	NewObjects    int `json:"new_objects"`
	FreedObjects  int `json:"freed_objects"`
	Types         []struct {
		Type       string `json:"type"`
		Module     string `json:"module"`
		CountOld   int    `json:"count_old"`
		CountNew   int    `json:"count_new"`
		CountDelta int    `json:"count_delta"`
		SizeOld    uint64 `json:"size_old"`
		SizeNew    uint64 `json:"size_new"`
		SizeDelta  int64  `json:"size_delta"`
	} `json:"types"`
	Growth []struct {
		Address string `json:"address"`
		Type    string `json:"type"`
		Path    *struct {
			Root struct{ Kind, Name string }
		} `json:"path"`
		NewReferents    int    `json:"new_referents"`
		NewRetainedSize uint64 `json:"new_retained_size"`
	} `json:"growth"`
	New *struct {
		Type    string `json:"type"`
		Count   int    `json:"count"`
		Objects []struct {
			Address string `json:"address"`
		} `json:"objects"`
	} `json:"new"`
}

// TestDiffMatchesOracle: two cores of one process; diff reports exactly
// the counts and sizes the process measured in each phase, the leaking
// list as the first growth point, and exactly the new sessions as new.
func TestDiffMatchesOracle(t *testing.T) {
	for _, in := range interpreters(t) {
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			pair, err := harness.CachedCorePair(ctx, in, "diff")
			if err != nil {
				t.Fatal(err)
			}
			var m [2]diffMarkers
			for i, res := range []harness.Result{pair.First, pair.Second} {
				if err := res.Oracle.DecodeMarkers(&m[i]); err != nil {
					t.Fatal(err)
				}
			}
			r := pycoroner(t, "diff", "--json", "--new", "Session", "--max-new", "0", pair.First.CorePath, pair.Second.CorePath)
			if r.code != 0 {
				t.Fatalf("diff exited %d: %s", r.code, r.stderr)
			}
			var d diffJSON
			env, err := unwrap(r.stdout, &d)
			if err != nil {
				t.Fatalf("diff --json: %v", err)
			}
			checkSwappedWarning(t, env.Warnings, false)
			// One core given twice: nothing changed, and diff says why.
			same := pycoroner(t, "diff", "--json", pair.Second.CorePath, pair.Second.CorePath)
			var none diffJSON
			if env, err := unwrap(same.stdout, &none); same.code != 0 || err != nil || len(none.Types) != 0 || none.NewObjects != 0 || none.FreedObjects != 0 ||
				!slices.ContainsFunc(env.Warnings, func(w string) bool { return strings.Contains(w, "are the same file") }) {
				t.Errorf("diff CORE CORE: exit %d, %v, %d types changed, %d new, %d freed, warnings %q", same.code, err, len(none.Types), none.NewObjects, none.FreedObjects, env.Warnings)
			}
			// The summary counts add up to each core's census.
			var old struct {
				OldCensus struct {
					Objects int `json:"objects"`
				} `json:"old_census"`
			}
			if err := json.Unmarshal(r.stdout, &old); err != nil || env.Census == nil ||
				d.ObjectsInBoth+d.NewObjects != env.Census.Objects || d.ObjectsInBoth+d.FreedObjects != old.OldCensus.Objects || d.NewObjects < m[1].Leaked {
				t.Errorf("diff: %d in both, %d new, %d freed; the censuses have %d (old) and %+v (new) objects, %d Sessions leaked (%v)",
					d.ObjectsInBoth, d.NewObjects, d.FreedObjects, old.OldCensus.Objects, env.Census, m[1].Leaked, err)
			}
			// Given the wrong way round, diff says the files' times
			// disagree with the order.
			r = pycoroner(t, "diff", "--json", "--top", "1", pair.Second.CorePath, pair.First.CorePath)
			var swapped diffJSON
			if env, err := unwrap(r.stdout, &swapped); r.code != 0 || err != nil {
				t.Errorf("diff NEW OLD: exit %d, %v: %s", r.code, err, r.stderr)
			} else {
				checkSwappedWarning(t, env.Warnings, true)
			}
			for _, class := range []string{"Session", "Order"} {
				found := false
				for _, ty := range d.Types {
					if ty.Type != class || ty.Module != "__main__" {
						continue
					}
					found = true
					if ty.CountOld != m[0].Counts[class] || ty.CountNew != m[1].Counts[class] || ty.CountDelta != ty.CountNew-ty.CountOld {
						t.Errorf("%s: count %d -> %d (%+d); the process counted %d -> %d", class, ty.CountOld, ty.CountNew, ty.CountDelta, m[0].Counts[class], m[1].Counts[class])
					}
					if ty.SizeOld != m[0].Sizes[class] || ty.SizeNew != m[1].Sizes[class] || ty.SizeDelta != int64(ty.SizeNew)-int64(ty.SizeOld) {
						t.Errorf("%s: size %d -> %d; the process measured %d -> %d", class, ty.SizeOld, ty.SizeNew, m[0].Sizes[class], m[1].Sizes[class])
					}
				}
				if !found {
					t.Errorf("diff does not list type %s", class)
				}
			}
			if m[1].Counts["Session"]-m[0].Counts["Session"] != m[1].Leaked || m[0].Counts["Order"]-m[1].Counts["Order"] != m[1].Freed {
				t.Errorf("oracle: the counts do not show the scenario's %d leaked, %d freed", m[1].Leaked, m[1].Freed)
			}
			if len(d.Growth) == 0 || !sameAddr(d.Growth[0].Address, m[1].LeakList) || d.Growth[0].NewReferents != m[1].Leaked {
				t.Errorf("growth: %+v; want the list %s first with %d new referents", d.Growth, m[1].LeakList, m[1].Leaked)
			} else if p := d.Growth[0].Path; p == nil || !strings.Contains(p.Root.Name, "__main__") && !strings.Contains(p.Root.Name, "LEAK") {
				t.Errorf("growth point path %+v does not start at __main__", p)
			}
			if d.New == nil || d.New.Count != m[1].Leaked || len(d.New.Objects) != m[1].Leaked {
				t.Fatalf("--new Session: %+v, want %d", d.New, m[1].Leaked)
			}
			want := map[string]bool{}
			for _, a := range m[1].NewSessions {
				want[strings.ToLower(a)] = true
			}
			for _, o := range d.New.Objects {
				if !want[strings.ToLower(o.Address)] {
					t.Errorf("--new Session lists %s, which the process did not create in phase 2", o.Address)
				}
			}

			// top --by type: the classes' counts and shallow sizes.
			var types []struct {
				Type        string `json:"type"`
				Module      string `json:"module"`
				Count       int    `json:"count"`
				Counted     int    `json:"counted"`
				ShallowSize uint64 `json:"shallow_size"`
			}
			heapJSON(t, &types, coreRef{path: pair.Second.CorePath, local: true}, "top", "--by", "type", "--retained", "--top", "0", "CORE")
			for _, class := range []string{"Session", "Order"} {
				found := false
				for _, ty := range types {
					if ty.Type == class && ty.Module == "__main__" {
						found = true
						if ty.Count != m[1].Counts[class] || ty.ShallowSize != m[1].Sizes[class] || ty.Counted != ty.Count {
							t.Errorf("top --by type %s: %d objects (%d counted), %d bytes; the process says %d, %d", class, ty.Count, ty.Counted, ty.ShallowSize, m[1].Counts[class], m[1].Sizes[class])
						}
					}
				}
				if !found {
					t.Errorf("top --by type lists no %s", class)
				}
			}

			// instances: every Session of the new core, with its holder.
			var inst struct {
				Count     int `json:"count"`
				Instances []struct {
					Address string `json:"address"`
					Holders []struct {
						Kind    string `json:"kind"`
						Address string `json:"address"`
					} `json:"holders"`
				} `json:"instances"`
			}
			heapJSON(t, &inst, coreRef{path: pair.Second.CorePath, local: true}, "instances", "--top", "3", "CORE", "Session")
			if inst.Count != m[1].Counts["Session"] || len(inst.Instances) != 3 {
				t.Errorf("instances Session: count %d (%d listed), the process counted %d", inst.Count, len(inst.Instances), m[1].Counts["Session"])
			}
			for _, o := range inst.Instances {
				held := false
				for _, h := range o.Holders {
					held = held || sameAddr(h.Address, m[1].LeakList)
				}
				if !held {
					t.Errorf("instance %s: holders %+v do not include the list %s", o.Address, o.Holders, m[1].LeakList)
				}
			}
		})
	}
}

// TestDiffRefusesOtherProcesses: cores of two processes are refused with
// a hint, and compared with --force.
func TestDiffRefusesOtherProcesses(t *testing.T) {
	ins := interpreters(t)
	in := ins[len(ins)-1]
	a := cachedCore(t, in, "retained", harness.Gcore)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pair, err := harness.CachedCorePair(ctx, in, "diff")
	if err != nil {
		t.Fatal(err)
	}
	r := pycoroner(t, "diff", a.CorePath, pair.Second.CorePath)
	if r.code == 0 || !strings.Contains(string(r.stderr), "--force") || !strings.Contains(string(r.stderr), "pid") {
		t.Errorf("diff of two processes: exit %d, %s", r.code, r.stderr)
	}
	if n := strings.Count(strings.TrimSpace(string(r.stderr)), "\n"); n != 0 {
		t.Errorf("the refusal is %d lines, want one:\n%s", n+1, r.stderr)
	}
	r = pycoroner(t, "diff", "--force", "--json", a.CorePath, pair.Second.CorePath)
	if r.code != 0 {
		t.Errorf("diff --force: exit %d, %s", r.code, r.stderr)
	}
}

// TestLeaksFlaskSQLAlchemy: in a real Flask + SQLAlchemy application with a
// deliberate leak (every request's record kept in a module list), `leaks`
// names that list first. It runs under every interpreter that has flask
// and sqlalchemy (Debian's python3-flask, python3-sqlalchemy); under CI one
// at least must.
func TestLeaksFlaskSQLAlchemy(t *testing.T) {
	var with []harness.Interpreter
	for _, in := range interpreters(t) {
		if exec.Command(in.Path, "-c", "import flask, sqlalchemy").Run() == nil {
			with = append(with, in)
		}
	}
	if len(with) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no interpreter has flask and sqlalchemy (apt-get install python3-flask python3-sqlalchemy)")
		}
		t.Skip("no interpreter has flask and sqlalchemy")
	}
	for _, in := range with {
		t.Run(in.Name, func(t *testing.T) {
			res := cachedCore(t, in, "flaskleak", harness.Gcore)
			var m struct {
				Leak struct {
					Address string `json:"address"`
					Records int    `json:"records"`
				} `json:"leak"`
			}
			if err := res.Oracle.DecodeMarkers(&m); err != nil || m.Leak.Records == 0 {
				t.Fatalf("oracle: %v %+v", err, m)
			}
			var l struct {
				Suspects []struct {
					Address     string `json:"address"`
					Accumulates []struct {
						Type  string `json:"type"`
						Count int    `json:"count"`
					} `json:"accumulates"`
					Summary string `json:"summary"`
				} `json:"suspects"`
			}
			heapJSON(t, &l, coreRef{path: res.CorePath, local: true}, "leaks", "CORE")
			if len(l.Suspects) == 0 || !sameAddr(l.Suspects[0].Address, m.Leak.Address) {
				t.Fatalf("first suspect is not AUDIT_TRAIL %s: %+v", m.Leak.Address, l.Suspects)
			}
			if a := l.Suspects[0].Accumulates; len(a) == 0 || a[0].Count != m.Leak.Records {
				t.Errorf("the suspect accumulates %+v, want its %d records first", a, m.Leak.Records)
			}
			t.Log(l.Suspects[0].Summary)
		})
	}
}

// pathedHolder is a holder of refs/grep --paths.
type pathedHolder struct {
	Kind    string `json:"kind"`
	Address string `json:"address"`
	Owner   *struct {
		Address string `json:"address"`
	} `json:"owner"`
	Path *struct {
		Root struct{ Kind, Name string }
		Hops []struct {
			Via     *string `json:"via"`
			Address string  `json:"address"`
		}
	} `json:"path"`
}

// checkHolderPaths: a frame or thread holder is a root (no path); an object
// holder's path starts at a root's object and ends at the holder.
func checkHolderPaths(t *testing.T, what string, hs []pathedHolder) {
	t.Helper()
	for _, h := range hs {
		if h.Kind != "object" {
			if h.Path != nil {
				t.Errorf("%s: %s holder has a path", what, h.Kind)
			}
			continue
		}
		if h.Path == nil {
			continue // held only by what no named root reaches (a frame's f_locals snapshot)
		}
		hops := h.Path.Hops
		if len(hops) == 0 || !sameAddr(hops[len(hops)-1].Address, h.Address) || hops[0].Via != nil || h.Path.Root.Name == "" {
			t.Errorf("%s: holder %s has path %+v, which does not lead from a root to it", what, h.Address, h.Path)
		}
	}
}

// TestHolderPaths: refs and grep --paths give each holder of the marked
// list (and of the temp-file names) its path from a root: the instance
// attribute's and the dict value's holders are reached from __main__.
func TestHolderPaths(t *testing.T) {
	forEachCoreMode(t, "threads", []harness.Mode{harness.Gcore}, func(t *testing.T, res *harness.Result) {
		var m harness.ThreadsMarkers
		if err := res.Oracle.DecodeMarkers(&m); err != nil {
			t.Fatal(err)
		}
		core := coreRef{path: res.CorePath, local: true}
		var hs []pathedHolder
		heapJSON(t, &hs, core, "refs", "--paths", "CORE", m.MarkedList.Address)
		checkHolderPaths(t, "refs", hs)
		// The instance holds the list itself (3.11+) or through its
		// __dict__, whose owner it is.
		for _, want := range []string{m.MarkedList.Holders.Attribute.ObjectAddress, m.MarkedList.Holders.DictValue.DictAddress} {
			found := false
			for _, h := range hs {
				if h.Kind == "object" && (sameAddr(h.Address, want) || h.Owner != nil && sameAddr(h.Owner.Address, want)) {
					found = true
					if h.Path == nil {
						t.Errorf("refs --paths: holder %s has no path from a root", want)
					}
				}
			}
			if !found {
				t.Errorf("refs --paths: holder %s not listed", want)
			}
		}
		var matches []struct {
			Value   string         `json:"value"`
			Holders []pathedHolder `json:"holders"`
		}
		heapJSON(t, &matches, core, "grep", "--paths", "CORE", "^"+regexp.QuoteMeta(filepath.Dir(m.TempFiles[0].Path))+"/pycoroner-")
		if len(matches) < len(m.TempFiles) {
			t.Fatalf("grep --paths: %d matches, %d temp files", len(matches), len(m.TempFiles))
		}
		withPath := 0
		for _, mt := range matches {
			checkHolderPaths(t, "grep "+mt.Value, mt.Holders)
			for _, h := range mt.Holders {
				if h.Path != nil {
					withPath++
				}
			}
		}
		if withPath == 0 {
			t.Error("grep --paths: no holder of the temp-file names has a path (TEMP_FILES' dicts are reachable from __main__)")
		}
	})
}

// TestLeakCommandsBadInput: usage errors exit 2, answers that cannot be
// given exit 1; each with one line that says what to do.
func TestLeakCommandsBadInput(t *testing.T) {
	ins := interpreters(t)
	res := cachedCore(t, ins[len(ins)-1], "retained", harness.Gcore)
	c := res.CorePath
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"instances", c, "NoSuchTypeAnywhere"}, 1, "histogram"},
		{[]string{"retained", c, "0x10"}, 1, "0x10"},
		{[]string{"retained", c}, 2, "ADDR"},
		{[]string{"top", "--by", "module", c}, 2, "--by"},
		{[]string{"top", "--top", "-1", c}, 2, "--top"},
		{[]string{"top", "--top", "0", c}, 2, "--top 100"},
		{[]string{"leaks", "--min-share", "2", c}, 2, "--min-share"},
		{[]string{"diff", c}, 2, "OLD and NEW"},
		{[]string{"diff", c, "/nonexistent/core"}, 1, "/nonexistent/core"},
	} {
		r := pycoroner(t, tc.args...)
		msg := strings.TrimSpace(string(r.stderr))
		if tc.code == 2 { // usage errors add a line pointing to --help
			msg = strings.TrimSuffix(msg, "\nRun 'pycoroner "+tc.args[0]+" --help' for usage.")
		}
		if r.code != tc.code || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("pycoroner %v: exit %d (want %d), stderr %q (want one line naming %q)", tc.args[:len(tc.args)-1], r.code, tc.code, msg, tc.want)
		}
	}
}

// TestLeakCommandsOnGoldenCores: on the committed cores (no gdb, no pyenv,
// binaries under --sysroot) the leak-hunting answers agree with histogram:
// heap_size is the sum of every type's size, top --by type counts what it
// counts, and a retained size is its object's size plus its children's.
func TestLeakCommandsOnGoldenCores(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	ref := coreRef{path: core, flags: []string{"--sysroot=" + sysroot}}
	var hist []struct {
		Type   string `json:"type"`
		Module string `json:"module"`
		Count  int    `json:"count"`
		Size   uint64 `json:"size"`
	}
	heapJSON(t, &hist, ref, "histogram", "--top", "0", "CORE")
	var total uint64
	want := map[string][2]uint64{}
	for _, r := range hist {
		total += r.Size
		want[r.Module+" "+r.Type] = [2]uint64{uint64(r.Count), r.Size}
	}
	var l struct {
		HeapSize uint64 `json:"heap_size"`
	}
	heapJSON(t, &l, ref, "leaks", "CORE")
	if l.HeapSize != total || total == 0 {
		t.Errorf("leaks: heap_size %d, histogram sums to %d", l.HeapSize, total)
	}
	var types []struct {
		Type         string `json:"type"`
		Module       string `json:"module"`
		Count        int    `json:"count"`
		ShallowSize  uint64 `json:"shallow_size"`
		RetainedSize uint64 `json:"retained_size"`
	}
	heapJSON(t, &types, ref, "top", "--by", "type", "--retained", "--top", "0", "CORE")
	if len(types) != len(hist) {
		t.Errorf("top --by type: %d types, histogram %d", len(types), len(hist))
	}
	for _, ty := range types {
		if w := want[ty.Module+" "+ty.Type]; w != [2]uint64{uint64(ty.Count), ty.ShallowSize} || ty.RetainedSize < ty.ShallowSize || ty.RetainedSize > total {
			t.Errorf("top --by type %s.%s: %d objects, %d bytes, retaining %d; histogram says %v", ty.Module, ty.Type, ty.Count, ty.ShallowSize, ty.RetainedSize, w)
		}
	}
	var r struct {
		ShallowSize     uint64 `json:"shallow_size"`
		RetainedSize    uint64 `json:"retained_size"`
		RetainedObjects uint32 `json:"retained_objects"`
		Children        []struct {
			RetainedSize    uint64 `json:"retained_size"`
			RetainedObjects uint32 `json:"retained_objects"`
		} `json:"children"`
	}
	heapJSON(t, &r, ref, "retained", "--top", "0", "CORE", "sys:modules")
	sum, count := r.ShallowSize, uint32(1)
	for _, c := range r.Children {
		sum, count = sum+c.RetainedSize, count+c.RetainedObjects
	}
	if sum != r.RetainedSize || count != r.RetainedObjects || r.RetainedObjects < 2 {
		t.Errorf("retained sys.modules: %d bytes in %d objects, its size and children's sum to %d in %d", r.RetainedSize, r.RetainedObjects, sum, count)
	}
}
