package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
	"github.com/pycoroner/pycoroner/pyheap/layout"
	"github.com/pycoroner/pycoroner/reports"
)

// Real third-party programs, from Debian's packages (scripts/deps.sh
// installs bookworm's for Debian's python3.11; oracle.use_debian_packages
// puts them on the pyenv interpreters' paths too; scripts/sid-pythons.sh
// unpacks sid's beside sid's builds, which find them first): each is
// stopped in the middle of its work, and every GC-tracked object's
// gc.get_referents() is compared with pycoroner's edges, as for the
// containers scenario.
var programs = []struct {
	scenario string
	imports  string // what the program needs, as Python imports it
	pkgs     string // the Debian packages that provide it
	// maxConservative bounds the share of the heap's bytes walked
	// conservatively (the bound for a Flask/SQLAlchemy core is 1%).
	maxConservative float64
	// cannotRun says why the packaged version cannot run on an
	// interpreter ("" when it can): there the test is skipped, saying so;
	// everywhere else it must run. sid's builds run sid's packages.
	cannotRun func(minor int, sid bool) string
}{
	{"flask_sqlalchemy", "flask, sqlalchemy", "python3-flask python3-sqlalchemy", 0.01, func(minor int, sid bool) string {
		if minor >= 14 && !sid {
			return "Flask 2.2 calls pkgutil.get_loader and Werkzeug 2.2 builds its URL rules with ast.Str, both removed in Python 3.14"
		}
		return ""
	}},
	{"django_view", "django, django.test", "python3-django", 0.01, func(minor int, sid bool) string {
		switch {
		case sid:
			return "sid's Django 5.2 keeps running Python code after the oracle is written (a function freed and another made at its address, a signal's receivers changed): the comparison does not hold still (docs/limits.md)"
		case minor < 9:
			return "Django 3.2 imports zoneinfo, new in Python 3.9"
		case minor >= 13:
			return "Django 3.2 imports cgi, removed in Python 3.13"
		}
		return ""
	}},
	{"pytest_run", "pytest", "python3-pytest", 0.01, func(minor int, sid bool) string {
		if minor < 11 && !sid {
			return "Debian's pytest 7.2 needs the exceptiongroup backport before Python 3.11, which Debian does not package for them"
		}
		return ""
	}},
}

func TestRealPrograms(t *testing.T) {
	deb, err := harness.Lookup("debian-3.11")
	if err != nil {
		skipOrFail(t, "Debian's python3.11 is not installed (apt-get install python3.11)")
	}
	for _, p := range programs {
		// The packages themselves: missing is a machine problem.
		if out, err := exec.Command(deb.Path, "-c", "import "+p.imports).CombinedOutput(); err != nil {
			t.Run(p.scenario, func(t *testing.T) {
				skipOrFail(t, "%s cannot import %s (apt-get install %s): %s", deb.Path, p.imports, p.pkgs, strings.TrimSpace(string(out)))
			})
			continue
		}
		t.Run(p.scenario, func(t *testing.T) { checkProgram(t, p.scenario, p.cannotRun, p.maxConservative) })
	}
}

// checkProgram runs one program on every interpreter it can run on.
func checkProgram(t *testing.T, scenario string, cannotRun func(int, bool) string, maxConservative float64) {
	forEachCoreModeExcept(t, scenario, []harness.Mode{harness.Gcore}, func(in harness.Interpreter, mode harness.Mode) string {
		minor, _ := strconv.Atoi(strings.TrimPrefix(in.Minor, "3."))
		if why := cannotRun(minor, in.Origin == "debian-sid"); why != "" {
			return fmt.Sprintf("%s cannot run on %s: %s", scenario, in.Name, why)
		}
		return withoutStdLayouts(in, mode)
	}, func(t *testing.T, res *harness.Result) {
		checkProgramReferents(t, res, scenario, maxConservative)
	})
}

// checkProgramReferents compares every object's references with the
// collector's (the scenario's referents file) and fails when more than
// maxConservative of the heap's bytes were walked conservatively.
func checkProgramReferents(t *testing.T, res *harness.Result, scenario string, maxConservative float64) {
	t.Helper()
	var m struct {
		ReferentsFile    string `json:"referents_file"`
		ReferentsObjects int    `json:"referents_objects"`
	}
	if err := res.Oracle.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	h := openHeap(t, res.CorePath)
	checkReferents(t, h, filepath.Join(filepath.Dir(res.OraclePath), m.ReferentsFile), m.ReferentsObjects)
	hg := reports.BuildHistogram(h, "type", 0)
	share := float64(hg.Total.ConservativeSize) / float64(hg.Total.Size)
	t.Logf("%s: %d objects, %d bytes; %s", scenario, hg.Total.Count, hg.Total.Size, hg.ConservativeSummary())
	if share > maxConservative {
		t.Errorf("%.2f%% of the heap's bytes were walked conservatively, more than %.0f%%: %s", 100*share, 100*maxConservative, hg.ConservativeSummary())
	}
}

// withoutStdLayouts skips an interpreter that has no generated
// standard-library layouts (neither its release's nor its minor's): there
// a deque's items and a bounded lru_cache's links are not walked, which
// the referents check would report (docs/limits.md).
func withoutStdLayouts(in harness.Interpreter, _ harness.Mode) string {
	if layout.StdTypesFor(in.Version) == nil {
		return fmt.Sprintf("no standard-library C-type layouts are generated for %s yet (deque, lru_cache, _asyncio): docs/limits.md", in.Minor)
	}
	return ""
}

// skipOrFail skips a test whose programs are missing, except under CI,
// where a missing program must fail the run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// An asyncio server (streams, tasks, queues) stopped mid-request, on every
// interpreter: the referents check over asyncio's C and Python objects.
func TestAsyncioServerReferents(t *testing.T) {
	forEachCoreModeExcept(t, "asyncio_server", []harness.Mode{harness.Gcore},
		withoutStdLayouts, func(t *testing.T, res *harness.Result) {
			checkProgramReferents(t, res, "asyncio_server", 0.01)
		})
}
