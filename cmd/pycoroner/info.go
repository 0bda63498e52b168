package main

import (
	"github.com/spf13/cobra"
	"os"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/coreread/unwind"
	"github.com/pycoroner/pycoroner/reports"
)

func newInfoCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info CORE",
		Short: "Summarise a core: Python version, process, signal, threads, GIL, files",
		Long: `info prints what the core says about the process: the Python version, the
executable, the pid, its arguments (sys.argv, read from the heap: gcore
records none) and the directory it started in (PWD from its environment),
the signal that killed it (with the faulting address),
how many threads it had, which thread held the GIL, and every file behind
the image with its build-id status (ok, mismatch, missing). For a crash
core it names the crashed thread, the instruction it stopped at with the
registers that instruction uses, and what the faulting address is (the null
page, a stack guard page, unmapped, a read-only mapping).`,
		Example: `  pycoroner info core.12345
  pycoroner info --json core.12345`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.open(coreArg(args), false)
			if err != nil {
				return err
			}
			defer s.close()
			in := reports.BuildInfo(s.proc, s.rt)
			if liveTarget.pid != 0 {
				in.Core = livePIDName(liveTarget.pid) + ", copied into memory" // not the memfd's name
			}
			in.Crash = reports.BuildCrashSite(s.proc, unwind.New(s.proc, g.unwindOptions()))
			if s.rt == nil {
				in.Warnings = append(in.Warnings, "no CPython interpreter found in this core")
			}
			// The name and attributes of the file as given (not of a
			// decompressed copy) say what systemd-coredump recorded.
			if sd, ok := coreread.ReadSystemdCoredump(coreArg(args)); ok {
				in.Systemd = sd
			}
			// After the answer, on stderr, as the heap commands say theirs
			// (with --json too; JSON has them in "warnings").
			if err := g.emit(in); err != nil {
				return err
			}
			warnAll(os.Stderr, in.Warnings)
			return nil
		},
	}
}
