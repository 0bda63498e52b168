package integration

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// checkRefsShowAgree: show and refs count the marked list's referrers
// alike, refs's objects are gc.get_referrers()'s, and the module global
// MARKED_LIST is the module dict's reference only: the main thread runs
// the module body, whose "locals" are that dict, and it once showed as a
// frame holder too (show said 5 referrers, refs listed 7 rows).
func checkRefsShowAgree(t *testing.T, core coreRef, m harness.ThreadsMarkers) {
	ml := m.MarkedList
	var hs []heapHolder
	heapJSON(t, &hs, core, "refs", "--max", "0", "CORE", ml.Address)
	var s struct {
		Referrers     int  `json:"referrers"`
		RootReferrers *int `json:"root_referrers"`
	}
	heapJSON(t, &s, core, "show", "--depth", "0", "CORE", ml.Address)

	objs, notFrames, roots := map[uint64]bool{}, map[uint64]bool{}, 0
	for _, h := range hs {
		if h.Kind != "object" {
			roots++
			if h.Name == ml.Holders.Global.Name {
				t.Errorf("refs lists %s › %s › local %s: a module body's global, which the module dict holds", h.Kind, h.Function, h.Name)
			}
			continue
		}
		a, _ := harness.ParseAddress(h.Address)
		objs[a] = true
		if h.Type != "frame" { // frame objects: gc.get_referrers() cannot see them (checkRefs)
			notFrames[a] = true
		}
	}
	if len(notFrames) != len(ml.Referrers) {
		t.Errorf("refs: %d referrer objects besides frames, gc.get_referrers() %d: %+v", len(notFrames), len(ml.Referrers), hs)
	}
	if s.Referrers != len(objs) {
		t.Errorf("show: referrers %d, refs lists %d distinct objects", s.Referrers, len(objs))
	}
	if s.RootReferrers == nil || *s.RootReferrers != roots {
		t.Errorf("show: root_referrers %v, refs lists %d frame and thread rows", s.RootReferrers, roots)
	}

	// The text says the same counts on refs's first line and show's.
	counts := fmt.Sprintf("%d object(s)", len(objs))
	if roots > 0 {
		counts += fmt.Sprintf(", %d frame local(s) or thread(s)", roots)
	}
	r := pycoroner(t, append([]string{"refs", core.path, ml.Address}, core.flags...)...)
	first, _, _ := bytes.Cut(r.stdout, []byte("\n"))
	want := fmt.Sprintf("%d reference(s) to <list at %s> %s, from %s", len(hs), ml.Address, ml.Repr, counts)
	if r.code != 0 || !sameHeader(string(first), want) {
		t.Errorf("refs text: %q (exit %d), want %q", first, r.code, want)
	}
	r = pycoroner(t, append([]string{"show", "--depth", "0", core.path, ml.Address}, core.flags...)...)
	if line := "referrers " + counts + " "; r.code != 0 || !strings.Contains(string(r.stdout), line) {
		t.Errorf("show text has no %q:\n%s", line, r.stdout)
	}
}

// sameHeader compares refs's first line with want, addresses compared as
// numbers (the oracle's hex may differ in case or leading zeros).
func sameHeader(got, want string) bool {
	g, w := strings.Fields(got), strings.Fields(want)
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if g[i] != w[i] && !sameAddr(strings.TrimSuffix(g[i], ">"), strings.TrimSuffix(w[i], ">")) {
			return false
		}
	}
	return true
}

// checkRefsMax: --max bounds the rows, frames first, and the warning
// (stderr in text, warnings in JSON) counts the rest, as grep's does.
// None has thousands of referrers in every process.
func checkRefsMax(t *testing.T, core coreRef) {
	var all []heapHolder
	heapJSON(t, &all, core, "refs", "--max", "0", "CORE", "builtins:None")
	if len(all) <= 200 {
		t.Fatalf("None has %d referrers: too few to check --max", len(all))
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"default", nil, 200},
		{"max 3", []string{"--max", "3"}, 3},
		{"max all", []string{"--max", "0"}, len(all)},
		{"max above total", []string{"--max", fmt.Sprint(len(all) + 1)}, len(all)},
		{"paths", []string{"--paths", "--max", "2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"--json", "refs"}, tc.args...), core.path, "builtins:None")
			r := pycoroner(t, append(args, core.flags...)...)
			var got []heapHolder
			env, err := unwrap(r.stdout, &got)
			if r.code != 0 || err != nil {
				t.Fatalf("%v: exit %d, %v\n%s", args, r.code, err, r.stderr)
			}
			if len(got) != tc.want {
				t.Errorf("%v: %d rows, want %d", args, len(got), tc.want)
			}
			for i := range got {
				if got[i].Kind != all[i].Kind || got[i].Address != all[i].Address || got[i].Via != all[i].Via {
					t.Errorf("%v: row %d is %+v, --max 0 has %+v there", args, i, got[i], all[i])
					break
				}
			}
			warn := fmt.Sprintf("%d more referrer(s) not shown (--max 0 shows all)", len(all)-tc.want)
			has := false
			for _, w := range env.Warnings {
				has = has || w == warn
			}
			if has != (tc.want < len(all)) {
				t.Errorf("%v: warnings %q; want %q: %v", args, env.Warnings, warn, tc.want < len(all))
			}
		})
	}
	r := pycoroner(t, append([]string{"refs", "--max", "1", core.path, "builtins:None"}, core.flags...)...)
	if want := fmt.Sprintf("%d more referrer(s) not shown (--max 0 shows all)", len(all)-1); !strings.Contains(string(r.stderr), want) {
		t.Errorf("refs --max 1: stderr has no %q:\n%s", want, r.stderr)
	}
	if !bytes.HasPrefix(r.stdout, []byte(fmt.Sprintf("%d reference(s) to ", len(all)))) {
		t.Errorf("refs --max 1: the first line does not count all %d rows:\n%s", len(all), r.stdout)
	}
	if r = pycoroner(t, "refs", "--max", "-1", core.path, "builtins:None"); r.code != 2 {
		t.Errorf("refs --max -1: exit %d, want 2 (usage)", r.code)
	}
}
