// Command pycoroner answers questions about a crashed or frozen CPython
// process from its core dump: what every thread was doing, with locals.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/internal/hugeheap"
)

// usageError marks bad command-line use (exit status 2).
type usageError struct{ error }

func main() {
	code := run(os.Args[1:])
	reportPeak()
	os.Exit(code)
}

// peakFileEnv names a file where the process writes its own peak resident
// memory (VmHWM, bytes) as it exits, for tests that bound it. A parent's
// wait4 cannot tell: Linux gives a child started by a process that once
// used much memory that process's peak as the child's ru_maxrss.
const peakFileEnv = "PYCORONER_PEAK_FILE"

func reportPeak() {
	if path := os.Getenv(peakFileEnv); path != "" {
		os.WriteFile(path, []byte(fmt.Sprintf("%d\n", peakResidentBytes())), 0o644)
	}
}

func run(args []string) (code int) {
	defer func() {
		// A bug must never show a Go stack trace to the user.
		if r := recover(); r != nil {
			if err := coreread.FaultError(r); err != nil {
				fmt.Fprintf(os.Stderr, "pycoroner: %v\n", err)
				code = 1
				return
			}
			fmt.Fprintf(os.Stderr, "pycoroner: internal error: %v (please report it with the core if you can)\n", r)
			if os.Getenv("PYCORONER_DEBUG") != "" {
				os.Stderr.Write(debug.Stack())
			}
			code = 1
		}
	}()
	// The core is mmapped: if it shrinks while it is read, a fault
	// becomes a panic, reported above as one line.
	debug.SetPanicOnFault(true)
	// The heap package init grew to is advised for 2 MB pages (hugeheap).
	hugeheap.Advise()
	startupGC()
	// PYCORONER_CPUPROFILE=FILE profiles a whole command, as users run it
	// (docs/benchmarks.md: profile before optimising).
	if path := os.Getenv("PYCORONER_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	root := newRootCmd()
	root.SetArgs(args)
	ran, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "pycoroner: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		// The help of the command that was misused, which has its
		// flags and examples; the root's lists only the commands.
		help := "pycoroner"
		if ran != nil {
			help = ran.CommandPath()
		}
		fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", help)
		return 2
	}
	return 1
}
