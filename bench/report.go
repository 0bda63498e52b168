package main

// The report: docs/benchmarks.md keeps its hand-written part (what is
// measured, where things stand) above latestMarker and the tables of the
// latest run below it; every run's tables are also appended to
// docs/benchmarks-history.md, the record of older runs.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// latestMarker separates the hand-written part of docs/benchmarks.md from
// the generated tables of the latest run.
const latestMarker = "<!-- make bench writes the latest run below this line; older runs are in benchmarks-history.md -->"

// sections are the tables of this run, in order.
var sections []string

// appendTo records a section of this run's report (out is where it will
// go; nothing is recorded without one).
func appendTo(out, section string) error {
	if out != "" {
		sections = append(sections, section)
	}
	return nil
}

// writeReport replaces the latest run in out and appends it to the history
// file beside it.
func writeReport(out string) error {
	if out == "" || len(sections) == 0 {
		return nil
	}
	old, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	head, _, found := strings.Cut(string(old), latestMarker)
	if !found {
		return fmt.Errorf("%s has no line %q to write the latest run under", out, latestMarker)
	}
	stamp := time.Now().UTC().Format("2006-01-02 15:04 MST")
	run := fmt.Sprintf("\n# Run of %s\n%s", stamp, strings.Join(sections, ""))
	latest := keptSections(string(old), sections, stamp)
	if err := os.WriteFile(out, []byte(head+latestMarker+"\n"+run+latest), 0o644); err != nil {
		return err
	}
	hist := filepath.Join(filepath.Dir(out), "benchmarks-history.md")
	f, err := os.OpenFile(hist, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(run)
	return err
}

// keptSections is the part of the latest run in doc whose sections this
// run did not measure (a run with some parts turned off by flags, say
// -gdb=false): each "## " section of the old latest run whose title, up
// to its " — " date, no new section has, under a heading saying when it
// was measured.
func keptSections(doc string, fresh []string, stamp string) string {
	_, latest, found := strings.Cut(doc, latestMarker)
	if !found {
		return ""
	}
	title := func(sec string) string {
		line, _, _ := strings.Cut(strings.TrimLeft(sec, "\n"), "\n")
		t, _, _ := strings.Cut(line, " — ")
		return strings.TrimSpace(t)
	}
	measured := map[string]bool{}
	for _, sec := range fresh {
		measured[title(sec)] = true
	}
	var kept []string
	when := ""
	for i, part := range strings.Split(latest, "\n## ") {
		if i == 0 {
			// "# Run of ..." and anything before the first section
			if _, rest, ok := strings.Cut(part, "# Run of "); ok {
				when, _, _ = strings.Cut(rest, "\n")
			}
			continue
		}
		if strings.HasPrefix(part, "Kept from earlier runs") {
			continue
		}
		sec := "\n## " + strings.TrimRight(part, "\n") + "\n"
		if !measured[title(sec)] {
			kept = append(kept, sec)
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return fmt.Sprintf("\n## Kept from earlier runs (not measured in the run of %s; the latest of them: %s)\n%s", stamp, when, strings.Join(kept, ""))
}
