package coreread

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"
)

// Bounds of the decompression cache: entries unused for cacheMaxAge are
// removed, and the least recently used ones while the cache holds more
// than cacheMaxBytes (the entry just made always stays).
const (
	cacheMaxAge   = 7 * 24 * time.Hour
	cacheMaxBytes = 32 << 30
	staleTemp     = 24 * time.Hour // a temporary file left by a killed run
)

// evict trims the cache directory after keep was added.
func evict(dir, keep string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		key  string
		used time.Time
		size int64
	}
	var all []entry
	var total int64
	now := time.Now()
	for _, de := range ents {
		name := de.Name()
		info, err := de.Info()
		if err != nil {
			continue
		}
		if strings.HasPrefix(name, ".decompress-") || strings.HasPrefix(name, ".entry-") {
			if now.Sub(info.ModTime()) > staleTemp {
				os.Remove(filepath.Join(dir, name))
			}
			continue
		}
		key, ok := strings.CutSuffix(name, ".json")
		if !ok || key == keep {
			continue
		}
		var size int64
		if st, err := os.Stat(filepath.Join(dir, key+".core")); err == nil {
			size = st.Size()
		}
		all = append(all, entry{key, info.ModTime(), size})
		total += size
	}
	if st, err := os.Stat(filepath.Join(dir, keep+".core")); err == nil {
		total += st.Size()
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used.Before(all[j].used) })
	for _, e := range all {
		if now.Sub(e.used) < cacheMaxAge && total <= cacheMaxBytes {
			break
		}
		// The sidecar goes first: without it the core is never used.
		os.Remove(filepath.Join(dir, e.key+".json"))
		os.Remove(filepath.Join(dir, e.key+".core"))
		total -= e.size
	}
}

// terminal returns f as a writer when it is a terminal, else nil.
func terminal(f *os.File) io.Writer {
	if f == nil || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// progressReader counts the compressed bytes read and, on a terminal,
// shows how far decompression has got.
type progressReader struct {
	r         io.Reader
	out       io.Writer
	name      string
	c         Compression
	total     int64
	done      int64
	start     time.Time
	lastShown time.Time
	shown     bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.out != nil && time.Since(p.lastShown) > 200*time.Millisecond && time.Since(p.start) > 500*time.Millisecond {
		p.lastShown, p.shown = time.Now(), true
		fmt.Fprintf(p.out, "\rdecompressing %s (%s): %3d%% of %s", p.name, p.c, p.done*100/max(p.total, 1), mbytes(p.total))
	}
	return n, err
}

// finish ends the progress line once n bytes of core were written.
func (p *progressReader) finish(n int64) {
	if p.out != nil && p.shown {
		fmt.Fprintf(p.out, "\rdecompressed %s (%s): %s into %s in %v\n", p.name, p.c, mbytes(n), DecompressCacheDir(), time.Since(p.start).Round(100*time.Millisecond))
	}
}

func mbytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
