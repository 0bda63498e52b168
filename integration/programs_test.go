package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
	"github.com/pycoroner/pycoroner/reports"
)

// Real third-party programs, from Debian's packages (scripts/deps.sh
// installs bookworm's for Debian's python3.11, scripts/sid-pythons.sh
// unpacks sid's beside sid's builds): each is stopped in the middle of its
// work, and every GC-tracked object's gc.get_referents() is compared with
// pycoroner's edges, as for the containers scenario.
var programs = []struct {
	scenario string
	imports  string // what the program needs, as Python imports it
	pkgs     string // the Debian packages that provide it
	// maxConservative bounds the share of the heap's bytes walked
	// conservatively (the bound for a Flask/SQLAlchemy core is 1%).
	maxConservative float64
	// on: "every" interpreter (the scenario finds bookworm's packages for
	// the pyenv builds, see its docstring), "debian": Debian's own builds,
	// each with its distribution's packages, or "bookworm": Debian's 3.11
	// only. Django 5.2 on sid's builds keeps running Python code after the
	// oracle is written (a function freed and another allocated at its
	// address, a signal's receivers changed): its comparison is not
	// meaningful until the scenario waits for that (docs/limits.md).
	on string
}{
	{"flask_sqlalchemy", "flask, sqlalchemy", "python3-flask python3-sqlalchemy", 0.01, "every"},
	{"django_view", "django", "python3-django", 0.01, "bookworm"},
	{"pytest_run", "pytest", "python3-pytest", 0.01, "debian"},
}

func TestRealPrograms(t *testing.T) {
	if _, err := harness.Lookup("debian-3.11"); err != nil {
		skipOrFail(t, "Debian's python3.11 is not installed (apt-get install python3.11)")
	}
	if _, err := exec.LookPath("gcore"); err != nil {
		skipOrFail(t, "gcore is not installed (apt-get install gdb)")
	}
	all := interpreters(t)
	for _, p := range programs {
		for _, in := range all {
			switch {
			case p.on == "debian" && in.Origin != "debian" && in.Origin != "debian-sid",
				p.on == "bookworm" && in.Name != "debian-3.11":
				continue
			}
			t.Run(p.scenario+"/"+in.Name, func(t *testing.T) {
				t.Parallel()
				pkgs := p.pkgs
				if in.Origin == "debian-sid" {
					pkgs += " (sid's: scripts/sid-pythons.sh)"
				}
				realProgram(t, in, p.scenario, p.imports, pkgs, p.maxConservative)
			})
		}
	}
}

// realProgram stops a program in the middle of its work on one
// interpreter and checks the census against the collector's view.
func realProgram(t *testing.T, in harness.Interpreter, scenario, imports, pkgs string, maxConservative float64) {
	// The import as the scenario does it: Debian's packages appended last.
	check := "import sys; sys.path.append('/usr/lib/python3/dist-packages'); import " + imports
	argv := in.Command("-c", check)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		skipOrFail(t, "%s cannot import %s (apt-get install %s): %s", in.Name, imports, pkgs, strings.TrimSpace(string(out)))
	}
	res := cachedCore(t, in, scenario, harness.Gcore)
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
	t.Logf("%s on %s: %d objects, %d bytes; %s", scenario, in.Name, hg.Total.Count, hg.Total.Size, hg.ConservativeSummary())
	if share > maxConservative {
		t.Errorf("%.2f%% of the heap's bytes were walked conservatively, more than %.0f%%", 100*share, 100*maxConservative)
	}
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
	// Not yet on Debian sid's builds: 3.14's functions, types and stdlib C
	// types have referents the walkers do not report (docs/limits.md).
	forEachCoreModeExcept(t, "asyncio_server", []harness.Mode{harness.Gcore},
		notOnSid("precise referents of 3.14+ functions, types and stdlib C types are not walked yet"), func(t *testing.T, res *harness.Result) {
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
			if share := float64(hg.Total.ConservativeSize) / float64(hg.Total.Size); share > 0.01 {
				t.Errorf("%.2f%% of the heap's bytes were walked conservatively: %s", 100*share, hg.ConservativeSummary())
			}
		})
}
