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
		fmt.Fprintf(os.Stderr, "trace: %s: %v, resident %d MB (peak %d MB)\n", step, took.Round(time.Millisecond), residentBytes()>>20, peakResidentBytes()>>20)
	}
}

// residentBytes is the process's VmRSS (/proc/self/status), 0 where
// there is none.
func residentBytes() int64 { return statusBytes("VmRSS:") }

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
