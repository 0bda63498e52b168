package coreread

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/therootcompany/xz"
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

// DecompressOptions says where and how much a compressed core may be
// unpacked. coreread reads no environment and asks nothing of the
// terminal: the caller decides all of this.
type DecompressOptions struct {
	// CacheDir keeps the decompressed cores; "" refuses compressed cores.
	// It must be a directory of ours that nobody else can write.
	CacheDir string
	// CacheDirHelp tells, in messages, how the user picks another cache
	// directory ("set PYCORONER_CACHE_DIR").
	CacheDirHelp string
	// Progress receives a progress line while decompressing (nil: none).
	Progress io.Writer
	// MaxBytes caps the decompressed size; 0 means DefaultMaxRatio times
	// the compressed size, and never less than DefaultMinMaxBytes.
	MaxBytes int64
	// MaxBytesHelp tells, in messages, how the user raises MaxBytes
	// ("pass --max-decompressed").
	MaxBytesHelp string
	// Interrupt, when closed, stops a decompression under way; its
	// temporary file is removed.
	Interrupt <-chan struct{}
}

// Bounds of decompression. A core is mostly anonymous memory that
// compresses well, but not by more than a few hundred times except for
// zero pages, which the kernel leaves out of a core (holes).
const (
	DefaultMaxRatio    = 1000
	DefaultMinMaxBytes = 1 << 30
)

// maxWindow caps the dictionary (xz, every block) or window (zstd) a
// compressed core may ask for: it is allocated before any data is read.
// xz -9 uses 64 MiB and zstd --long=27 128 MiB.
const maxWindow = 256 << 20

// diskMargin is left free on the cache's file system when decompressing.
const diskMargin = 256 << 20

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

// LooksLikeCore says whether the file at path starts as a core does: an
// ELF core file, or a container pycoroner decompresses (gzip, xz, zstd).
// For messages that guess what the user meant; opening it says the rest.
func LooksLikeCore(path string) bool {
	f, err := OpenRegular(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [64]byte
	n, _ := f.ReadAt(head[:], 0)
	if c, err := sniff(f, path); err == nil && c != NotCompressed {
		return true
	}
	return checkCoreHeader(head[:n]) == nil
}

// cacheKey names a compressed file's cache entry by its size, its mtime and
// a hash of its first and last 64 KiB, so that two files that merely share
// a size and an mtime never share an entry.
func cacheKey(f *os.File, st os.FileInfo) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%d %d\n", st.Size(), st.ModTime().UnixNano())
	if err := hashEnds(h, f, st.Size()); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// hashEnds hashes the first and last 64 KiB of a file of size bytes.
func hashEnds(h io.Writer, f *os.File, size int64) error {
	buf := make([]byte, 64<<10)
	for _, off := range []int64{0, max(size-int64(len(buf)), 0)} {
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", f.Name(), err)
		}
		h.Write(buf[:n])
	}
	return nil
}

// Decompressed returns the path of the decompressed copy of the file at
// path, making it in the cache on first use as Open does, or path itself
// when the file is not compressed. It works on any file, not only cores
// (tests unpack compressed binaries with it).
func Decompressed(path string, opts DecompressOptions) (string, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	c, err := sniff(f, path)
	if err != nil || c == NotCompressed {
		return path, err
	}
	cached, e, err := decompressed(f, path, c, opts, false)
	if err != nil {
		return "", err
	}
	cached.Close()
	if e.Incomplete != "" {
		return "", fmt.Errorf("%s: the %s data ends early (%s)", path, c, e.Incomplete)
	}
	return cached.Name(), nil
}

