package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"

	"github.com/pycoroner/pycoroner/pyheap"
)

// The environment is read here and in coreopts.go only: the library
// packages (coreread, pyheap, reports) take what it says as options.
const (
	// noLayoutCacheEnv, when set, makes every run read a binary's DWARF
	// afresh instead of the layout kept from an earlier run.
	noLayoutCacheEnv = "PYCORONER_NO_LAYOUT_CACHE"
	// censusWorkersEnv forces how many goroutines split a heap census,
	// whatever the heap's size: a knob for tests and comparisons.
	censusWorkersEnv = "PYCORONER_CENSUS_WORKERS"
)

// runtimeOptions is how pyheap reads the runtime: --no-dwarf, and where
// layouts read from DWARF are kept (pycoroner/layouts in the user's cache
// directory, unless PYCORONER_NO_LAYOUT_CACHE is set).
func (g *globalFlags) runtimeOptions() pyheap.Options {
	opts := pyheap.Options{NoDWARF: g.noDWARF}
	if os.Getenv(noLayoutCacheEnv) == "" {
		if base, err := userCacheDir(); err == nil {
			opts.LayoutCacheDir = filepath.Join(base, "pycoroner", "layouts")
		}
	}
	return opts
}

// heapOptions is how the census runs: at the default GC target (normalGC),
// and PYCORONER_CENSUS_WORKERS, when a positive number, forces its worker
// count.
func heapOptions() pyheap.HeapOptions {
	normalGC()
	var opts pyheap.HeapOptions
	if n, err := strconv.Atoi(os.Getenv(censusWorkersEnv)); err == nil && n > 0 {
		opts.Workers = n
	}
	return opts
}

// startupGCPercent is the garbage collector's target while a process
// starts and opens its core: the allocations of package init, the core's
// files and the runtime (a few MB) then need no collection, which at the
// default 100 (a 4 MB first goal) cost a warm command one or two cycles
// on both CPUs. normalGC sets the default back before the work that scales
// with the heap (a census), so that peak memory is as before.
const startupGCPercent = 400

// gcRaised: startupGC raised the target (GOGC was not set by the user).
var gcRaised bool

func startupGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(startupGCPercent)
		gcRaised = true
	}
}

func normalGC() {
	if gcRaised {
		debug.SetGCPercent(100)
		gcRaised = false
	}
}
