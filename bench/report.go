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
	run := fmt.Sprintf("\n# Run of %s\n%s", time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.Join(sections, ""))
	if err := os.WriteFile(out, []byte(head+latestMarker+"\n"+run), 0o644); err != nil {
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
