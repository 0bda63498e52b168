package main

import (
	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/reports"
)

func newModulesCmd(g *globalFlags) *cobra.Command {
	var dups bool
	cmd := &cobra.Command{
		Use:   "modules CORE",
		Short: "List sys.modules, or the files imported twice under two names",
		Long: `modules lists sys.modules: each module's name, address and __file__.

--duplicates lists the files loaded as more than one module object: the
double-import bug, where pkg.sub.mod and sub.mod are both imported from one
file because two sys.path entries overlap (one is inside the other), so the
module's globals, classes and caches exist twice. It names the sys.path
entries responsible. Files are compared by cleaned path, with symlinks
resolved when the file exists on this host (or under --sysroot).`,
		Example: `  pycoroner modules core.12345
  pycoroner modules --duplicates core.12345
  pycoroner modules --json core.12345 | jq -r '.result[] | select(.file == null) | .name'`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.open(coreArg(args), true)
			if err != nil {
				return err
			}
			defer s.close()
			hp := reports.HostPaths{Sysroot: g.sysroot}
			if dups {
				d, err := reports.BuildDuplicates(s.rt, hp)
				if err != nil {
					return err
				}
				return g.emitWarned(reports.Envelop(d, s.warnings(), false, nil, nil))
			}
			mods, err := reports.BuildModules(s.rt)
			if err != nil && mods == nil {
				return err
			}
			warns := s.warnings()
			if err != nil {
				warns = append(warns, err.Error())
			}
			return g.emitWarned(reports.Envelop(mods, warns, err != nil, nil, nil))
		},
	}
	cmd.Flags().BoolVar(&dups, "duplicates", false, "list files loaded as more than one module, and the sys.path entries behind it")
	return cmd
}
