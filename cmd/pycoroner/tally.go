package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

// A histogram that saves no index (--no-index, --pid) has no use for the
// census's arrays: it takes a tally (pyheap.HeapTally), the census's walk
// without them, which gives the same counts and sizes in about half the
// time and with no memory per object. A heap too big for a census in the
// memory allowed gets a tally too, with a warning: a histogram is the
// first question about such a heap, and the one it can still answer.

// tallies reports whether histogram takes a tally rather than a census.
func (g *globalFlags) tallies() bool { return g.noIndex || liveTarget.pid != 0 }

// tallyHistogram opens path and answers histogram from a tally; more are
// warnings to add to the answer's.
func (g *globalFlags) tallyHistogram(path, by string, top int, more ...string) error {
	s, err := g.openThen(path, true, nil)
	if err != nil {
		return err
	}
	defer s.close()
	// As for a census (g.census): a tally reads most of a big core.
	if budget, _, err := memoryBudget(); err == nil && s.proc.Size() >= populateMin && (budget == 0 || s.proc.Size() <= budget/2) {
		s.proc.Populate()
	}
	prog := g.newProgress("heap census")
	opts := heapOptions()
	opts.Progress = func(objects int) { prog.Update(int64(objects), -1) }
	t, err := s.rt.TallyHeap(opts)
	prog.Finish()
	if err != nil {
		return fmt.Errorf("%s: heap census: %w", path, err)
	}
	if os.Getenv(indexTraceEnv) != "" {
		fmt.Fprintf(os.Stderr, "trace: tally (no census arrays): resident %d MB (peak %d MB)\n", residentBytes()>>20, peakResidentBytes()>>20)
	}
	warns := append(append(s.warnings(), reports.CensusWarnings(t.Stats)...), more...)
	if err := g.emit(reports.Envelop(reports.BuildHistogram(t, by, top), warns, false, reports.CensusFactsOf(t.Stats), nil)); err != nil {
		return err
	}
	warnAll(os.Stderr, warns)
	return nil
}

// censusTooBig is the error of a census that would not fit in the memory
// allowed: its message says what to do, and it unwraps to the census's
// *pyheap.TooBigError.
type censusTooBig struct {
	msg string
	tb  *pyheap.TooBigError
}

func (e *censusTooBig) Error() string { return e.msg }
func (e *censusTooBig) Unwrap() error { return e.tb }

// tooBigForCensus is the warning of a histogram that took a tally
// because err said the census would not fit.
func tooBigForCensus(err error) (string, bool) {
	var tb *censusTooBig
	if !errors.As(err, &tb) {
		return "", false
	}
	return fmt.Sprintf("the histogram was counted without a census, which would not fit (%s); no index was saved, and the other heap commands need the census", tb.msg), true
}
