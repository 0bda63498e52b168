package main

import (
	"fmt"
	"os"

	"github.com/pycoroner/pycoroner/reports"
)

// emit prints a command's answer on stdout: its JSON with --json, else its
// text. Every command answers through here.
func (g *globalFlags) emit(a reports.Answer) error {
	if g.json {
		return reports.WriteJSON(stdout, a.JSON())
	}
	if err := a.WriteText(stdout); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return nil
}

// emitWarned prints an enveloped answer, then its warnings on stderr.
func (g *globalFlags) emitWarned(e *reports.Enveloped) error {
	if err := g.emit(e); err != nil {
		return err
	}
	warnAll(os.Stderr, e.Envelope.Warnings)
	return nil
}