// openCompressed decompresses the core once into the cache, then opens the
// decompressed copy. path stays the name every message uses.
func openCompressed(f *os.File, path string, c Compression, opts Options) (*Process, error) {
	cf, entry, err := decompressed(f, path, c, opts.Decompress, true)
	f.Close()
	if err != nil {
		return nil, err
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

// decompressed returns the cached decompressed copy of f, opened, making
// it first when it is not there yet. wantCore refuses a stream that does
// not start with an ELF core header before anything is written.
func decompressed(f *os.File, path string, c Compression, opts DecompressOptions, wantCore bool) (*os.File, cacheEntry, error) {
	if opts.CacheDir == "" {
		return nil, cacheEntry{}, fmt.Errorf("%s is %s-compressed and no cache directory was given to decompress it into; decompress it first", path, c)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, cacheEntry{}, fmt.Errorf("stat %s: %w", path, err)
	}
	key, err := cacheKey(f, st)
	if err != nil {
		return nil, cacheEntry{}, err
	}
	dir := opts.CacheDir
	if err := prepareCacheDir(dir); err != nil {
		return nil, cacheEntry{}, fmt.Errorf("decompress %s: %w%s", path, err, helpSuffix(opts.CacheDirHelp))
	}
	removeStaleTemps(dir)
	core, meta := filepath.Join(dir, key+".core"), filepath.Join(dir, key+".json")
	if cf, e, ok := loadEntry(core, meta); ok {
		now := time.Now()
		os.Chtimes(meta, now, now) // most recently used: evicted last
		return cf, e, nil
	}
	abs, _ := filepath.Abs(path)
	e := cacheEntry{Source: abs, Format: c, Size: st.Size(), ModTime: st.ModTime()}
	cf, err := decompressTo(f, st.Size(), path, c, opts, core, &e, wantCore)
	if err != nil {
		return nil, cacheEntry{}, err
	}
	if err := writeEntry(meta, cf, &e); err != nil {
		cf.Close()
		return nil, cacheEntry{}, fmt.Errorf("decompress %s: %w", path, err)
	}
	evict(dir, key)
	return cf, e, nil
}

func helpSuffix(help string) string {
	if help == "" {
		return ""
	}
	return " (" + help + ")"
}

// maxBytes is the decompressed size allowed for a compressed file of size
// bytes.
func (o DecompressOptions) maxBytes(size int64) int64 {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	if size > (1<<62)/DefaultMaxRatio {
		return 1 << 62
	}
	return max(size*DefaultMaxRatio, DefaultMinMaxBytes)
}

// Errors that stop a decompression.
var (
	errNoSpace     = errors.New("not enough disk space")
	errTooBig      = errors.New("decompressed size limit reached")
	errInterrupted = errors.New("interrupted")
)

// decompressTo writes the decompressed core to dst through a temporary
// file and returns dst opened. A stream that ends early or is corrupt
// keeps what came before (a truncated core still says a lot); a write
// error, an interruption or a limit removes everything.
func decompressTo(f *os.File, size int64, path string, c Compression, opts DecompressOptions, dst string, e *cacheEntry, wantCore bool) (*os.File, error) {
	dir := filepath.Dir(dst)
	var fs unix.Statfs_t
	budget := int64(1) << 62
	if unix.Statfs(dir, &fs) == nil {
		budget = int64(fs.Bavail)*int64(fs.Bsize) - diskMargin
	}
	limit := opts.maxBytes(size)
	src := &progressReader{r: f, total: size, name: filepath.Base(path), c: c, start: time.Now(), out: opts.Progress, dir: dir}
	r, closeR, err := decompressor(bufio.NewReaderSize(src, 1<<20), c)
	if err != nil {
		if fatal := decodeError(err); fatal != "" {
			return nil, fmt.Errorf("%s: %s", path, fatal)
		}
		return nil, fmt.Errorf("%s is not a valid %s file: %v", path, c, oneLine(err))
	}
	defer closeR()
	head := make([]byte, 64)
	hn, herr := io.ReadFull(r, head)
	head = head[:hn]
	if errors.Is(herr, io.ErrUnexpectedEOF) {
		herr = io.EOF // a stream of fewer than 64 bytes
	}
	if wantCore {
		if err := checkCoreHeader(head); err != nil {
			if herr != nil && !errors.Is(herr, io.EOF) {
				if fatal := decodeError(herr); fatal != "" {
					return nil, fmt.Errorf("%s: %s", path, fatal)
				}
				return nil, fmt.Errorf("%s is not a valid %s file: %v", path, c, oneLine(herr))
			}
			return nil, fmt.Errorf("%s is %s-compressed, but not an ELF core file: %v", path, c, err)
		}
	}
	tmp, err := createTemp(dir)
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", path, err)
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := &limitedWriter{w: tmp, budget: min(budget, limit), disk: budget < limit, stop: opts.Interrupt}
	n, copyErr := int64(0), herr
	if _, err := w.Write(head); err == nil && herr == nil {
		var m int64
		m, copyErr = io.Copy(w, r)
		n = m
	}
	n += int64(len(head))
	if w.err != nil {
		n = w.n
	}
	src.finish(n)
	switch {
	case errors.Is(w.err, errNoSpace):
		return nil, fmt.Errorf("decompress %s: not enough free space in %s after %d bytes%s", path, dir, n, helpSuffix(opts.CacheDirHelp))
	case errors.Is(w.err, errTooBig):
		return nil, fmt.Errorf("decompress %s: it unpacks to more than %d bytes (%d times its compressed size), the limit for a core%s", path, limit, limit/max(size, 1), helpSuffix(opts.MaxBytesHelp))
	case errors.Is(w.err, errInterrupted):
		return nil, fmt.Errorf("decompress %s: %w", path, errInterrupted)
	case w.err != nil:
		return nil, fmt.Errorf("decompress %s into %s: %w", path, dir, w.err)
	}
	if copyErr != nil && !errors.Is(copyErr, io.EOF) {
		if fatal := decodeError(copyErr); fatal != "" {
			return nil, fmt.Errorf("%s: %s", path, fatal)
		}
		if n < 64 {
			return nil, fmt.Errorf("%s is not a valid %s file: %v", path, c, oneLine(copyErr))
		}
		e.Incomplete = oneLine(copyErr)
	}
	e.Bytes = n
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("decompress %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return nil, fmt.Errorf("decompress %s: %w", path, err)
	}
	tmp.Close()
	tmp = nil
	out, _, err := openOurs(dst) // named dst, for Decompressed's callers
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %w", path, err)
	}
	return out, nil
}

// decodeError names the decoder errors that are refusals, not damage: a
// dictionary or window too large. "" for the others.
func decodeError(err error) string {
	switch {
	case errors.Is(err, xz.ErrMemlimit):
		return fmt.Sprintf("an xz block asks for a dictionary larger than the %d MiB pycoroner allows (decompress it with xz -d)", maxWindow>>20)
	case errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return fmt.Sprintf("its zstd window is larger than the %d MiB pycoroner allows (decompress it with zstd -d --long=31)", maxWindow>>20)
	}
	return ""
}

// checkCoreHeader checks that the first bytes of a decompressed stream are
// an x86-64 ELF core's header, before gigabytes are written.
func checkCoreHeader(head []byte) error {
	switch {
	case len(head) < 4 || !bytes.Equal(head[:4], []byte(elf.ELFMAG)):
		return fmt.Errorf("it starts with %q", printable(head[:min(len(head), 4)]))
	case len(head) < 64:
		return fmt.Errorf("it holds %d bytes, less than an ELF header", len(head))
	case elf.Type(uint16(head[16])|uint16(head[17])<<8) != elf.ET_CORE:
		return fmt.Errorf("it is an ELF %s", typeName(elf.Type(uint16(head[16])|uint16(head[17])<<8)))
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
		// This decoder checks every block's dictionary against the cap
		// before it allocates it (ulikunitz/xz takes the largest of the
		// cap and what the block asks for).
		zr, err := xz.NewReader(r, maxWindow)
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

// limitedWriter writes at most budget bytes, stops when told to, and keeps
// the first error.
type limitedWriter struct {
	w      io.Writer
	budget int64
	disk   bool // the budget is the disk's free space, not the size limit
	stop   <-chan struct{}
	n      int64
	err    error
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	select {
	case <-l.stop:
		l.err = errInterrupted
		return 0, l.err
	default:
	}
	if l.n+int64(len(b)) > l.budget {
		l.err = errTooBig
		if l.disk {
			l.err = errNoSpace
		}
		return 0, l.err
	}
	n, err := l.w.Write(b)
	l.n += int64(n)
	if err != nil {
		l.err = err
	}
	return n, err
}

func oneLine(err error) string {
	return string(bytes.ReplaceAll([]byte(err.Error()), []byte("\n"), []byte("; ")))
}
