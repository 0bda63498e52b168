package layout

import (
	"strings"
	"testing"
)

func TestNearestKey(t *testing.T) {
	m := map[string]int{"3.13.18": 1, "3.13.5": 2, "3.14.10": 3}
	for _, c := range []struct{ in, want string }{
		{"3.13.18", "3.13.18"},
		{"3.13.20", "3.13.18"},
		{"3.13.9", "3.13.5"},
		{"3.13.2", "3.13.5"}, // older than all: the oldest
		{"3.14.0rc1", "3.14.10"},
		{"3.14.11", "3.14.10"},
		{"3.15.2", ""},
		{"3.1", ""},
	} {
		if got := nearestKey(c.in, m); got != c.want {
			t.Errorf("nearestKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestReleaseTables checks the generated per-release tables against what
// each must hold whatever sid carries: the minor they claim, checks that
// start with the header members, and every check inside _Py_DebugOffsets'
// own layout (sections before members).
func TestForReleaseNeverNewer(t *testing.T) {
	for _, v := range Releases() {
		parts := strings.SplitN(v, ".", 3)
		older := parts[0] + "." + parts[1] + ".0"
		if v == older {
			continue
		}
		// 3.13.0 must not be read with 3.13.18's table (its GC state moved).
		if l, ok := ForRelease(older); ok {
			t.Errorf("ForRelease(%s) gave %s's table (%s)", older, v, l.Source)
		}
		if _, ok := OldestRelease(older); !ok {
			t.Errorf("OldestRelease(%s) found nothing", older)
		}
	}
}

func TestReleaseTables(t *testing.T) {
	if len(Releases()) == 0 {
		t.Fatal("no per-release tables generated (go run ./pyheap/layout/gen)")
	}
	for _, v := range Releases() {
		l, ok := ForRelease(v)
		if !ok || l.Version != v[:len(l.Version)] {
			t.Errorf("ForRelease(%s) = %v, %v", v, l, ok)
			continue
		}
		checks := DebugChecks(v)
		if len(checks) < 3 || checks[0].Path != "version" || checks[1].Path != "free_threaded" {
			t.Errorf("%s: checks start %v", v, checks[:min(2, len(checks))])
		}
		for _, c := range checks[2:] {
			if c.SizeAt < 0 || c.SizeAt >= c.At || c.Align <= 0 || l.Debug[c.Path] != c.At {
				t.Errorf("%s: check %+v (table says %d)", v, c, l.Debug[c.Path])
			}
		}
	}
}
