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
// installs them; they run on Debian's python3.11): each is stopped in
// the middle of its work, and every GC-tracked object's
// gc.get_referents() is compared with pycoroner's edges, as for the
// containers scenario.
var programs = []struct {
	scenario string
	imports  string // what the program needs, as Python imports it
	pkgs     string // the Debian packages that provide it
	// maxConservative bounds the share of the heap's bytes walked
	// conservatively (the bound for a Flask/SQLAlchemy core is 1%).
	maxConservative float64
}{
	{"flask_sqlalchemy", "flask, sqlalchemy", "python3-flask python3-sqlalchemy", 0.01},
	{"django_view", "django", "python3-django", 0.01},
	{"pytest_run", "pytest", "python3-pytest", 0.01},
}

func TestRealPrograms(t *testing.T) {
	in, err := harness.Lookup("debian-3.11")
	if err != nil {
		skipOrFail(t, "Debian's python3.11 is not installed (apt-get install python3.11)")
	}
	if _, err := exec.LookPath("gcore"); err != nil {
		skipOrFail(t, "gcore is not installed (apt-get install gdb)")
	}
	for _, p := range programs {
		t.Run(p.scenario, func(t *testing.T) {
			t.Parallel()
			if out, err := exec.Command(in.Path, "-c", "import "+p.imports).CombinedOutput(); err != nil {
				skipOrFail(t, "%s cannot import %s (apt-get install %s): %s", in.Path, p.imports, p.pkgs, strings.TrimSpace(string(out)))
			}
			res := cachedCore(t, in, p.scenario, harness.Gcore)
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
			t.Logf("%s: %d objects, %d bytes; %s", p.scenario, hg.Total.Count, hg.Total.Size, hg.ConservativeSummary())
			if share > p.maxConservative {
				t.Errorf("%.2f%% of the heap's bytes were walked conservatively, more than %.0f%%", 100*share, 100*p.maxConservative)
			}
		})
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
	forEachCoreModeExcept(t, "asyncio_server", []harness.Mode{harness.Gcore},
		nil, func(t *testing.T, res *harness.Result) {
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
