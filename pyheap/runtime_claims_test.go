package pyheap

import (
	"slices"
	"testing"
)

// Places that say the same of the build are named once, together; places
// that disagree keep their own entries, in the order first said.
func TestGroupClaims(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{nil, []string{}},
		{[]string{"symbol: 3.12.1"}, []string{"symbol: 3.12.1"}},
		{[]string{"symbol: 3.15.2, file x: y", "section: 3.15.2, file x: y", "cookie: 3.15.2, file x: y"},
			[]string{"symbol, section, cookie: 3.15.2, file x: y"}},
		{[]string{"symbol: 3.12.1", "cookie: 3.13.0", "section: 3.12.1"},
			[]string{"symbol, section: 3.12.1", "cookie: 3.13.0"}},
		{[]string{"no place given", "cookie: no place given"}, []string{"cookie: no place given"}},
	} {
		if got := groupClaims(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("groupClaims(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
