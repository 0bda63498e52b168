package main

import (
	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/reports"
)

func newStacksCmd(g *globalFlags) *cobra.Command {
	var locals, noSource bool
	cmd := &cobra.Command{
		Use:   "stacks CORE",
		Short: "Print every Python thread's stack, innermost frame first",
		Long: `stacks prints every Python thread of the process: its ident, native id and
name, the main thread marked, the exception it was handling, and its frames
innermost first as file:line in function, with the source line when the
file is readable here. --locals adds each frame's arguments and locals with
a short repr (Python's own repr for int, float, bool, None, str and bytes).`,
		Example: `  pycoroner stacks core.12345
  pycoroner stacks --locals core.12345
  pycoroner stacks --locals --json core.12345`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.open(coreArg(args), true)
			if err != nil {
				return err
			}
			defer s.close()
			opts := reports.StacksOptions{Locals: locals}
			if !noSource && !g.json {
				opts.Source = &reports.SourceCache{Sysroot: g.sysroot}
			}
			st, err := reports.BuildStacks(s.rt, opts)
			if err != nil {
				return err
			}
			st.Warnings = append(s.proc.Warnings(), st.Warnings...)
			return g.emit(st)
		},
	}
	cmd.Flags().BoolVar(&locals, "locals", false, "show each frame's arguments and local variables")
	cmd.Flags().BoolVar(&noSource, "no-source", false, "do not read source files for the current lines")
	return cmd
}
