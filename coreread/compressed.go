package coreread

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// Compression names the container a core file is wrapped in.
type Compression string

// The containers Open unwraps transparently.
const (
	NotCompressed Compression = ""
	Gzip          Compression = "gzip"
	XZ            Compression = "xz"
	Zstd          Compression = "zstd"
)

// CacheDirEnv names the environment variable that overrides where
// decompressed cores are kept (DecompressCacheDir).
const CacheDirEnv = "PYCORONER_CACHE_DIR"

// maxWindow caps the dictionary (xz) or window (zstd) a compressed core may
// ask for: it is allocated before any data is read. xz -9 uses 64 MiB and
// zstd --long=27 128 MiB.
const maxWindow = 512 << 20

// diskMargin is left free on the cache's file system when decompressing.
const diskMargin = 256 << 20

// ProgressOutput receives the decompression progress when it is a terminal
// (nil: never). Tests and library users may replace it.
var ProgressOutput = os.Stderr

var magics = []struct {
	magic []byte
	c     Compression
	name  string // for formats that are recognised but not supported
}{
	{[]byte{0x1f, 0x8b}, Gzip, ""},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, XZ, ""},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd, ""},
	{[]byte{0x04, 0x22, 0x4d, 0x18}, "", "lz4"},
	{[]byte("BZh"), "", "bzip2"},
}

// sniff says which container the file starts with.
func sniff(f *os.File, path string) (Compression, error) {
	var head [8]byte
	n, _ := f.ReadAt(head[:], 0)
	for _, m := range magics {
		if n >= len(m.magic) && bytes.Equal(head[:len(m.magic)], m.magic) {
			if m.name != "" {
				return "", fmt.Errorf("%s is %s-compressed, which pycoroner does not read; decompress it first (%s -d)", path, m.name, m.name)
			}
			return m.c, nil
		}
	}
	return NotCompressed, nil
}

// DecompressCacheDir is where decompressed cores are kept:
// $PYCORONER_CACHE_DIR, else pycoroner/cores under the user's cache
// directory, else under the temporary directory.
func DecompressCacheDir() string {
	if d := os.Getenv(CacheDirEnv); d != "" {
		return d
	}
	if base, err := os.UserCacheDir(); err == nil {
		return filepath.Join(base, "pycoroner", "cores")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("pycoroner-cores-%d", os.Getuid()))
}

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

// cacheKey names a compressed file's cache entry by its size, its mtime and
// a hash of its first and last 64 KiB, so that two files that merely share
// a size and an mtime never share an entry.
func cacheKey(f *os.File, st os.FileInfo) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%d %d\n", st.Size(), st.ModTime().UnixNano())
	buf := make([]byte, 64<<10)
	for _, off := range []int64{0, max(st.Size()-int64(len(buf)), 0)} {
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read %s: %w", f.Name(), err)
		}
		h.Write(buf[:n])
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// Decompressed returns the path of the decompressed copy of the file at
// path, making it in DecompressCacheDir on first use as Open does, or path
// itself when the file is not compressed. It works on any file, not only
// cores (tests unpack compressed binaries with it).
func Decompressed(path string) (string, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	c, err := sniff(f, path)
	if err != nil || c == NotCompressed {
		return path, err
	}
	cached, e, err := decompressed(f, path, c)
	if err == nil && e.Incomplete != "" {
		err = fmt.Errorf("%s: the %s data ends early (%s)", path, c, e.Incomplete)
	}
	return cached, err
}

// openCompressed decompresses the core once into the cache, then opens the
// decompressed copy. path stays the name every message uses.
func openCompressed(f *os.File, path string, c Compression, opts Options) (*Process, error) {
	cached, entry, err := decompressed(f, path, c)
	f.Close()
	if err != nil {
		return nil, err
	}
	cf, err := os.Open(cached)
	if err != nil {
		return nil, fmt.Errorf("open decompressed copy of %s: %w", path, err)
	}
	p, err := open(cf, path, opts)
	if err != nil {
		cf.Close()
		return nil, err
	}
	if entry.Incomplete != "" {
		p.warn("%s: the %s data ends early (%s) after %d bytes of core: it is read as a truncated core", path, c, entry.Incomplete, entry.Bytes)
	}
	return p, nil
}

// decompressed returns the cached decompressed copy of f, making it first
// when it is not there yet.
func decompressed(f *os.File, path string, c Compression) (string, cacheEntry, error) {
	st, err := f.Stat()
	if err != nil {
		return "", cacheEntry{}, fmt.Errorf("stat %s: %w", path, err)
	}
	key, err := cacheKey(f, st)
	if err != nil {
		return "", cacheEntry{}, err
	}
	dir := DecompressCacheDir()
	core, meta := filepath.Join(dir, key+".core"), filepath.Join(dir, key+".json")
	if e, ok := loadEntry(core, meta); ok {
		now := time.Now()
		os.Chtimes(meta, now, now) // most recently used: evicted last
		return core, e, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", cacheEntry{}, fmt.Errorf("decompress %s: cache directory: %w (set %s)", path, err, CacheDirEnv)
	}
	abs, _ := filepath.Abs(path)
	e := cacheEntry{Source: abs, Format: c, Size: st.Size(), ModTime: st.ModTime()}
	if err := decompressTo(f, st.Size(), path, c, dir, core, &e); err != nil {
		return "", cacheEntry{}, err
	}
	data, _ := json.Marshal(e)
	if err := writeAtomic(meta, data); err != nil {
		return "", cacheEntry{}, fmt.Errorf("decompress %s: %w", path, err)
	}
	evict(dir, key)
	return core, e, nil
}

