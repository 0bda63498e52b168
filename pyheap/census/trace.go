package census

import "time"

// Trace, when set (cmd/pycoroner sets it for PYCORONER_INDEX_TRACE), is
// told when each step of a census and of its layout ends, with the time
// since the step before: with the process's memory beside it, the
// figures to look at before optimising a cold command.
var Trace func(step string, took time.Duration)

// traceStep reports a step that began at *since, and starts the next.
func traceStep(step string, since *time.Time) {
	if Trace == nil {
		return
	}
	now := time.Now()
	Trace(step, now.Sub(*since))
	*since = now
}
