package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/bigarray"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

func newIndexCmd(g *globalFlags) *cobra.Command {
	var force, censusOnly bool
	cmd := &cobra.Command{
		Use:   "index CORE",
		Short: "Take the heap census of a core and save it for later heap commands",
		Long: `index takes the heap census of a core and saves it in the index cache (see
pycoroner cache --help), so that every later heap command on the same core
(histogram, refs, path, show, grep) maps it and answers at once. A heap
command saves the index itself the first time; index does it ahead of
time, e.g. in CI next to the core, so that whoever investigates waits for
nothing. Beside the census it saves what the first grep and the first
leak command would (the string table, the dominator tree), so that they
too answer at once; --census-only saves the census alone. What is
already saved and valid is kept (--force takes the census again).`,
		Example: `  pycoroner index core.12345
  pycoroner index --census-only core.12345
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
			start := time.Now()
			out, err := g.indexCensus(path, force)
			if err != nil {
				return err
			}
			// The census's session is closed: the string table and the
			// tree are made from the index just saved, in what memory
			// the census gave back.
			if err := g.indexExtras(path, out, censusOnly); err != nil {
				return err
			}
			if out.Built {
				out.Seconds = time.Since(start).Seconds()
			}
			return g.emit(out)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "take the census and save it even if a valid index is saved")
	cmd.Flags().BoolVar(&censusOnly, "census-only", false, "save the census alone, not the string table (grep) nor the dominator tree (leaks, top, retained, instances)")
	return cmd
}

// indexCensus saves the census of the core at path, unless a valid one is
// saved (and force is not set).
func (g *globalFlags) indexCensus(path string, force bool) (*reports.IndexBuilt, error) {
	s, err := g.open(path, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	defer func() { warnAll(os.Stderr, s.warnings()) }()
	cache, key, why := g.indexFor(s.proc)
	if cache == nil {
		return nil, fmt.Errorf("cannot save an index: %s", why)
	}
	out := &reports.IndexBuilt{Core: path}
	if !force {
		if x, err := cache.Load(key, pyheap.HeapIndexSchema); err == nil {
			h, err := s.rt.LoadHeap(x)
			if err == nil {
				out.Index, out.Size, out.Objects, out.References = x.Path(), x.Size(), h.Len(), h.Stats.Edges
				x.Close()
				return out, nil
			}
			x.Close()
			os.Remove(x.Path())
		}
	}
	h, err := g.census(s, true)
	if err != nil {
		return nil, fmt.Errorf("%s: heap census: %w", path, err)
	}
	// Given back before the string table and the tree are made.
	defer func() { h.Release(); bigarray.Trim() }()
	label, _ := filepath.Abs(path)
	saved, err := g.saveIndex(h, cache, key, label)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out.Built, out.Index, out.Objects, out.References = true, saved, h.Len(), h.Stats.Edges
	if st, err := os.Stat(saved); err == nil {
		out.Size = st.Size()
	}
	return out, nil
}

// indexExtras saves, beside the saved census of the core at path, its
// string table and dominator tree (each kept when already saved and
// valid), and says where in out.
func (g *globalFlags) indexExtras(path string, out *reports.IndexBuilt, censusOnly bool) error {
	if censusOnly {
		return nil
	}
	hs, err := g.openHeapFor(path, pyheap.SavedAll)
	if err != nil {
		return err
	}
	defer hs.close()
	if hs.cache == nil {
		return fmt.Errorf("%s: the saved census could not be read back", path)
	}
	// A companion the cache did not keep is a warning, as for any
	// command: the census, what every later command needs first, is saved.
	if out.StringTable, err = hs.stringTable(); err != nil && !errors.Is(err, errStringsNotSaved) {
		return fmt.Errorf("%s: string table: %w", path, err)
	}
	if _, err := hs.leakGraphFor(g, allLeakNeeds); err != nil {
		return fmt.Errorf("%s: dominator tree: %w", path, err)
	}
	if x, err := hs.cache.Load(hs.key, domIndexSchema); err == nil {
		out.DominatorTree = x.Path()
		x.Close()
	} else if !slices.ContainsFunc(hs.warnings, func(w string) bool { return strings.HasPrefix(w, "dominator tree not saved") }) {
		hs.warnings = append(hs.warnings, fmt.Sprintf("dominator tree not saved: %v", err))
	}
	warnAll(os.Stderr, hs.warnings)
	return nil
}
