package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pycoroner/pycoroner/coreread/live"
	"github.com/pycoroner/pycoroner/reports"
)

func newSnapshotCmd(g *globalFlags) *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "snapshot PID -o FILE.core",
		Short: "Write a core of a running process, pausing it only while its memory is copied",
		Long: `snapshot attaches to a running process with PTRACE_SEIZE, stops every thread,
copies the memory a core keeps (anonymous and written memory, and the ELF
header page of each mapped file so build-ids survive), records each thread's
registers, writes a standard ELF core that gdb and pycoroner open, and
detaches. It prints how long the process was paused. The core is written to
a temporary file and renamed into place: a partial file is never left
looking complete. Ctrl-C (SIGINT) or SIGTERM stops the copy, lets the process
go and removes the partial file; partial files that a killed run left in the
directory are removed by the next run. An existing FILE is never
overwritten (a crash core given as -o by mistake would be lost) unless
--force is given; the process is then not paused at all. Permissions: see
docs/live.md.`,
		Example: `  pycoroner snapshot 12345 -o stuck.core
  pycoroner stacks --locals stuck.core
  pycoroner stacks --pid 12345            # the same without keeping a file`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := checkPIDFlag(cmd); err != nil {
				return err
			}
			if len(args) != 1 {
				return usageError{fmt.Errorf("expected one PID argument, got %d", len(args))}
			}
			if _, err := strconv.Atoi(args[0]); err != nil {
				return usageError{fmt.Errorf("PID %q is not a number", args[0])}
			}
			if out == "" {
				return usageError{fmt.Errorf("missing -o FILE (where to write the core)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, _ := strconv.Atoi(args[0])
			if err := refuseExisting(out, force); err != nil {
				return err
			}
			var progress live.Progress
			if term.IsTerminal(int(os.Stderr.Fd())) {
				last := time.Now()
				progress = func(done, total int64) {
					if time.Since(last) > 200*time.Millisecond || done == total {
						last = time.Now()
						fmt.Fprintf(os.Stderr, "\rcopying memory: %3d%% of %s", done*100/max(total, 1), mb(total))
						if done == total {
							fmt.Fprintln(os.Stderr)
						}
					}
				}
			}
			// SIGINT and SIGTERM end the copy: the process is detached and
			// the partial file removed (a default death would leave it).
			stop := make(chan os.Signal, 1)
			signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(stop)
			st, err := live.Snapshot(pid, out, !liveTarget.nonblocking, force, progress, stop)
			if err != nil {
				return existsHint(out, err)
			}
			if g.json {
				return reports.WriteJSON(stdout, map[string]any{"core": out, "pid": pid, "threads": st.Threads, "bytes": st.Bytes,
					"paused_ms": st.Pause.Milliseconds(), "took_ms": st.Took.Milliseconds(), "paused": !liveTarget.nonblocking})
			}
			pause := "not paused (--nonblocking: the copy may be inconsistent)"
			if !liveTarget.nonblocking {
				pause = "paused for " + st.Pause.Round(time.Millisecond).String()
			}
			fmt.Fprintf(stdout, "wrote %s: %s, %d threads; pid %d %s\n", out, mb(st.Bytes), st.Threads, pid, pause)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the core to `FILE`")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite FILE if it exists")
	return cmd
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
