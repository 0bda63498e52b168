package main

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/reports"
)

func newGrepCmd(g *globalFlags) *cobra.Command {
	var kind string
	var max int
	var paths bool
	cmd := &cobra.Command{
		Use:   "grep CORE REGEX",
		Short: "Find str and bytes objects matching a regexp, and what holds them",
		Long: `grep searches every str and bytes object of the heap census for a Go
regular expression (RE2 syntax) and prints each match with its holders:
the frames whose locals hold it and the objects that refer to it, as refs
does. It answers "which thread holds that temp file name / that token?".

The first 1 MiB (code points of a str, bytes of a bytes) of each object is
searched; longer objects are reported as cut. Subclasses of str and bytes
are not searched. --paths adds each holder object's shortest path from a
root.`,
		Example: `  pycoroner grep core.12345 '^/tmp/'
  pycoroner grep --type bytes core.12345 'BEGIN (RSA )?PRIVATE KEY'
  pycoroner grep --json core.12345 pycoroner- | jq '.result[] | {value, holders}'
  pycoroner grep --paths core.12345 'password='`,
		Args: coreAnd("REGEX"),
		RunE: func(cmd *cobra.Command, args []string) error {
			core, pattern := coreAndArg(args)
			re, err := regexp.Compile(pattern)
			if err != nil {
				return usageError{fmt.Errorf("bad regexp: %v", err)}
			}
			opts := reports.GrepOptions{Max: max}
			switch kind {
			case "":
				opts.Str, opts.Bytes = true, true
			case "str":
				opts.Str = true
			case "bytes":
				opts.Bytes = true
			default:
				return usageError{fmt.Errorf("--type %q: want str or bytes", kind)}
			}
			if max < 0 {
				return usageError{fmt.Errorf("--max %d: want 0 (all) or more", max)}
			}
			// The census's addresses and reverse index are read only
			// when used (grepParts).
			hs, err := g.openHeapFor(core, 0)
			if err != nil {
				return err
			}
			res, err := hs.grep(re, opts)
			var damaged censusDamaged
			if errors.As(err, &damaged) {
				// A part of the saved census failed its checks when
				// first read: take the census again, as heapOf does.
				if err = hs.retakeCensus(g, damaged.err); err == nil {
					res, err = hs.grep(re, opts)
				}
			}
			if err != nil {
				hs.close()
				return err
			}
			defer hs.close()
			if paths {
				return hs.answer(g, reports.GrepWithPaths(hs.h, res), res.Warnings()...)
			}
			return hs.answer(g, res, res.Warnings()...)
		},
	}
	cmd.Flags().StringVar(&kind, "type", "", "search only `str` or bytes objects (default both)")
	cmd.Flags().IntVar(&max, "max", 1000, "report at most `N` matches (0: all)")
	cmd.Flags().BoolVar(&paths, "paths", false, "give each holder object its shortest path from a root")
	return cmd
}
