package main

import (
	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

func newPathCmd(g *globalFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "path CORE ADDR",
		Short: "Show why an object is alive: the shortest chain of references from a root",
		Long: `path answers "what keeps this object alive?": the shortest chain of
references from a named root (a module in sys.modules, sys, builtins, a
thread's frame local, the exception a thread handles) to the object, e.g.

  sys.modules["app.models"] › __dict__ › key 'CACHE' › <list at 0x7f…>

--all prints one shortest chain per root that reaches the object (at most
20), nearest first. ADDR is an address or an expression (see refs --help).`,
		Example: `  pycoroner path core.12345 0x7f3ad78a9e50
  pycoroner path --all core.12345 0x7f3ad78a9e50
  pycoroner path --json core.12345 app.models:CACHE`,
		Args: coreAnd("ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			hs, id, err := g.openTarget(args, pyheap.SavedAddrs|pyheap.SavedReverse|pyheap.SavedSizes)
			if err != nil {
				return err
			}
			defer hs.close()
			return hs.answer(g, reports.BuildPathsTo(hs.h, id, all))
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "one shortest path per root that reaches the object (at most 20)")
	return cmd
}
