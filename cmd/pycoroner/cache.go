package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/indexfile"
	"github.com/pycoroner/pycoroner/reports"
)

// The saved heap index: where it lives and how big the cache may grow.
const (
	indexDirEnv = "PYCORONER_INDEX_DIR"
	indexMaxEnv = "PYCORONER_INDEX_MAX"
)

// indexCache is the cache of saved heap indexes: $PYCORONER_INDEX_DIR, or
// pycoroner/index in the user cache directory, beside the decompressed
// cores (decompressCacheDir); bounded by $PYCORONER_INDEX_MAX (10G by default).
func indexCache() (*indexfile.Cache, error) {
	dir := os.Getenv(indexDirEnv)
	if dir == "" {
		if base, err := userCacheDir(); err == nil {
			dir = filepath.Join(base, "pycoroner", "index")
		} else {
			dir = filepath.Join(os.TempDir(), fmt.Sprintf("pycoroner-index-%d", os.Getuid()))
		}
	}
	c := &indexfile.Cache{Dir: dir}
	if s := os.Getenv(indexMaxEnv); s != "" {
		n, err := parseSize(s)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", indexMaxEnv, s, err)
		}
		c.Limit = n
	}
	return c, nil
}

func newCacheCmd(g *globalFlags) *cobra.Command {
	var clear bool
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Show or clear the saved heap indexes, kept debug info and decompressed cores",
		Long: `The first heap command on a core (histogram, refs, path, show, grep) saves
its census beside the core's identity in a cache, so that later commands on
the same core answer without taking the census again. cache lists the saved
indexes, the most recently used first; --clear removes them all.

The cache is pycoroner/index in the user cache directory ($XDG_CACHE_HOME
or ~/.cache), or $PYCORONER_INDEX_DIR. It is bounded by $PYCORONER_INDEX_MAX
(10G by default): the indexes used longest ago are removed first. An index
is keyed by the core's size, modification time and notes, not its path: a
core rewritten in place gets a new one. --no-index on a heap command uses
no saved index and saves none.

The same cache keeps the inflated DWARF of compressed separate debug files
(Debian's python3.X-dbg, libc6-dbg), which stacks --native and info read:
inflating it takes about half a second each run; listed as "DWARF of PATH",
keyed by the debug file's size, modification time and section table.
--no-index on those commands inflates it again and keeps nothing.

cache also lists the cores decompressed from compressed ones (.gz, .xz,
.zst), kept in pycoroner/cores in the user cache directory, or
$PYCORONER_CACHE_DIR; --clear removes them too (each is decompressed again
when next used).`,
		Example: `  pycoroner cache
  pycoroner cache --json | jq '.entries[] | {label, size}'
  pycoroner cache --clear
  PYCORONER_INDEX_MAX=2G pycoroner histogram core.12345`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := indexCache()
			if err != nil {
				return err
			}
			out := &reports.IndexCache{Dir: c.Dir, Limit: c.Limit}
			if out.Limit == 0 {
				out.Limit = indexfile.DefaultLimit
			}
			d := &out.Decompressed
			d.Dir = decompressCacheDir()
			if clear {
				n, bytes, err := c.Clear()
				if err != nil {
					return fmt.Errorf("clearing %s: %w", c.Dir, err)
				}
				out.Cleared, out.ClearedBytes = &n, &bytes
				cores, coreBytes, err := coreread.ClearDecompressed(d.Dir)
				if err != nil {
					return fmt.Errorf("clearing %s: %w", d.Dir, err)
				}
				d.Cleared, d.ClearedBytes = &cores, &coreBytes
			} else {
				cores, err := coreread.ListDecompressed(d.Dir)
				if err != nil {
					return fmt.Errorf("reading %s: %w", d.Dir, err)
				}
				d.Entries = []reports.DecompressedEntry{}
				for _, e := range cores {
					d.Entries = append(d.Entries, reports.DecompressedEntry{Path: e.Path, Size: e.Size, LastUsed: e.LastUsed, Source: e.Source})
					d.Total += e.Size
				}
				entries, err := c.List()
				if err != nil {
					return fmt.Errorf("reading %s: %w", c.Dir, err)
				}
				out.Entries = []reports.IndexCacheEntry{}
				for _, e := range entries {
					out.Entries = append(out.Entries, reports.IndexCacheEntry{Path: e.Path, Size: e.Size, LastUsed: e.LastUsed, Kind: e.Kind, Label: e.Label})
					out.Total += e.Size
				}
			}
			return g.emit(out)
		},
	}
	cmd.Flags().BoolVar(&clear, "clear", false, "remove every saved index and decompressed core")
	return cmd
}
