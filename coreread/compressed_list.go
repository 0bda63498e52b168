package coreread

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DecompressedCore is one core decompressed into the cache
// (Decompressed), as `pycoroner cache` lists it.
type DecompressedCore struct {
	Path     string
	Size     int64
	LastUsed time.Time // its sidecar's modification time: it is touched on every use
	Source   string    // the compressed file it came from, as a path then; "" when its sidecar is unreadable
}

// ListDecompressed lists the cores decompressed into dir, the most
// recently used first; none when dir does not exist. The sidecars are
// read as the untrusted files they are: only for the source's name.
func ListDecompressed(dir string) ([]DecompressedCore, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []DecompressedCore
	for _, de := range ents {
		key, ok := strings.CutSuffix(de.Name(), ".core")
		if !ok || strings.HasPrefix(key, ".") {
			continue
		}
		core := filepath.Join(dir, de.Name())
		st, err := os.Lstat(core)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		c := DecompressedCore{Path: core, Size: st.Size(), LastUsed: st.ModTime()}
		if mf, mst, err := openOurs(filepath.Join(dir, key+".json")); err == nil {
			var e cacheEntry
			data, _ := io.ReadAll(io.LimitReader(mf, maxSidecar))
			mf.Close()
			if json.Unmarshal(data, &e) == nil {
				c.Source = e.Source
			}
			c.LastUsed = mst.ModTime()
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.After(out[j].LastUsed) })
	return out, nil
}

// ClearDecompressed removes every core decompressed into dir, each
// sidecar before its core (a core without its sidecar is never used), and
// the temporary files of decompressions that did not finish. It returns
// how many cores it removed and their bytes. A process reading one of
// them keeps its open file.
func ClearDecompressed(dir string) (cores int, bytes int64, err error) {
	list, err := ListDecompressed(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, c := range list {
		key := strings.TrimSuffix(c.Path, ".core")
		if err := os.Remove(key + ".json"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return cores, bytes, err
		}
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return cores, bytes, err
		}
		cores++
		bytes += c.Size
	}
	removeStaleTemps(dir)
	return cores, bytes, nil
}
