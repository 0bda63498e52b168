package reports

import (
	"fmt"
	"io"
	"time"
)

var (
	_ Answer = (*IndexCache)(nil)
	_ Answer = (*IndexBuilt)(nil)
)

// IndexCache is what `pycoroner cache` shows: the saved indexes.
type IndexCache struct {
	Dir     string            `json:"dir"`
	Limit   int64             `json:"limit"` // bytes
	Total   int64             `json:"total"` // bytes
	Entries []IndexCacheEntry `json:"entries"`
	// Cleared is set by --clear: the files and bytes removed.
	Cleared      *int   `json:"cleared,omitempty"`
	ClearedBytes *int64 `json:"cleared_bytes,omitempty"` // set with Cleared, 0 included
	// Decompressed are the cores decompressed from compressed ones, in
	// a cache of their own.
	Decompressed DecompressedCache `json:"decompressed"`
}

// DecompressedCache is the cache of decompressed cores.
type DecompressedCache struct {
	Dir     string              `json:"dir"`
	Total   int64               `json:"total"` // bytes
	Entries []DecompressedEntry `json:"entries"`
	// Cleared is set by --clear: the cores and bytes removed.
	Cleared      *int   `json:"cleared,omitempty"`
	ClearedBytes *int64 `json:"cleared_bytes,omitempty"` // set with Cleared, 0 included
}

// DecompressedEntry is one decompressed core.
type DecompressedEntry struct {
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	LastUsed time.Time `json:"last_used"`
	Source   string    `json:"source"` // the compressed core, as a path when it was decompressed
}

// IndexCacheEntry is one saved index.
type IndexCacheEntry struct {
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	LastUsed time.Time `json:"last_used"`
	Kind     string    `json:"kind"`  // "census"; "" for a file being written
	Label    string    `json:"label"` // the core it was built from, when it was built
}

// JSON is the value of cache --json.
func (c *IndexCache) JSON() any { return c }

// WriteText renders the caches as tables and totals.
func (c *IndexCache) WriteText(w io.Writer) error {
	d := &c.Decompressed
	if c.Cleared != nil {
		if _, err := fmt.Fprintf(w, "removed %d saved index files (%s) from %s\n", *c.Cleared, byteSize(*c.ClearedBytes), c.Dir); err != nil {
			return err
		}
		if d.Cleared != nil {
			_, err := fmt.Fprintf(w, "removed %d decompressed cores (%s) from %s\n", *d.Cleared, byteSize(*d.ClearedBytes), d.Dir)
			return err
		}
		return nil
	}
	if len(c.Entries) > 0 {
		rows := make([][]string, len(c.Entries))
		for i, e := range c.Entries {
			kind := e.Kind
			switch {
			case kind == "" && e.Label == "":
				kind = "(being written, or left by a killed process)"
			case kind == "":
				kind = "(no index)"
			}
			rows[i] = []string{e.LastUsed.Local().Format("2006-01-02 15:04"), byteSize(e.Size), kind, e.Label}
		}
		if err := table(w, []string{"last used", "size", "kind", "built from"}, rows); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(w, "%d saved index files, %s of %s, in %s\n", len(c.Entries), byteSize(c.Total), byteSize(c.Limit), c.Dir); err != nil {
		return err
	}
	if len(d.Entries) > 0 {
		rows := make([][]string, len(d.Entries))
		for i, e := range d.Entries {
			rows[i] = []string{e.LastUsed.Local().Format("2006-01-02 15:04"), byteSize(e.Size), e.Source}
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
		if err := table(w, []string{"last used", "size", "decompressed from"}, rows); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d decompressed cores, %s, in %s\n", len(d.Entries), byteSize(d.Total), d.Dir)
	return err
}

// IndexBuilt is what `pycoroner index` did.
type IndexBuilt struct {
	Core       string  `json:"core"`
	Index      string  `json:"index"`
	Size       int64   `json:"size"` // bytes
	Objects    int     `json:"objects"`
	References int     `json:"references"`
	Built      bool    `json:"built"`             // false: a valid index was already saved
	Seconds    float64 `json:"seconds,omitempty"` // the census, saving it and what is saved beside it, when built
	// Saved beside the census, unless --census-only: grep's string table
	// and the leak commands' dominator tree.
	StringTable   string `json:"string_table,omitempty"`
	DominatorTree string `json:"dominator_tree,omitempty"`
}

// JSON is the value of index --json.
func (b *IndexBuilt) JSON() any { return b }

// WriteText says where the index is.
func (b *IndexBuilt) WriteText(w io.Writer) error {
	what := "already saved"
	if b.Built {
		what = fmt.Sprintf("saved in %.1fs", b.Seconds)
	}
	if _, err := fmt.Fprintf(w, "%s: heap index of %d objects and %d references %s: %s (%s)\n", b.Core, b.Objects, b.References, what, b.Index, byteSize(b.Size)); err != nil {
		return err
	}
	for _, f := range []struct{ what, path string }{{"string table (grep)", b.StringTable}, {"dominator tree (leaks, top, retained, instances)", b.DominatorTree}} {
		if f.path != "" {
			if _, err := fmt.Fprintf(w, "  and its %s: %s\n", f.what, f.path); err != nil {
				return err
			}
		}
	}
	return nil
}
