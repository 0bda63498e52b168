package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pycoroner/pycoroner/pyheap/census"
)

// With PYCORONER_INDEX_TRACE set, each step of a census and of laying it
// out for the saved index is told on stderr with its time and the
// process's resident memory then (docs/benchmarks.md: profile first).
func init() {
	if os.Getenv(indexTraceEnv) == "" {
		return
	}
	census.Trace = func(step string, took time.Duration) {
		fmt.Fprintf(os.Stderr, "trace: %s: %v, resident %d MB (peak %d MB; now %s)\n", step, took.Round(time.Millisecond), residentBytes()>>20, peakResidentBytes()>>20, residentSplit())
	}
}

// residentBytes is the process's VmRSS (/proc/self/status), 0 where
// there is none.
func residentBytes() int64 { return statusBytes("VmRSS:") }

// residentSplit says what the resident memory is: anonymous (arrays,
// the Go heap) or file pages (the core's, the mapped indexes').
func residentSplit() string {
	return fmt.Sprintf("anonymous %d MB, file %d MB", statusBytes("RssAnon:")>>20, statusBytes("RssFile:")>>20)
}

// peakResidentBytes is its VmHWM, the peak so far.
func peakResidentBytes() int64 { return statusBytes("VmHWM:") }

func statusBytes(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// traceStep tells, with PYCORONER_INDEX_TRACE set, that a step of a
// command that began at *since has ended (as the census's steps are
// told), and starts the next.
func traceStep(step string, since *time.Time) {
	if census.Trace != nil {
		census.Trace(step, time.Since(*since))
	}
	*since = time.Now()
}
