package main

import (
	"strings"
	"testing"
)

func TestMemAvailable(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"MemTotal:       24000000 kB\nMemFree: 1 kB\nMemAvailable:   23707660 kB\n", 23707660 << 10, true},
		{"MemTotal: 5 kB\n", 0, false},
		{"MemAvailable: lots kB\n", 0, false},
		{"MemAvailable: 12 MB\n", 0, false},
	}
	for _, tt := range tests {
		got, ok := memAvailable(strings.NewReader(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("memAvailable(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
