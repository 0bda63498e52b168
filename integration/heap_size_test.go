package integration

import (
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// TestSizesMatchGetsizeof: `show` reports each object's shallow size as
// the process's own sys.getsizeof said it, for objects of many kinds
// (dicts with their tables, classes with their shared keys, code, str of
// every kind, ints, containers).
func TestSizesMatchGetsizeof(t *testing.T) {
	// How the core was made does not change sizes: gcore cores suffice.
	forEachCoreMode(t, "threads", []harness.Mode{harness.Gcore}, func(t *testing.T, res *harness.Result) {
		var m struct {
			Sizes map[string]struct {
				Type string `json:"type"`
				Size int64  `json:"size"`
			} `json:"sizes"`
		}
		if err := res.Oracle.DecodeMarkers(&m); err != nil || len(m.Sizes) < 20 {
			t.Fatalf("oracle sizes: %v (%d)", err, len(m.Sizes))
		}
		for addr, want := range m.Sizes {
			r := pycoroner(t, "show", "--json", "--depth", "0", res.CorePath, addr)
			if r.code != 0 {
				t.Errorf("show %s (%s): exit %d %s", addr, want.Type, r.code, r.stderr)
				continue
			}
			var got struct {
				Type string `json:"type"`
				Size int64  `json:"size"`
			}
			if _, err := unwrap(r.stdout, &got); err != nil {
				t.Fatalf("show --json: %v\n%s", err, r.stdout)
			}
			if got.Size != want.Size {
				t.Errorf("%s %s: size %d, sys.getsizeof said %d", want.Type, addr, got.Size, want.Size)
			}
		}
	})
}
