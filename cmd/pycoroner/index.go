package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

func newIndexCmd(g *globalFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "index CORE",
		Short: "Take the heap census of a core and save it for later heap commands",
		Long: `index takes the heap census of a core and saves it in the index cache (see
pycoroner cache --help), so that every later heap command on the same core
(histogram, refs, path, show, grep) maps it and answers at once. A heap
command saves the index itself the first time; index does it ahead of
time, e.g. in CI next to the core, so that whoever investigates waits for
nothing. An index already saved and valid is kept (--force rebuilds it).`,
		Example: `  pycoroner index core.12345
  PYCORONER_INDEX_DIR=./artifacts/index pycoroner index --json core.12345`,
		Args: oneCore,
		RunE: func(cmd *cobra.Command, args []string) error {
			if liveTarget.pid != 0 {
				return usageError{errors.New("index saves the census of a core file; a running process (--pid) has none to key it by: take a snapshot first (pycoroner snapshot)")}
			}
			if g.noIndex {
				return usageError{errors.New("--no-index and index contradict each other")}
			}
			path := coreArg(args)
			s, err := g.open(path, true)
			if err != nil {
				return err
			}
			defer s.close()
			cache, key, why := g.indexFor(s.proc)
			if cache == nil {
				return fmt.Errorf("cannot save an index: %s", why)
			}
			out := reports.IndexBuilt{Core: path}
			if !force {
				if x, err := cache.Load(key, pyheap.HeapIndexSchema); err == nil {
					h, err := s.rt.LoadHeap(x)
					if err == nil {
						out.Index, out.Size, out.Objects, out.References = x.Path(), x.Size(), h.Len(), h.Stats.Edges
						x.Close()
						return g.emit(&out)
					}
					x.Close()
					os.Remove(x.Path())
				}
			}
			start := time.Now()
			h, err := g.census(s, true)
			if err != nil {
				return fmt.Errorf("%s: heap census: %w", path, err)
			}
			label, _ := filepath.Abs(path)
			saved, err := g.saveIndex(h, cache, key, label)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			out.Built, out.Index, out.Objects, out.References = true, saved, h.Len(), h.Stats.Edges
			out.Seconds = time.Since(start).Seconds()
			if st, err := os.Stat(saved); err == nil {
				out.Size = st.Size()
			}
			warnAll(os.Stderr, s.warnings())
			return g.emit(&out)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "take the census and save it even if a valid index is saved")
	return cmd
}
