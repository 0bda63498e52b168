package main

import (
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

// tallyHistogram opens path and answers histogram from a tally; tooBig,
// when not nil, is why a census was not taken (its warning is added).
func (g *globalFlags) tallyHistogram(path, by string, top int, tooBig *censusTooBig) error {
	budget, _, err := memoryBudget()
	if err != nil {
		return usageError{err}
	}
	name := path
	if liveTarget.pid != 0 {
		name = livePIDName(liveTarget.pid)
	}
	s, err := g.openThen(path, true, nil)
	if err != nil {
		return err
	}
	defer s.close()
	// As for a census (g.census): a tally reads most of a big core.
	if size := s.proc.Size(); size >= populateMin && (budget == 0 || size <= budget/2) {
		s.proc.Populate()
	}
	prog := g.newProgress("heap census")
	opts := heapOptions()
	opts.Progress = func(objects int) { prog.Update(int64(objects), -1) }
	t, err := s.rt.TallyHeap(opts)
	prog.Finish()
	if err != nil {
		return fmt.Errorf("%s: heap census: %w", name, err)
	}
	if os.Getenv(indexTraceEnv) != "" {
		fmt.Fprintf(os.Stderr, "trace: tally (no census arrays): resident %d MB (peak %d MB)\n", residentBytes()>>20, peakResidentBytes()>>20)
	}
	warns := append(s.warnings(), reports.CensusWarnings(t.Stats)...)
	if tooBig != nil {
		warns = append(append(warns, tooBig.warnings...), tooBig.tallied(t.Stats.Objects))
	}
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
	msg       string
	tb        *pyheap.TooBigError
	perObject int64    // what the census would have needed per object
	budget    int64    // the memory allowed ...
	from      string   // ... and where that figure comes from
	warnings  []string // the command's warnings before the census (a damaged index, ...)
}

func (e *censusTooBig) Error() string { return e.msg }
func (e *censusTooBig) Unwrap() error { return e.tb }

// tallied is the warning of a histogram that counted objects without a
// census because of e, with the count the tally made (the census's own
// was an estimate, or where it stopped).
func (e *censusTooBig) tallied(objects int) string {
	return fmt.Sprintf("the census of these %d objects would need about %s of memory besides the core (%d bytes per object), more than the %s of %s: histogram counted them without keeping them, saved no index, and the other heap commands need the census; run pycoroner where more memory is free, or set %s if it is (docs/limits.md)",
		objects, gigabytes(int64(objects)*e.perObject), e.perObject, gigabytes(e.budget), e.from, memoryMaxEnv)
}
