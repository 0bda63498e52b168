package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/reports"
)

func newDiffCmd(gf *globalFlags) *cobra.Command {
	var force bool
	var newType string
	var top, maxNew int
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "What grew between two cores of one process, object by object",
		Long: `diff compares two cores of the same process (same pid, executable and
_PyRuntime address; --force compares others anyway). CPython objects never
move, so an object at the same address with the same type in both cores is
taken to be the same object. It prints, per type whose count or size
changed, the count and size in each core and the deltas; the growth
points: objects present in both that refer to many new objects (a list
that got 1,234 new sessions), with their paths from a root in the new
core; and with --new TYPE the new objects of that type.

An object freed and another of the same type allocated at its address
look like one surviving object: the counts stay exact, only that object
is not listed as new.

OLD is the earlier core: when NEW's file is older than OLD's (by their
modification times), a warning says the two may be swapped.`,
		Example: `  pycoroner diff core.before core.after
  pycoroner diff --new Session core.before core.after
  pycoroner diff --json core.before core.after | jq '.result.growth[0]'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := checkPIDFlag(cmd); err != nil {
				return err
			}
			if liveTarget.pid != 0 {
				return usageError{fmt.Errorf("diff compares two core files: --pid is not supported (take a snapshot first)")}
			}
			switch len(args) {
			case 2:
			case 1:
				return usageError{fmt.Errorf("expected OLD and NEW core files, got only %s", args[0])}
			default:
				return usageError{fmt.Errorf("expected OLD and NEW core files, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if top < 0 || maxNew < 0 {
				return usageError{fmt.Errorf("--top and --max-new want 0 (all) or more")}
			}
			old, err := gf.openHeap(args[0])
			if err != nil {
				return err
			}
			defer old.close()
			cur, err := gf.openHeap(args[1])
			if err != nil {
				return err
			}
			defer cur.close()
			if problems := sameProcess(old, cur); len(problems) > 0 && !force {
				return fmt.Errorf("%s and %s are not cores of one process (%s); --force compares them anyway", args[0], args[1], strings.Join(problems, "; "))
			}
			og := reports.NewLeakArrays(old.h)
			cg, err := cur.leakGraph()
			if err != nil {
				return err
			}
			d, err := reports.BuildDiff(og, cg, reports.DiffOptions{NewType: newType, MaxNew: maxNew, TextTop: top})
			if err != nil {
				return err
			}
			warns := append([]string(nil), old.warnings...)
			for i := range warns {
				warns[i] = "old core: " + warns[i]
			}
			if w := swappedOrder(args[0], args[1]); w != "" {
				warns = append(warns, w)
			}
			return cur.answerWith(gf, d, reports.CensusFactsOf(old.h.Stats), warns...)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "compare cores of different processes")
	cmd.Flags().StringVar(&newType, "new", "", "list the new objects of `TYPE`")
	cmd.Flags().IntVar(&maxNew, "max-new", 100, "list at most `N` new objects (0: all)")
	cmd.Flags().IntVar(&top, "top", 25, "text: show the `N` biggest type changes (0: all; JSON has all)")
	return cmd
}

// sameProcess says how two cores differ in what makes them one process.
func sameProcess(a, b *heapSession) []string {
	var out []string
	if pa, pb := a.proc.Info().PID, b.proc.Info().PID; pa != pb {
		out = append(out, fmt.Sprintf("pid %d and %d", pa, pb))
	}
	ea, _ := a.proc.Executable()
	eb, _ := b.proc.Executable()
	if ea.Path != eb.Path {
		out = append(out, fmt.Sprintf("executables %s and %s", ea.Path, eb.Path))
	}
	if a.rt.Addr != b.rt.Addr {
		out = append(out, fmt.Sprintf("_PyRuntime at 0x%x and 0x%x", a.rt.Addr, b.rt.Addr))
	}
	return out
}

// swappedOrder warns when OLD and NEW are one file, or when NEW was
// written before OLD, by the files'
// modification times: cores given the wrong way round read growth as
// shrinkage, and nothing inside two cores of one process says which is
// older (gcore leaves the threads' CPU times at zero). A copy that did not
// keep its time can set this off: it is a warning, not an error.
func swappedOrder(oldPath, newPath string) string {
	so, err1 := os.Stat(oldPath)
	sn, err2 := os.Stat(newPath)
	if err1 == nil && err2 == nil && os.SameFile(so, sn) {
		return fmt.Sprintf("OLD and NEW are the same file (%s): nothing can differ; diff OLD NEW takes two cores of one process taken at different times", newPath)
	}
	if err1 != nil || err2 != nil || !sn.ModTime().Before(so.ModTime()) {
		return ""
	}
	return fmt.Sprintf("NEW (%s, written %s) is older than OLD (%s, written %s) by the files' times: if they are swapped, what grew shows as shrinkage (diff OLD NEW takes the earlier core first)",
		newPath, sn.ModTime().UTC().Format(time.RFC3339), oldPath, so.ModTime().UTC().Format(time.RFC3339))
}
