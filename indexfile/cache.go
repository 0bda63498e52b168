package indexfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// DefaultLimit bounds a cache's total size when the caller sets none.
const DefaultLimit = 10 << 30

// lruResolution is how stale an index's use time may be: loading an index
// marks it used only when it was last marked longer ago than this.
const lruResolution = 5 * time.Minute

// tmpPrefix starts the name of a file being written; staleTemp is the age
// after which one is taken for the leftover of a killed process.
const (
	tmpPrefix = ".tmp-"
	staleTemp = time.Hour
)

// Cache is a directory of saved indexes, one file per input and schema,
// bounded in total size: the indexes used longest ago are removed first.
// Concurrent processes may share it: a file is written under a temporary
// name and renamed into place, so a reader sees a whole file or none.
type Cache struct {
	Dir   string
	Limit int64 // bytes; 0 means DefaultLimit
}

func (c *Cache) limit() int64 {
	if c.Limit > 0 {
		return c.Limit
	}
	return DefaultLimit
}

// ErrCacheDir marks an error of the cache directory itself (not a
// directory, not ours, writable by others): no index can be loaded from
// it nor saved in it.
var ErrCacheDir = errors.New("index cache directory unusable")

type dirError struct{ err error }

func (e dirError) Error() string   { return e.err.Error() }
func (e dirError) Unwrap() []error { return []error{e.err, ErrCacheDir} }

// checkDir makes the directory if needed and refuses one another user
// could plant files in: a symlink, a directory not ours, or one writable
// by others.
func (c *Cache) checkDir(create bool) error {
	if err := c.checkDirOnce(create); err != nil {
		if errors.Is(err, os.ErrNotExist) && !create {
			return err
		}
		return dirError{err}
	}
	return nil
}

func (c *Cache) checkDirOnce(create bool) error {
	if c.Dir == "" {
		return errors.New("no index cache directory")
	}
	if create {
		if err := os.MkdirAll(c.Dir, 0o700); err != nil {
			return fmt.Errorf("index cache %s: %w", c.Dir, err)
		}
	}
	st, err := os.Lstat(c.Dir)
	if err != nil {
		return fmt.Errorf("index cache %s: %w", c.Dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("index cache %s is not a directory (a symlink is refused)", c.Dir)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("index cache %s belongs to uid %d, not to this user", c.Dir, sys.Uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("index cache %s is writable by others (%v): refused", c.Dir, st.Mode().Perm())
	}
	return nil
}

// littleEndian: the format is little-endian and arrays are used in place.
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// Load maps the index saved for key under schema. ErrNotFound when there
// is none; an *InvalidError when the file cannot be trusted (it has been
// removed, so the caller rebuilds it). Loading marks the index as used.
func (c *Cache) Load(key Key, schema Schema) (*Index, error) {
	if !littleEndian {
		return nil, ErrNotFound
	}
	if err := c.checkDir(false); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	path := filepath.Join(c.Dir, fileName(key, schema))
	x, err := open(path, key, schema)
	var inv *InvalidError
	if errors.As(err, &inv) {
		removeIndex(path)
	}
	if err != nil {
		return nil, err
	}
	// The LRU order, to lruResolution: touching the file changes its
	// change time, which voids its stamp and had every warm command write
	// the stamp again (a file created and renamed: ~2% of a warm command
	// on the 2.8 M-object core). A read-only cache keeps the old order.
	if now := time.Now(); x.opened.mtime < now.Add(-lruResolution).UnixNano() {
		os.Chtimes(path, now, now)
	}
	// The state the stamp written at Close will vouch for (this change of
	// times included).
	x.state, x.stateOK = statePath(path)
	if x.state.dev != x.opened.dev || x.state.ino != x.opened.ino || x.opened.ino == 0 {
		x.stateOK = false // another file was renamed in: no stamp
	}
	return x, nil
}

// Save writes the index of key under schema, replacing any, and then
// trims the cache to its limit. It returns the file's path. An index
// larger than the limit is not saved.
func (c *Cache) Save(key Key, schema Schema, b *Builder) (string, error) {
	if size := b.Size(); size > c.limit() {
		return "", fmt.Errorf("index of %s is larger than the cache limit of %s", humanBytes(size), humanBytes(c.limit()))
	}
	if err := c.checkDir(true); err != nil {
		return "", err
	}
	final := filepath.Join(c.Dir, fileName(key, schema))
	f, err := os.CreateTemp(c.Dir, tmpPrefix+"*"+fileSuffix)
	if err != nil {
		return "", fmt.Errorf("index cache: %w", err)
	}
	tmp := f.Name()
	// No fsync: after a crash a short or zeroed file fails its checksums
	// and is rebuilt; syncing would make every first command wait for
	// the disk.
	err = b.writeTo(f, key, schema)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		os.Remove(final + stampSuffix) // of the file this one replaces
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("saving index %s: %w", final, err)
	}
	if c.prune(final) {
		return "", fmt.Errorf("index of %s does not fit in the cache limit of %s beside the census it belongs to: not kept (raise the limit)", humanBytes(b.Size()), humanBytes(c.limit()))
	}
	return final, nil
}

// humanBytes is a size as a person reads it: 500 KiB, 1.5 MiB, 10 GiB.
func humanBytes(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0") + " " + units[i]
}

// Entry is one file of the cache.
type Entry struct {
	Path     string
	Size     int64
	LastUsed time.Time
	Kind     string // the schema's kind; "" for a file being written or unreadable
	Label    string // what it was built from; for Kind "", why it is no index ("" while being written)
}

// List lists the cache's files, the most recently used first.
func (c *Cache) List() ([]Entry, error) {
	des, err := os.ReadDir(c.Dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		// Not a regular file (a FIFO, a socket) where an index would be:
		// listed, so that Clear removes it. A directory is left alone.
		if !strings.HasSuffix(de.Name(), fileSuffix) || de.IsDir() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		e := Entry{Path: filepath.Join(c.Dir, de.Name()), Size: info.Size(), LastUsed: info.ModTime()}
		switch {
		case !de.Type().IsRegular():
			e.Label = "not a regular file"
		case !strings.HasPrefix(de.Name(), tmpPrefix):
			if h, err := readHeader(e.Path); err == nil {
				e.Kind, e.Label = h.schema.Kind, h.label
			} else {
				e.Label = "not a readable index: " + err.Error()
			}
		}
		out = append(out, e)
	}
	// Equal times (coarse timestamps) fall back on the name, so that two
	// prunes of one cache agree on its order.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastUsed.Equal(out[j].LastUsed) {
			return out[i].LastUsed.After(out[j].LastUsed)
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

func readHeader(path string) (header, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return header{}, err
	}
	defer f.Close()
	b := make([]byte, headerSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		return header{}, err
	}
	return decodeHeader(b)
}

// Clear removes every file of the cache (those being written by another
// process too: that process then saves nothing). It returns how many
// files and bytes it removed.
func (c *Cache) Clear() (files int, bytes int64, err error) {
	entries, err := c.List()
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		os.Remove(e.Path + stampSuffix)
		if rerr := os.Remove(e.Path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
			continue
		}
		files++
		bytes += e.Size
	}
	return files, bytes, err
}

