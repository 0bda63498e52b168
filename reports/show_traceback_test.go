package reports

import (
	"strings"
	"testing"
)

// TestTracebackRepeatsSaidOnce: a recursion's traceback is printed as
// Python prints it: a line repeated more than three times is shown three
// times, then "[Previous line repeated N more times]".
func TestTracebackRepeatsSaidOnce(t *testing.T) {
	entry := func(fn string, line int) TraceEntry {
		return TraceEntry{Function: fn, Filename: "app.py", Line: line, Locals: map[string]Value{}}
	}
	for _, tc := range []struct {
		repeats int
		want    string // "" : no such line
	}{
		{3, ""},
		{4, "[Previous line repeated 1 more times]"},
		{998, "[Previous line repeated 995 more times]"},
	} {
		entries := []TraceEntry{entry("main", 1)}
		for i := 0; i < tc.repeats; i++ {
			entries = append(entries, entry("recurse", 7))
		}
		entries = append(entries, entry("leaf", 9))
		var b strings.Builder
		writeTraceEntries(&b, entries, false)
		out := b.String()
		shown := strings.Count(out, "in recurse")
		if tc.want == "" {
			if shown != tc.repeats || strings.Contains(out, "repeated") {
				t.Errorf("%d repeats: %d shown\n%s", tc.repeats, shown, out)
			}
			continue
		}
		if shown != repeatShown || !strings.Contains(out, tc.want) || !strings.Contains(out, "in leaf") || !strings.Contains(out, "in main") {
			t.Errorf("%d repeats: %d shown, want %d and %q\n%s", tc.repeats, shown, repeatShown, tc.want, out)
		}
	}
}
