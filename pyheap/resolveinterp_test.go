package pyheap

import (
	"strings"
	"testing"
)

func TestAmbiguityWarning(t *testing.T) {
	tests := []struct {
		name string
		res  Resolution
		want []string // parts of the warning; nil: no warning
	}{
		{name: "address", res: Resolution{Addr: 0x10}},
		{name: "one interpreter", res: Resolution{Addr: 0x10, Interp: 1, Hits: []InterpHit{{1, 0x10}}}},
		{name: "same object everywhere", res: Resolution{Addr: 0x10, Hits: []InterpHit{{0, 0x10}, {1, 0x10}}}},
		{name: "two subinterpreters", res: Resolution{Addr: 0x10, Interp: 1, Hits: []InterpHit{{1, 0x10}, {2, 0x20}}},
			want: []string{"child:MARKER names a different object in each of 2 interpreters", "interpreter 1: 0x10, interpreter 2: 0x20",
				"interpreter 1's is used", "write child:MARKER@2 for interpreter 2's"}},
		{name: "picked later", res: Resolution{Addr: 0x20, Interp: 2, Hits: []InterpHit{{0, 0x10}, {2, 0x20}}},
			want: []string{"interpreter 2's is used", "write child:MARKER@0 for interpreter 0's"}},
	}
	for _, tc := range tests {
		got := tc.res.AmbiguityWarning(" child:MARKER ")
		if tc.want == nil {
			if got != "" {
				t.Errorf("%s: warning %q, want none", tc.name, got)
			}
			continue
		}
		for _, part := range tc.want {
			if !strings.Contains(got, part) {
				t.Errorf("%s: warning %q does not say %q", tc.name, got, part)
			}
		}
	}
}

func TestPickInterp(t *testing.T) {
	interps := []Interp{{ID: 0, Main: true}, {ID: 1}, {ID: 2}}
	if in, err := pickInterp(interps, 2); err != nil || in.ID != 2 {
		t.Errorf("pickInterp(2) = %+v, %v", in, err)
	}
	_, err := pickInterp(interps, 5)
	if err == nil || err.Error() != "no interpreter 5 in this process (its interpreters: 0, 1, 2)" {
		t.Errorf("pickInterp(5): %v", err)
	}
}