// loadEntry returns a complete cache entry.
func loadEntry(core, meta string) (cacheEntry, bool) {
	var e cacheEntry
	data, err := os.ReadFile(meta)
	if err != nil || json.Unmarshal(data, &e) != nil {
		return e, false
	}
	st, err := os.Stat(core)
	return e, err == nil && st.Size() == e.Bytes
}

// decompressTo writes the decompressed core to dst through a temporary
// file. A stream that ends early or is corrupt keeps what came before (a
// truncated core still says a lot); a write error removes everything.
func decompressTo(f *os.File, size int64, path string, c Compression, dir, dst string, e *cacheEntry) error {
	var fs unix.Statfs_t
	budget := int64(1) << 62
	if unix.Statfs(dir, &fs) == nil {
		budget = int64(fs.Bavail)*int64(fs.Bsize) - diskMargin
	}
	src := &progressReader{r: f, total: size, name: filepath.Base(path), c: c, start: time.Now()}
	src.out = terminal(ProgressOutput)
	r, closeR, err := decompressor(bufio.NewReaderSize(src, 1<<20), c)
	if err != nil {
		return fmt.Errorf("%s is not a valid %s file: %v", path, c, oneLine(err))
	}
	defer closeR()
	tmp, err := os.CreateTemp(dir, ".decompress-*")
	if err != nil {
		return fmt.Errorf("decompress %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	w := &limitedWriter{w: tmp, budget: budget}
	n, copyErr := io.Copy(w, r)
	src.finish(n)
	if w.err != nil {
		tmp.Close()
		if errors.Is(w.err, errNoSpace) {
			return fmt.Errorf("decompress %s: not enough free space in %s after %d bytes (set %s to a larger disk)", path, dir, n, CacheDirEnv)
		}
		return fmt.Errorf("decompress %s into %s: %w", path, dir, w.err)
	}
	if copyErr != nil {
		if n < 64 {
			tmp.Close()
			return fmt.Errorf("%s is not a valid %s file: %v", path, c, oneLine(copyErr))
		}
		e.Incomplete = oneLine(copyErr)
	}
	e.Bytes = n
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("decompress %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("decompress %s: %w", path, err)
	}
	return nil
}

// decompressor wraps r in the reader for c.
func decompressor(r io.Reader, c Compression) (io.Reader, func(), error) {
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case XZ:
		br := bufio.NewReaderSize(r, 1<<16)
		if err := checkXZDict(br); err != nil {
			return nil, nil, err
		}
		zr, err := xz.ReaderConfig{DictCap: 8 << 20}.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() {}, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown compression %q", c)
}

// checkXZDict refuses an xz stream whose first block asks for a dictionary
// larger than maxWindow, before the decoder allocates it.
// Stream header (12 bytes), then the block header: size byte, flags,
// optional sizes (varints), filter flags (id, properties size, properties).
func checkXZDict(br *bufio.Reader) error {
	head, _ := br.Peek(12 + 1024)
	if len(head) < 14 {
		return nil // the decoder reports what is wrong
	}
	b := head[12:]
	hsize := (int(b[0]) + 1) * 4
	if b[0] == 0 || hsize > len(b) {
		return nil
	}
	flags, i := b[1], 2
	varint := func() (uint64, bool) {
		var v uint64
		for s := 0; s < 63 && i < hsize; s += 7 {
			c := b[i]
			i++
			v |= uint64(c&0x7f) << s
			if c < 0x80 {
				return v, true
			}
		}
		return 0, false
	}
	if flags&0x40 != 0 {
		varint()
	}
	if flags&0x80 != 0 {
		varint()
	}
	nfilters := int(flags&3) + 1
	for k := 0; k < nfilters; k++ {
		id, ok1 := varint()
		psize, ok2 := varint()
		if !ok1 || !ok2 || i+int(psize) > hsize {
			return nil
		}
		if id == 0x21 && psize == 1 { // LZMA2: dictionary size from one byte
			d := b[i] & 0x3f
			if d > 40 {
				return fmt.Errorf("bad LZMA2 dictionary size code %d", d)
			}
			dict := uint64(2|d&1) << (d/2 + 11)
			if dict > maxWindow {
				return fmt.Errorf("its dictionary of %d MiB is more than the %d MiB pycoroner allows (decompress it with xz -d)", dict>>20, maxWindow>>20)
			}
		}
		i += int(psize)
	}
	return nil
}

// errNoSpace stops a decompression that would fill the disk.
var errNoSpace = errors.New("not enough disk space")

// limitedWriter writes at most budget bytes and keeps the first error.
type limitedWriter struct {
	w      io.Writer
	budget int64
	n      int64
	err    error
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.n+int64(len(b)) > l.budget {
		l.err = errNoSpace
		return 0, l.err
	}
	n, err := l.w.Write(b)
	l.n += int64(n)
	if err != nil {
		l.err = err
	}
	return n, err
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".entry-*")
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

func oneLine(err error) string {
	return string(bytes.ReplaceAll([]byte(err.Error()), []byte("\n"), []byte("; ")))
}
