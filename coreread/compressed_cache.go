package coreread

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
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
// presence means the core file beside it is complete. Everything in the
// cache is untrusted input when read back: the entry is used only if the
// core is a regular file of ours, not a link, with the size, inode and
// checksum of its first and last 64 KiB that the sidecar records.
type cacheEntry struct {
	Source     string      `json:"source"`
	Format     Compression `json:"format"`
	Size       int64       `json:"compressed_size"`
	ModTime    time.Time   `json:"compressed_mtime"`
	Bytes      int64       `json:"decompressed_bytes"`
	Incomplete string      `json:"incomplete,omitempty"` // why decompression stopped early
	Inode      uint64      `json:"core_inode"`
	Sample     string      `json:"core_sample_sha256"` // of the size and the first and last 64 KiB
}

// maxSidecar bounds the size of a sidecar read back.
const maxSidecar = 64 << 10

// prepareCacheDir makes the cache directory, private, and refuses one that
// another user could tamper with: a symlink, someone else's, or writable
// by others.
func prepareCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("cache directory %s is a symlink; pycoroner keeps decompressed cores only in a real directory of yours", dir)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("cache directory %s is not a directory", dir)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("cache directory %s belongs to uid %d, not to you (uid %d)", dir, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("cache directory %s is writable by others (mode %04o): make it private (chmod 700)", dir, st.Mode&0o7777)
	}
	return nil
}

// openOurs opens a cache file: a regular file of ours, not a symlink, with
// one link, that the open cannot block on.
func openOurs(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.Mode().IsRegular() || !ok || int(sys.Uid) != os.Geteuid() || sys.Nlink != 1 {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file of ours", path)
	}
	return f, st, nil
}

// loadEntry returns a complete, verified cache entry, opened. An entry
// that fails a check is removed (it is made again).
func loadEntry(core, meta string) (*os.File, cacheEntry, bool) {
	e, cf, err := verifiedEntry(core, meta)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			os.Remove(meta)
			os.Remove(core)
		}
		return nil, e, false
	}
	return cf, e, true
}

func verifiedEntry(core, meta string) (cacheEntry, *os.File, error) {
	var e cacheEntry
	mf, st, err := openOurs(meta)
	if err != nil {
		return e, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(mf, maxSidecar+1))
	mf.Close()
	if err != nil || st.Size() > maxSidecar || len(data) > maxSidecar {
		return e, nil, fmt.Errorf("%s: not a sidecar", meta)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, nil, err
	}
	cf, cst, err := openOurs(core)
	if err != nil {
		return e, nil, err
	}
	sample, err := coreSample(cf, cst.Size())
	if err != nil || cst.Size() != e.Bytes || cst.Sys().(*syscall.Stat_t).Ino != e.Inode || sample != e.Sample {
		cf.Close()
		return e, nil, fmt.Errorf("%s does not match its sidecar", core)
	}
	return e, cf, nil
}

// coreSample checksums a decompressed core's size and its first and last
// 64 KiB: cheap enough for every use, unlike a hash of gigabytes.
func coreSample(f *os.File, size int64) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", size)
	if err := hashEnds(h, f, size); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeEntry writes the sidecar of the decompressed core cf.
func writeEntry(meta string, cf *os.File, e *cacheEntry) error {
	st, err := cf.Stat()
	if err != nil {
		return err
	}
	e.Inode = st.Sys().(*syscall.Stat_t).Ino
	if e.Sample, err = coreSample(cf, st.Size()); err != nil {
		return err
	}
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
