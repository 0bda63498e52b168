package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/reports"
)

func newInfoCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info CORE",
		Short: "Summarise a core: Python version, process, signal, threads, GIL, files",
		Long: `info prints what the core says about the process: the Python version, the
executable, the pid, the signal that killed it (with the faulting address),
how many threads it had, which thread held the GIL, and every file behind
the image with its build-id status (ok, mismatch, missing).`,
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
			if s.rt == nil {
				in.Warnings = append(in.Warnings, "no CPython interpreter found in this core")
			}
			sd, isSystemd := coreread.ReadSystemdCoredump(coreArg(args))
			if g.json {
				if isSystemd {
					return reports.WriteJSON(stdout, struct {
						*reports.Info
						Systemd *coreread.SystemdCoredump `json:"systemd_coredump"`
					}{in, sd})
				}
				return reports.WriteJSON(stdout, in)
			}
			if err := in.WriteText(stdout); err != nil {
				return fmt.Errorf("render: %w", err)
			}
			if isSystemd {
				writeSystemd(stdout, sd)
			}
			return nil
		},
	}
}

// writeSystemd prints what systemd-coredump recorded about the core.
func writeSystemd(w io.Writer, sd *coreread.SystemdCoredump) {
	fmt.Fprintf(w, "\nsystemd-coredump (from the %s):\n", strings.Join(sd.Sources, " and the "))
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-10s %s\n", k, v)
		}
	}
	row("comm", sd.Comm)
	row("exe", sd.Exe)
	if sd.PID != 0 {
		row("pid", fmt.Sprint(sd.PID))
	}
	if sd.UID != nil {
		id := fmt.Sprint(*sd.UID)
		if sd.GID != nil {
			id += fmt.Sprintf(" (gid %d)", *sd.GID)
		}
		row("uid", id)
	}
	if sd.Signal != 0 {
		row("signal", fmt.Sprintf("%s (%d)", unix.SignalName(syscall.Signal(sd.Signal)), sd.Signal))
	}
	if !sd.Time.IsZero() {
		row("time", sd.Time.Format(time.RFC3339Nano))
	}
	row("hostname", sd.Hostname)
	row("boot id", sd.BootID)
	row("core limit", sd.CoreLimit)
}
