package main

import (
	"fmt"

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
