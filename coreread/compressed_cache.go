package coreread

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds of the decompression cache: entries unused for cacheMaxAge are
// removed, and the least recently used ones while the cache holds more
// than cacheMaxBytes (the entry just made always stays).
const (
	cacheMaxAge   = 7 * 24 * time.Hour
	cacheMaxBytes = 32 << 30
)

// cacheEntry is the sidecar written after a decompressed core: its
// presence means the core file beside it is complete.
type cacheEntry struct {
	Source     string      `json:"source"`
	Format     Compression `json:"format"`
	Size       int64       `json:"compressed_size"`
	ModTime    time.Time   `json:"compressed_mtime"`
	Bytes      int64       `json:"decompressed_bytes"`
	Incomplete string      `json:"incomplete,omitempty"` // why decompression stopped early
}

// prepareCacheDir makes the cache directory, private.
func prepareCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	return nil
}

// loadEntry returns a complete cache entry, opened.
func loadEntry(core, meta string) (*os.File, cacheEntry, bool) {
	var e cacheEntry
	data, err := os.ReadFile(meta)
	if err != nil || json.Unmarshal(data, &e) != nil {
		return nil, e, false
	}
	f, err := os.Open(core)
	if err != nil {
		return nil, e, false
	}
	if st, err := f.Stat(); err != nil || st.Size() != e.Bytes {
		f.Close()
		return nil, e, false
	}
	return f, e, true
}

// writeEntry writes the sidecar of the decompressed core cf.
func writeEntry(meta string, cf *os.File, e *cacheEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return writeAtomic(meta, data)
}

func writeAtomic(path string, data []byte) error {
	tmp, err := createTemp(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// tempPrefix starts the name of a file being written into the cache:
// .decompress-PID-RANDOM. The writer holds an exclusive flock on it, which
// the kernel drops when the writer dies, even of SIGKILL.
const tempPrefix = ".decompress-"

// createTemp creates a temporary file in dir, named after this process
// and locked while it lives.
func createTemp(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, tempPrefix+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return f, nil
}

// staleGrace protects a temporary file between its creation and its lock.
const staleGrace = time.Minute

// removeStaleTemps removes the temporary files that killed runs left: the
// process named in the file is gone, or nobody holds its lock.
func removeStaleTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range ents {
		if !strings.HasPrefix(de.Name(), tempPrefix) && !strings.HasPrefix(de.Name(), ".entry-") {
			continue
		}
		path := filepath.Join(dir, de.Name())
		if stale(path, de.Name()) {
			os.Remove(path)
		}
	}
}

func stale(path, name string) bool {
	pidText, _, _ := strings.Cut(strings.TrimPrefix(name, tempPrefix), "-")
	if pid, err := strconv.Atoi(pidText); err == nil && pid > 0 && pid != os.Getpid() {
		if unix.Kill(pid, 0) == unix.ESRCH {
			return true
		}
	}
	info, err := os.Lstat(path)
	if err != nil || time.Since(info.ModTime()) < staleGrace {
		return false
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return info.Mode()&os.ModeSymlink != 0 // nothing of ours is a symlink
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

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
		key, ok := strings.CutSuffix(name, ".json")
		if !ok || key == keep || strings.HasPrefix(name, ".") {
			continue
		}
		var size int64
		if st, err := os.Lstat(filepath.Join(dir, key+".core")); err == nil {
			size = st.Size()
		}
		all = append(all, entry{key, info.ModTime(), size})
		total += size
	}
	if st, err := os.Lstat(filepath.Join(dir, keep+".core")); err == nil {
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

// progressReader counts the compressed bytes read and, when the caller
// gave a writer, shows how far decompression has got.
type progressReader struct {
	r         io.Reader
	out       io.Writer
	name      string
	dir       string
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
		fmt.Fprintf(p.out, "\rdecompressed %s (%s): %s into %s in %v\n", p.name, p.c, mbytes(n), p.dir, time.Since(p.start).Round(100*time.Millisecond))
	}
}

func mbytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
