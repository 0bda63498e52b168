package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/coreread/unwind"
	"github.com/pycoroner/pycoroner/reports"
)

func newStacksCmd(g *globalFlags) *cobra.Command {
	var locals, globals, noSource, native bool
	var sourceRoots []string
	cmd := &cobra.Command{
		Use:   "stacks CORE",
		Short: "Print every Python thread's stack, innermost frame first",
		Long: `stacks prints every Python thread of the process: its ident, native id and
name, the main thread marked, the exception it was handling, and its frames
innermost first as file:line in function, with the source line when the
file is readable here. --locals adds each frame's arguments and locals with
a short repr (Python's own repr for int, float, bool, None, str and bytes).
A module body's (<module>) locals are its module's globals: they are
counted, and listed only with --globals.

--native adds the C frames, unwound from the core's registers with the
call-frame information of every mapped file (as gdb's bt shows them,
inlined functions included): each C frame of the evaluation loop is replaced
by the Python frames it ran, threads without Python are listed too, and for
a crash core the crashed thread is marked, with the faulting instruction,
the registers it used and what the faulting address is.`,
		Example: `  pycoroner stacks core.12345
  pycoroner stacks --locals core.12345
  pycoroner stacks --locals --json core.12345
  pycoroner stacks --native core.12345
  pycoroner stacks --source-root ./checkout --source-root /srv/app core.12345
  pycoroner stacks --native --json core.12345 | jq '.threads[] | select(.crashed)'`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.open(coreArg(args), true)
			if err != nil {
				return err
			}
			defer s.close()
			if globals && !locals {
				return usageError{fmt.Errorf("--globals lists a module body's globals among its locals: it needs --locals")}
			}
			opts := reports.StacksOptions{Locals: locals, Globals: globals}
			if !noSource && !g.json {
				opts.Source = &reports.SourceCache{Sysroot: g.sysroot, Roots: sourceRoots}
			}
			st, err := reports.BuildStacks(s.rt, opts)
			if err != nil {
				return err
			}
			if native {
				u := unwind.New(s.proc, g.unwindOptions())
				st.MergeNative(u.All())
				st.MarkCrashed(reports.BuildCrashSite(s.proc, u))
			} else {
				st.MarkCrashedThread(s.proc)
			}
			st.Warnings = append(s.proc.Warnings(), st.Warnings...)
			if opts.Source != nil {
				if rel := opts.Source.UnreadRelative(); len(rel) > 0 {
					hint := "relative filenames with no source here (" + strings.Join(rel, ", ") + "): give the directory the program ran in with --source-root DIR"
					if pwd, ok := reports.StartupPWD(s.proc); ok {
						hint += " (it started with PWD=" + pwd + ")"
					}
					st.Warnings = append(st.Warnings, hint)
				}
			}
			if err := st.Check(); err != nil {
				return fmt.Errorf("%s: %w", coreArg(args), err)
			}
			// After the answer, on stderr, as the heap commands say theirs
			// (with --json too; JSON has them in "warnings").
			if err := g.emit(st); err != nil {
				return err
			}
			warnAll(os.Stderr, st.Warnings)
			return nil
		},
	}
	cmd.Flags().BoolVar(&locals, "locals", false, "show each frame's arguments and local variables")
	cmd.Flags().BoolVar(&globals, "globals", false, "with --locals: also list a module body's locals, which are all its module's globals (otherwise counted)")
	cmd.Flags().BoolVar(&native, "native", false, "merge the native (C) frames with the Python frames and mark the crashed thread")
	cmd.Flags().StringArrayVar(&sourceRoots, "source-root", nil, "look for source files under `DIR` too (repeatable): relative filenames, and files from another host with leading directories dropped")
	cmd.Flags().BoolVar(&noSource, "no-source", false, "do not read source files for the current lines")
	return cmd
}
