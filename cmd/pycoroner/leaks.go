package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/graph/suspects"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

// rootsHelp is what every leak-hunting command says about roots and
// retained sizes (docs/design.md has the whole story).
const rootsHelp = `The retained size of an object is the sum of the shallow sizes
(sys.getsizeof) of every object it dominates, itself included: the memory
that would be freed if it went away. An object X dominates Y when every
chain of references from a root to Y goes through X. The roots are the
modules in sys.modules, sys, builtins, the threads' frame locals, the
exceptions threads handle, their thread-state dicts, and what the
interpreter's frames refer to; objects no root reaches (held by C code or
static state) count as roots too.`

func newRetainedCmd(gf *globalFlags) *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "retained CORE ADDR",
		Short: "How much memory an object keeps alive: its retained size and biggest dominated children",
		Long: `retained prints an object's retained size and count, and the objects it
dominates directly, the biggest retained first.

` + rootsHelp + `

ADDR is an address or an expression (see refs --help).`,
		Example: `  pycoroner retained core.12345 app.cache:CACHE
  pycoroner retained --top 0 core.12345 0x7f3ad78a9e50
  pycoroner retained --json core.12345 __main__:SESSIONS | jq .result.retained_size`,
		Args: coreAnd("ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 0 {
				return usageError{fmt.Errorf("--top %d: want 0 (all) or more", top)}
			}
			needs := leakNeeds{census: pyheap.SavedAddrs | pyheap.SavedSizes, children: true}
			hs, id, err := gf.openTarget(args, needs.census)
			if err != nil {
				return err
			}
			defer hs.close()
			g, err := hs.leakGraphFor(gf, needs)
			if err != nil {
				return err
			}
			return hs.answer(gf, reports.BuildRetained(g, id, top))
		},
	}
	cmd.Flags().IntVar(&top, "top", 10, "list the `N` biggest dominated children (0: all)")
	return cmd
}

func newTopCmd(gf *globalFlags) *cobra.Command {
	var top int
	var by string
	var retained bool
	cmd := &cobra.Command{
		Use:   "top CORE",
		Short: "The biggest objects (or types) by shallow or retained size, with their paths",
		Long: `top lists the objects with the largest shallow size (sys.getsizeof), or with
--retained the largest retained size, each with its shortest path from a
root. --by type sums the instances of each type instead; by retained size
only the instances no other instance of the type dominates are summed (a
linked list's head counts, its nodes do not count again).

` + rootsHelp,
		Example: `  pycoroner top --retained core.12345
  pycoroner top --retained --by type --top 10 core.12345
  pycoroner top --json --retained core.12345 | jq '.result[0].path'`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			if by != "" && by != "type" {
				return usageError{fmt.Errorf("--by %q: want type (or nothing, for objects)", by)}
			}
			if top < 0 {
				return usageError{fmt.Errorf("--top %d: want 0 (all types) or more", top)}
			}
			if top == 0 && by == "" {
				// Every object, each with its path, is not an answer
				// anyone reads (millions of rows): say so rather than
				// quietly listing 25.
				return usageError{errors.New("--top 0 lists every type with --by type; objects are listed N at a time: give a number (--top 100)")}
			}
			// Objects: their sizes, and paths; types: the sums saved
			// with the tree (reports.BuildTop), or what computes them.
			needs := leakNeeds{census: pyheap.SavedAddrs | pyheap.SavedSizes | pyheap.SavedReverse}
			if retained {
				needs.children = true // the walk from the tree's root (dominators.Tree.Largest)
			}
			if by == "type" {
				needs = leakNeeds{census: pyheap.SavedSizes, typeSums: true}
			}
			hs, err := gf.openLeakHeap(coreArg(args), needs)
			if err != nil {
				return err
			}
			defer hs.close()
			g, err := hs.leakGraphFor(gf, needs)
			if err != nil {
				return err
			}
			return hs.answer(gf, reports.BuildTop(g, retained, by == "type", top))
		},
	}
	cmd.Flags().IntVar(&top, "top", 25, "show the `N` biggest (with --by type, 0 shows all types)")
	cmd.Flags().StringVar(&by, "by", "", "sum per `type` instead of listing objects")
	cmd.Flags().BoolVar(&retained, "retained", false, "rank by retained size instead of shallow size")
	return cmd
}

func newLeaksCmd(gf *globalFlags) *cobra.Command {
	var opts suspects.Options
	var minShare float64
	cmd := &cobra.Command{
		Use:   "leaks CORE",
		Short: "Leak suspects: where the memory accumulates, and what holds it",
		Long: `leaks walks the dominator tree from the root: while one child holds most
(80%) of an object's retained size it goes down to that child (a module,
its __dict__, an instance holding one big container only carry the
memory); where the memory spreads over many children (a dict of 3,000
records, a list of sessions) it stops: that object is a suspect when it
retains at least --min-share of the heap. A container of a few big
shards of one type (a dict of lists) is one suspect, however big each
shard has grown. Each suspect comes with its share of the heap, its path
from a root, and the types it holds many of.

` + rootsHelp,
		Example: `  pycoroner leaks core.12345
  pycoroner leaks --min-share 0.01 core.12345
  pycoroner leaks --json core.12345 | jq '.result.suspects[0].summary'`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			if minShare <= 0 || minShare > 1 {
				return usageError{fmt.Errorf("--min-share %v: want a share of the heap in (0, 1]", minShare)}
			}
			opts.MinShare = minShare
			// The tree's child lists and types; the census's addresses
			// and reverse index for the paths (reports.BuildLeaks).
			needs := leakNeeds{census: pyheap.SavedAddrs | pyheap.SavedReverse, children: true, groups: true}
			hs, err := gf.openLeakHeap(coreArg(args), needs)
			if err != nil {
				return err
			}
			defer hs.close()
			g, err := hs.leakGraphFor(gf, needs)
			if err != nil {
				return err
			}
			return hs.answer(gf, reports.BuildLeaks(g, opts))
		},
	}
	cmd.Flags().Float64Var(&minShare, "min-share", 0.05, "the least `share` of the heap a suspect retains")
	return cmd
}

func newInstancesCmd(gf *globalFlags) *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "instances CORE TYPE",
		Short: "The objects of a type, the largest retained first, with their holders",
		Long: `instances lists the objects of one type (tp_name, __name__ or
module.__name__, as histogram prints them), the largest retained size
first, each with what refers to it (as refs does).

` + rootsHelp,
		Example: `  pycoroner instances core.12345 Session
  pycoroner instances --top 0 --json core.12345 app.models.Session | jq '.result.instances | length'`,
		Args: coreAnd("TYPE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 0 {
				return usageError{fmt.Errorf("--top %d: want 0 (all) or more", top)}
			}
			core, name := coreAndArg(args)
			// Every object's type; sizes, and the reverse index for the
			// holders (reports.BuildInstances).
			needs := leakNeeds{census: pyheap.SavedAddrs | pyheap.SavedSizes | pyheap.SavedReverse, groups: true}
			hs, err := gf.openLeakHeap(core, needs)
			if err != nil {
				return err
			}
			defer hs.close()
			g, err := hs.leakGraphFor(gf, needs)
			if err != nil {
				return err
			}
			in, err := reports.BuildInstances(g, name, top)
			if err != nil {
				return err
			}
			if w := in.Warning(); w != "" {
				return hs.answer(gf, in, w)
			}
			return hs.answer(gf, in)
		},
	}
	cmd.Flags().IntVar(&top, "top", 25, "list the `N` largest (0: all)")
	return cmd
}
