package main

import (
	"strings"
	"testing"
)

// A run with parts turned off keeps the sections it did not measure, once.
func TestKeptSections(t *testing.T) {
	doc := "head\n" + latestMarker + "\n\n# Run of 2026-12-02 02:54 UTC\n\n## Whole commands, fresh processes — 2026-12-02\n\nold table\n\n## pycoroner against gdb — 2026-12-02\n\ngdb table\n"
	fresh := []string{"\n## Whole commands, fresh processes — 2026-12-03\n\nnew table\n"}
	got := keptSections(doc, fresh, "2026-12-03 10:00 UTC")
	if !strings.Contains(got, "gdb table") || strings.Contains(got, "old table") || !strings.Contains(got, "2026-12-02 02:54 UTC") {
		t.Fatalf("%q", got)
	}
	doc2 := "head\n" + latestMarker + "\n\n# Run of 2026-12-03 10:00 UTC\n" + fresh[0] + got
	got2 := keptSections(doc2, fresh, "2026-12-04 10:00 UTC")
	if !strings.Contains(got2, "gdb table") || strings.Count(got2, "Kept from") != 1 {
		t.Fatalf("%q", got2)
	}
}
