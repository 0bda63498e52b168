package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

func newRefsCmd(g *globalFlags) *cobra.Command {
	var paths bool
	var max int
	cmd := &cobra.Command{
		Use:   "refs CORE ADDR",
		Short: "List what refers to an object, and how",
		Long: `refs lists the direct referrers of one object: the objects that hold a
reference to it, each with how it does ("key 'CACHE'" of a dict, "item 3"
of a list, "attribute items" of an instance), and the frames whose local
variables hold it. A dict that is an object's __dict__ (a module's globals,
an instance's attributes) names that object as its owner.

ADDR is an address (0x7f…, or id() in decimal) or an expression such as
app.models:CACHE, __main__:HOLDER.items or threading:_active. Each
interpreter has its own sys.modules: with subinterpreters, an expression is
looked up in each, main first, and the first it resolves in is used; a
warning names every interpreter that gives another object, and its
address. A trailing @N picks interpreter N (child:MARKER@2; the ids are in
stacks and modules).

A module or class body's names are entries of its namespace dict: refs
lists that dict (the module as its owner), not the frame running the body,
as gc.get_referrers() does. The first line counts the rows (one per
reference) and the distinct objects, frames and threads they come from,
as show counts them.

--max N (default 200, 0 all) lists the first N rows, frames first; a
warning counts the rest. --paths adds, under each holder object, its
shortest path from a root (as path prints it): why each holder is alive,
in one command.`,
		Example: `  pycoroner refs core.12345 0x7f3ad78a9e50
  pycoroner refs core.12345 app.models:CACHE
  pycoroner refs core.12345 child:MARKER@2   # child as subinterpreter 2 imported it
  pycoroner refs --json core.12345 __main__:MARKED_LIST | jq '.result[] | select(.kind == "frame")'
  pycoroner refs --paths core.12345 0x7f3ad78a9e50
  pycoroner refs --max 0 --json core.12345 builtins:None | jq '.result | length'`,
		Args: coreAnd("ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if max < 0 {
				return usageError{fmt.Errorf("--max %d: want 0 (all) or more", max)}
			}
			hs, id, err := g.openTarget(args, pyheap.SavedAddrs|pyheap.SavedReverse)
			if err != nil {
				return err
			}
			defer hs.close()
			if paths {
				r := reports.BuildRefsPaths(hs.h, id, max)
				return hs.answer(g, r, r.Refs.Warnings()...)
			}
			r := reports.BuildRefs(hs.h, id, max)
			return hs.answer(g, r, r.Warnings()...)
		},
	}
	cmd.Flags().IntVar(&max, "max", reports.RefsDefaultMax, "list at most `N` referrers (0: all)")
	cmd.Flags().BoolVar(&paths, "paths", false, "give each holder object its shortest path from a root")
	return cmd
}
