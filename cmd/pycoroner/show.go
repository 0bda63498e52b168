package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

func newShowCmd(g *globalFlags) *cobra.Command {
	var depth int
	cmd := &cobra.Command{
		Use:   "show CORE ADDR",
		Short: "Decode one object: type, size, repr, its references and referrer count",
		Long: `show decodes one object: its type, address, shallow size and repr, every
reference it holds with its label (items, keys, attributes, fields), and
what refers to it: how many distinct objects (as gc.get_referrers()
counts), and how many frame locals and thread states; refs lists them, a
row per reference. --depth N follows the references N levels
(default 1, at most 10; an object already shown is not expanded again).
ADDR is an address or an expression (see refs --help).

An exception also shows its traceback, most recent call last, with each
frame's locals: what pdb.pm() would show of an exception a service kept
(its last error, a failed task's), from outside the process.`,
		Example: `  pycoroner show core.12345 0x7f3ad78a9e50
  pycoroner show --depth 2 core.12345 __main__:HOLDER
  pycoroner show --json core.12345 sys:path
  pycoroner show core.12345 app.worker:LAST_ERROR   # its traceback, with locals
  pycoroner show core.12345 child:MARKER@2   # in subinterpreter 2 (see refs --help)`,
		Args: coreAnd("ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if depth < 0 || depth > reports.ShowMaxDepth {
				return usageError{fmt.Errorf("--depth %d: want 0 to %d", depth, reports.ShowMaxDepth)}
			}
			hs, id, err := g.openTarget(args, pyheap.SavedAll)
			if err != nil {
				return err
			}
			defer hs.close()
			return hs.answer(g, reports.BuildShow(hs.h, id, depth))
		},
	}
	cmd.Flags().IntVar(&depth, "depth", 1, "follow references `N` levels")
	return cmd
}
