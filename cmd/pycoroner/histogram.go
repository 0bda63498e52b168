package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

func newHistogramCmd(g *globalFlags) *cobra.Command {
	var top int
	var by string
	cmd := &cobra.Command{
		Use:   "histogram CORE",
		Short: "Count objects and their sizes per type: what fills the heap",
		Long: `histogram takes a census of the heap (every object the garbage collector
tracks, every object reachable from modules, sys, builtins and the threads'
frames) and prints, per type, how many objects there are and their total
shallow size (sys.getsizeof of each), the biggest total first. --by module
adds up the types of each module (the module that defines the type).

The last line says how many objects and references the census found, how
many pointers it could not read, and warns when the core was taken while
the garbage collector was running.

The first heap command on a core saves the census as an index for the
next ones (pycoroner cache --help). With --no-index or --pid, histogram
saves nothing, so it counts the objects without keeping them (the
census's walk without its arrays): the same answer, sooner, in a few
bytes per object (the census takes 40). So does a heap whose census
would not fit in the memory allowed (docs/limits.md), with a warning.`,
		Example: `  pycoroner histogram core.12345
  pycoroner histogram --top 0 --json core.12345 | jq '.result[] | select(.module == "app.models")'
  pycoroner histogram --by module core.12345`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			if by != "type" && by != "module" {
				return usageError{fmt.Errorf("--by %q: want type or module", by)}
			}
			if top < 0 {
				return usageError{fmt.Errorf("--top %d: want 0 (all) or more", top)}
			}
			if g.tallies() {
				return g.tallyHistogram(coreArg(args), by, top, nil)
			}
			hs, err := g.openHeapFor(coreArg(args), pyheap.SavedTotals)
			if tb := (*censusTooBig)(nil); errors.As(err, &tb) {
				return g.tallyHistogram(coreArg(args), by, top, tb)
			}
			if err != nil {
				return err
			}
			defer hs.close()
			return hs.answer(g, reports.BuildHistogram(hs.h, by, top))
		},
	}
	cmd.Flags().IntVar(&top, "top", 25, "show the `N` biggest rows (0: all)")
	cmd.Flags().StringVar(&by, "by", "type", "group by `type` or module")
	return cmd
}
