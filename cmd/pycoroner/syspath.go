package main

import (
	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/reports"
)

func newSysPathCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "syspath CORE",
		Short: "Print sys.path, flagging missing, duplicate and overlapping entries",
		Long: `syspath prints the process's sys.path in order and flags entries that do
not exist on this host (or under --sysroot), entries that name the same
directory as an earlier one, and entries inside another entry: modules
under such an entry can be imported under two names (see modules
--duplicates). Entries relative to the process's working directory are not
checked: a core does not record it.`,
		Example: `  pycoroner syspath core.12345
  pycoroner syspath --json core.12345 | jq '.result[] | select(.double_import_from != [])'`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.open(coreArg(args), true)
			if err != nil {
				return err
			}
			defer s.close()
			entries, err := reports.BuildSysPath(s.rt, reports.HostPaths{Sysroot: g.sysroot})
			if err != nil {
				return err
			}
			return g.emitWarned(reports.Envelop(entries, s.warnings(), false, nil, nil))
		},
	}
}
