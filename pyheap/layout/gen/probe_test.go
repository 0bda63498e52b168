package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOffsetofAgreesWithDWARF checks the offsetof probe, which describes the
// stripped distribution builds, on the pyenv builds that carry DWARF: both
// must give every field the same value. (3.11 and 3.12 compute their
// managed-dict offsets in probe.c.txt with inline functions, which the
// offsetof probe does not attempt. 3.8-3.10 keep dict keys and frames in
// private headers that are not installed: their tables need DWARF.)
func TestOffsetofAgreesWithDWARF(t *testing.T) {
	home, _ := os.UserHomeDir()
	pyenv := filepath.Join(home, ".pyenv", "versions")
	for _, minor := range minors {
		if minor == "3.8" || minor == "3.9" || minor == "3.10" {
			continue
		}
		root, full, err := findBuild(pyenv, minor)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		t.Run(full, func(t *testing.T) {
			dw, err := generate(root, full, minor, "probe.c.txt")
			if err != nil {
				t.Fatal(err)
			}
			pr, hex, err := offsetofLayout([]string{filepath.Join(root, "include", "python"+minor)})
			if err != nil {
				t.Fatal(err)
			}
			if got := versionString(hex); got != full {
				t.Errorf("headers say %s, build is %s", got, full)
			}
			for _, d := range layoutDiff(dw, pr) {
				if (minor == "3.11" || minor == "3.12") && strings.HasPrefix(d, "Managed") {
					continue
				}
				t.Errorf("DWARF vs offsetof: %s", d)
			}
		})
	}
}

func TestVersionString(t *testing.T) {
	for hex, want := range map[int64]string{0x030e0af0: "3.14.10", 0x030d12f0: "3.13.18", 0x030f00b1: "3.15.0b1", 0x030c00c2: "3.12.0rc2"} {
		if got := versionString(hex); got != want {
			t.Errorf("versionString(0x%x) = %s, want %s", hex, got, want)
		}
	}
}
