package pyheap

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// TestLayoutCacheRoundTrip: every committed table survives the cache's
// format; a cut, repeated or unknown line is refused.
func TestLayoutCacheRoundTrip(t *testing.T) {
	for _, v := range layout.Versions() {
		L, err := layout.ForVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		L.Debug = map[string]int64{"runtime_state.interpreters_head": 8, "x.y": -1}
		text, ok := formatLayout(L)
		if !ok {
			t.Fatalf("%s: not formatted", v)
		}
		got, ok := parseLayout(text)
		if !ok || !reflect.DeepEqual(got, L) {
			t.Errorf("%s: round trip: ok %v\n got %+v\nwant %+v", v, ok, got, L)
		}
		lines := strings.SplitAfter(text, "\n")
		for name, bad := range map[string]string{
			"cut":          strings.Join(lines[:len(lines)-5], ""),
			"repeated":     text + lines[len(lines)-2],
			"unknown":      text + "NoSuchField 3\n",
			"not a number": strings.Replace(text, "Minor ", "Minor x", 1),
			"no magic":     strings.TrimPrefix(text, layoutCacheMagic),
		} {
			if _, ok := parseLayout(bad); ok {
				t.Errorf("%s: %s layout accepted", v, name)
			}
		}
	}
}
