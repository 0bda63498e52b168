package reports

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestWatchReportsWarnings: both watch reports carry "warnings", [] when
// there is none (as the envelope of the other commands does).
func TestWatchReportsWarnings(t *testing.T) {
	for _, rep := range []any{
		&WatchReport{Hits: []WatchHit{}, Warnings: []string{}},
		&UntilReport{Values: map[string]string{}, Warnings: []string{}},
	} {
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"warnings":[]`) {
			t.Errorf("%T: %s has no \"warnings\":[]", rep, b)
		}
	}
	b, _ := json.Marshal(&UntilReport{Warnings: []string{"child:MARKER names a different object ..."}})
	if !strings.Contains(string(b), `"warnings":["child:MARKER names a different object ..."]`) {
		t.Errorf("UntilReport: %s", b)
	}
}
