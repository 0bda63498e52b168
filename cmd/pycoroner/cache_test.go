package main

import "testing"

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"10G", 10 << 30}, {"10g", 10 << 30}, {"500M", 500 << 20}, {"500MB", 500 << 20},
		{"64k", 64 << 10}, {"1T", 1 << 40}, {"1048576", 1048576}, {" 2G ", 2 << 30},
		{"", -1}, {"0", -1}, {"-5G", -1}, {"G", -1}, {"ten", -1}, {"9999999999T", -1},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if tt.want < 0 {
			if err == nil {
				t.Errorf("parseBytes(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}
