package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // 0: an error
	}{
		{"1024", 1024},
		{"64M", 64 << 20},
		{"8G", 8 << 30},
		{"8g", 8 << 30},
		{"2TB", 2 << 40},
		{"500k", 500 << 10},
		{"", 0},
		{"0", 0},
		{"-5G", 0},
		{"G", 0},
		{"1.5G", 0},
		{"99999999999T", 0},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

// TestUserCacheDir: a relative XDG_CACHE_HOME is ignored, as the XDG
// specification says, for ~/.cache (not the temporary directory).
func TestUserCacheDir(t *testing.T) {
	t.Setenv("HOME", "/home/someone")
	for xdg, want := range map[string]string{
		"":            "/home/someone/.cache",
		"relative/x":  "/home/someone/.cache",
		"/srv/caches": "/srv/caches",
	} {
		t.Setenv("XDG_CACHE_HOME", xdg)
		if got, err := userCacheDir(); err != nil || got != want {
			t.Errorf("XDG_CACHE_HOME=%q: %q, %v; want %q", xdg, got, err, want)
		}
	}
}
