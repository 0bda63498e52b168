package main

import "testing"

func TestWatchWouldWrite(t *testing.T) {
	tests := []struct {
		name  string
		until bool
		count int
		want  bool
	}{
		{"until.core", true, 1, true},
		{"hit-1.core", true, 1, false},
		{"hit-1.core", false, 1, true},
		{"hit-1.core", false, 0, true}, // --count 0 takes one hit
		{"hit-2.core", false, 1, false},
		{"hit-3.core", false, 3, true},
		{"hit-03.core", false, 3, false},
		{"hit-0.core", false, 3, false},
		{"hit-1.core.bak", false, 3, false},
		{"until.core", false, 3, false},
		{"crash.core", false, 3, false},
	}
	for _, tc := range tests {
		if got := watchWouldWrite(tc.name, tc.until, tc.count); got != tc.want {
			t.Errorf("watchWouldWrite(%q, until %v, count %d) = %v, want %v", tc.name, tc.until, tc.count, got, tc.want)
		}
	}
}