// prune removes the least recently used indexes until the cache fits its
// limit (keep is never removed), and temporary files old enough to be
// leftovers.
func (c *Cache) prune(keep string) (keptRemoved bool) {
	entries, err := c.List()
	if err != nil {
		return false
	}
	// Stamps of indexes removed by a caller (os.Remove of a file it
	// found wrong) go too.
	if des, err := os.ReadDir(c.Dir); err == nil {
		for _, de := range des {
			if idx, ok := strings.CutSuffix(de.Name(), fileSuffix+stampSuffix); ok {
				if _, err := os.Lstat(filepath.Join(c.Dir, idx+fileSuffix)); errors.Is(err, os.ErrNotExist) {
					os.Remove(filepath.Join(c.Dir, de.Name()))
				}
			}
		}
	}
	// An index and its companions (a census's string table and
	// dominator tree: one key, other kinds) are kept or removed together:
	// a companion without its census is dead weight, and removing the
	// census for its own companion (the last one saved) emptied the cache
	// of what every command needs first. Groups go least recently used
	// first, keep's group last.
	keepGroup := groupOf(keep)
	var order []string
	members := map[string][]Entry{}
	for _, e := range entries {
		if strings.HasPrefix(filepath.Base(e.Path), tmpPrefix) {
			if time.Since(e.LastUsed) > staleTemp {
				os.Remove(e.Path)
			}
			continue
		}
		g := groupOf(e.Path)
		if members[g] == nil {
			order = append(order, g)
		}
		members[g] = append(members[g], e)
	}
	if i := slices.Index(order, keepGroup); i > 0 {
		order = append(append([]string{keepGroup}, order[:i]...), order[i+1:]...)
	}
	var total int64
	for _, g := range order {
		var size int64
		for _, e := range members[g] {
			size += e.Size
		}
		if total+size <= c.limit() {
			total += size
			continue
		}
		if g != keepGroup {
			for _, e := range members[g] {
				removeIndex(e.Path)
			}
			continue
		}
		// keep's own group does not fit: its companions go before its
		// census, and keep itself only when it is a companion that does
		// not fit beside its census.
		// The companion just saved goes first (a Save that does not fit
		// then says so, and the files used before it stay), then the
		// others oldest first, the census last.
		rank := func(e Entry) int {
			switch {
			case e.Path == keep && !isCensus(keep):
				return 0
			case isCensus(e.Path):
				return 2
			}
			return 1
		}
		slices.SortStableFunc(members[g], func(a, b Entry) int {
			if d := rank(a) - rank(b); d != 0 {
				return d
			}
			return a.LastUsed.Compare(b.LastUsed)
		})
		for _, e := range members[g] {
			if size <= c.limit() {
				break
			}
			if e.Path == keep && isCensus(keep) {
				continue
			}
			removeIndex(e.Path)
			size -= e.Size
			if e.Path == keep {
				keptRemoved = true
			}
		}
		total += size
	}
	return keptRemoved
}

// groupOf is what an index file shares with its companions: its name
// after the kind (census-HASH.pycidx, strings-HASH.pycidx).
func groupOf(path string) string {
	base := filepath.Base(path)
	if i := strings.LastIndexByte(base, '-'); i >= 0 {
		return base[i+1:] // the hash holds no '-'; a kind might
	}
	return base
}

func isCensus(path string) bool { return strings.HasPrefix(filepath.Base(path), "census-") }
