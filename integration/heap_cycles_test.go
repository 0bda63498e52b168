package integration

import (
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// cyclesMarkers are the markers of fixtures/scenarios/cycles.py.
type cyclesMarkers struct {
	ClassCounts map[string]int                         `json:"class_counts"`
	Classes     map[string]struct{ Module string }     `json:"classes"`
	Sample      []struct{ Address, Type, Peer string } `json:"sample"`
	Unreachable int                                    `json:"unreachable"`
}

// TestCensusFindsUnreachableCycles: with the collector disabled, thousands
// of objects sit in reference cycles no root reaches, in the youngest and
// the oldest generation. Only the GC's own lists lead to them, so the
// census must walk every one: each cycle class has exactly the count the
// process's gc.get_objects() gave, and sampled objects are shown with the
// peer the cycle goes through and at least one referrer.
func TestCensusFindsUnreachableCycles(t *testing.T) {
	forEachCoreMode(t, "cycles", []harness.Mode{harness.Gcore}, func(t *testing.T, res *harness.Result) {
		var m cyclesMarkers
		if err := res.Oracle.DecodeMarkers(&m); err != nil {
			t.Fatal(err)
		}
		if m.Unreachable < 1000 || len(m.Sample) == 0 {
			t.Fatalf("oracle: %d unreachable objects, %d sampled", m.Unreachable, len(m.Sample))
		}
		core := coreRef{path: res.CorePath, local: true}
		var rows []struct {
			Type, Module string
			Count        int
		}
		heapJSON(t, &rows, core, "histogram", "--top", "0", "CORE")
		for name, want := range m.ClassCounts {
			got := 0
			for _, r := range rows {
				if r.Type == name && r.Module == m.Classes[name].Module {
					got += r.Count
				}
			}
			if got != want {
				t.Errorf("%s: census found %d, gc.get_objects() %d", name, got, want)
			}
		}
		// A few sampled objects, from both generations: every `show`
		// takes a census of its own.
		step := len(m.Sample)/6 + 1
		for i := 0; i < len(m.Sample); i += step {
			want := m.Sample[i]
			s := showObject(t, core, want.Address)
			peer := false
			for _, e := range s.Edges {
				peer = peer || sameAddr(e.Address, want.Peer)
				if e.Via == "__dict__" && !peer { // 3.8-3.10: through the instance dict
					for _, de := range showObject(t, core, e.Address).Edges {
						peer = peer || sameAddr(de.Address, want.Peer)
					}
				}
			}
			if s.Type != want.Type || !peer || s.Referrers < 1 {
				t.Errorf("show %s: type %s (oracle %s), peer %s among its references: %v, %d referrers",
					want.Address, s.Type, want.Type, want.Peer, peer, s.Referrers)
			}
		}
	})
}

type shownObject struct {
	Address, Type string
	Referrers     int
	Edges         []struct{ Via, Address string }
}

func showObject(t *testing.T, core coreRef, addr string) shownObject {
	t.Helper()
	var s shownObject
	heapJSON(t, &s, core, "show", "CORE", addr)
	return s
}
