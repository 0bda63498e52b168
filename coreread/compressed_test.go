package coreread

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// compress wraps data in format c.
func compress(t *testing.T, c Compression, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch c {
	case Gzip:
		w := gzip.NewWriter(&buf)
		_, err = w.Write(data)
		if err == nil {
			err = w.Close()
		}
	case XZ:
		var w *xz.Writer
		if w, err = xz.NewWriter(&buf); err == nil {
			if _, err = w.Write(data); err == nil {
				err = w.Close()
			}
		}
	case Zstd:
		var w *zstd.Encoder
		if w, err = zstd.NewWriter(&buf); err == nil {
			if _, err = w.Write(data); err == nil {
				err = w.Close()
			}
		}
	default:
		t.Fatalf("unknown compression %q", c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cacheEntries counts the complete entries in the cache directory.
func cacheEntries(t *testing.T, dir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	return len(m)
}

func TestOpenCompressed(t *testing.T) {
	mem := bytes.Repeat([]byte("pycoroner compressed core "), 2000)
	mem = append(mem, "hello\x00"...)
	raw := synthCore(t, note(ntPrstatus, prstatus(77, 0x7000)), 0x10000, mem)
	for _, c := range []Compression{Gzip, XZ, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			cache := t.TempDir()
			opts := Options{Decompress: DecompressOptions{CacheDir: cache}}
			path := filepath.Join(t.TempDir(), "core.zz")
			if err := os.WriteFile(path, compress(t, c, raw), 0o644); err != nil {
				t.Fatal(err)
			}
			for run := 0; run < 2; run++ { // the second run uses the cache
				p, err := Open(path, opts)
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				if p.Path() != path || len(p.Threads()) != 1 || p.Threads()[0].TID != 77 || p.Truncated() {
					t.Errorf("run %d: path %q, threads %+v, truncated %v", run, p.Path(), p.Threads(), p.Truncated())
				}
				if s, err := p.CString(0x10000+uint64(len(mem))-6, 16); err != nil || s != "hello" {
					t.Errorf("run %d: CString = %q, %v", run, s, err)
				}
				p.Close()
				if n := cacheEntries(t, cache); n != 1 {
					t.Errorf("run %d: %d cache entries, want 1", run, n)
				}
			}
			// A new mtime is a new file: a second entry.
			later := time.Now().Add(time.Hour)
			os.Chtimes(path, later, later)
			p, err := Open(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			p.Close()
			if n := cacheEntries(t, cache); n != 2 {
				t.Errorf("after touching the file: %d cache entries, want 2", n)
			}
		})
	}
}

// A compressed core cut short (a disk quota hit while copying it) opens as
// a truncated core, with a warning that says so.
func TestOpenCompressedTruncated(t *testing.T) {
	mem := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(mem) // incompressible: many blocks
	raw := synthCore(t, note(ntPrstatus, prstatus(5, 0)), 0x10000, mem)
	for _, c := range []Compression{Gzip, XZ, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			opts := Options{Decompress: DecompressOptions{CacheDir: t.TempDir()}}
			z := compress(t, c, raw)
			path := filepath.Join(t.TempDir(), "core.cut")
			if err := os.WriteFile(path, z[:len(z)*2/3], 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := Open(path, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer p.Close()
			if !p.Truncated() || len(p.Threads()) != 1 {
				t.Errorf("truncated %v, threads %d", p.Truncated(), len(p.Threads()))
			}
			if b, err := p.Read(0x10000, 64); err != nil || !bytes.Equal(b, mem[:64]) {
				t.Errorf("read of the start of memory: %v", err)
			}
			if !strings.Contains(strings.Join(p.Warnings(), "\n"), "data ends early") {
				t.Errorf("warnings %q do not say the compressed data ends early", p.Warnings())
			}
		})
	}
}

// xzWithDict sets the LZMA2 dictionary size code of the xz block header
// at off, with a valid header checksum.
func xzWithDict(t *testing.T, data []byte, off int, code byte) []byte {
	t.Helper()
	data = append([]byte(nil), data...)
	hsize := (int(data[off]) + 1) * 4
	h := data[off : off+hsize]
	i := bytes.Index(h, []byte{0x21, 0x01})
	if i < 0 {
		t.Fatalf("no LZMA2 filter in the block header % x", h)
	}
	h[i+2] = code
	binary.LittleEndian.PutUint32(h[hsize-4:], crc32.ChecksumIEEE(h[:hsize-4]))
	return data
}

// A dictionary too large is refused in every block, not only the first:
// here the second stream's (was: a 625 KB file took 3.3 GB and 110 s).
func TestXZEveryBlockBounded(t *testing.T) {
	mem := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{2}).Read(mem)
	raw := synthCore(t, note(ntPrstatus, prstatus(5, 0)), 0x10000, mem)
	first := compress(t, XZ, raw[:len(raw)/2])
	second := xzWithDict(t, compress(t, XZ, raw[len(raw)/2:]), 12, 39) // 3 GiB
	cache := t.TempDir()
	_, err := Open(writeTemp(t, append(first, second...)), Options{Decompress: DecompressOptions{CacheDir: cache}})
	if err == nil || !strings.Contains(err.Error(), "larger than the 256 MiB") {
		t.Fatalf("Open = %v, want the dictionary refused", err)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("the refused decompression left %d files in the cache", len(left))
	}
}

// A decompressed size beyond the limit stops the decompression and says
// how to raise the limit; a stream that is not a core is refused before
// anything is written.
func TestDecompressedSizeLimit(t *testing.T) {
	raw := synthCore(t, note(ntPrstatus, prstatus(5, 0)), 0x10000, make([]byte, 8<<20))
	path := writeTemp(t, compress(t, Zstd, raw))
	cache := t.TempDir()
	opts := Options{Decompress: DecompressOptions{CacheDir: cache, MaxBytes: 1 << 20, MaxBytesHelp: "pass --max-decompressed"}}
	_, err := Open(path, opts)
	if err == nil || !strings.Contains(err.Error(), "unpacks to more than 1048576 bytes") || !strings.Contains(err.Error(), "--max-decompressed") {
		t.Fatalf("Open = %v, want the size limit", err)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("the stopped decompression left %d files in the cache", len(left))
	}
	opts.Decompress.MaxBytes = 0 // the default: 1000 times, at least 1 GiB
	p, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open with the default limit: %v", err)
	}
	p.Close()
	zeros := writeTemp(t, compress(t, Zstd, make([]byte, 64<<20)))
	if _, err := Open(zeros, opts); err == nil || !strings.Contains(err.Error(), "not an ELF core file") {
		t.Fatalf("Open of compressed zeros = %v", err)
	}
}

func TestOpenCompressedBad(t *testing.T) {
	opts := Options{Decompress: DecompressOptions{CacheDir: t.TempDir()}}
	elfExec := synthCore(t, nil, 0x1000, nil)
	binary.LittleEndian.PutUint16(elfExec[16:], uint16(elf.ET_EXEC))
	zstdOfText := compress(t, Zstd, []byte(strings.Repeat("not a core\n", 100)))
	hugeXZ := xzWithDict(t, compress(t, XZ, []byte("x")), 12, 40) // 4 GiB
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"gzip magic, garbage", append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{0xee}, 100)...), "not a valid gzip file"},
		{"xz magic only", []byte{0xfd, '7', 'z', 'X', 'Z', 0}, "not a valid xz file"},
		{"zstd of a text file", zstdOfText, "not an ELF core file"},
		{"xz asking for 4 GiB", hugeXZ, "larger than the 256 MiB"},
		{"xz of an ELF executable", compress(t, XZ, elfExec), "not an ELF core file: it is an ELF executable"},
		{"lz4", append([]byte{0x04, 0x22, 0x4d, 0x18}, make([]byte, 32)...), "lz4-compressed"},
		{"bzip2", []byte("BZh91AY&SY"), "bzip2-compressed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Open(writeTemp(t, tc.data), opts)
			if err == nil {
				p.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

// A cache entry without its sidecar (a run killed mid-write) is never
// used, and the cache stays bounded.
func TestCacheEntryNeedsSidecar(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	opts := Options{Decompress: DecompressOptions{CacheDir: cache}}
	raw := synthCore(t, note(ntPrstatus, prstatus(9, 0)), 0x10000, make([]byte, 4096))
	path := writeTemp(t, compress(t, Gzip, raw))
	p, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	cores, _ := filepath.Glob(filepath.Join(cache, "*.core"))
	if len(cores) != 1 {
		t.Fatalf("cache holds %v", cores)
	}
	// Corrupt the cached copy and drop its sidecar: Open must redo it.
	os.WriteFile(cores[0], []byte("garbage"), 0o600)
	os.Remove(strings.TrimSuffix(cores[0], ".core") + ".json")
	p, err = Open(path, opts)
	if err != nil {
		t.Fatalf("Open after losing the sidecar: %v", err)
	}
	defer p.Close()
	if len(p.Threads()) != 1 || p.Threads()[0].TID != 9 {
		t.Errorf("threads %+v", p.Threads())
	}
	// Cores hold a process's secrets: the cache is private.
	if st, err := os.Stat(cache); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, mode %v", err, st.Mode().Perm())
	}
}

func TestEvictOldEntries(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * cacheMaxAge)
	for _, key := range []string{"old", "recent", "keep"} {
		os.WriteFile(filepath.Join(dir, key+".core"), []byte("x"), 0o600)
		os.WriteFile(filepath.Join(dir, key+".json"), []byte("{}"), 0o600)
	}
	os.WriteFile(filepath.Join(dir, ".decompress-123"), []byte("x"), 0o600) // a run killed long ago
	for _, name := range []string{"old.json", "keep.json", ".decompress-123"} {
		os.Chtimes(filepath.Join(dir, name), old, old)
	}
	evict(dir, "keep")
	removeStaleTemps(dir)
	for name, want := range map[string]bool{"old.core": false, "old.json": false, "recent.core": true, "keep.core": true, "keep.json": true, ".decompress-123": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v, want %v", name, got, want)
		}
	}
}

// The cache's files are untrusted: a planted sidecar with a core that is a
// symlink (to a secret, or to another core), a hard link, a sidecar that
// is a FIFO or /dev/zero or huge: none is used, none hangs, and the core
// is decompressed again.
func TestCacheEntriesAreVerified(t *testing.T) {
	raw := synthCore(t, note(ntPrstatus, prstatus(41, 0)), 0x10000, make([]byte, 4096))
	other := writeTemp(t, synthCore(t, note(ntPrstatus, prstatus(666, 0)), 0x10000, make([]byte, 4096)))
	path := writeTemp(t, compress(t, Gzip, raw))
	plant := map[string]func(t *testing.T, core, meta string){
		"core is a symlink to another core": func(t *testing.T, core, meta string) {
			os.Symlink(other, core)
			st, _ := os.Stat(other)
			os.WriteFile(meta, []byte(fmt.Sprintf(`{"decompressed_bytes": %d}`, st.Size())), 0o600)
		},
		"core is a symlink to a secret": func(t *testing.T, core, meta string) {
			os.Symlink("/etc/hostname", core)
			st, _ := os.Stat("/etc/hostname")
			os.WriteFile(meta, []byte(fmt.Sprintf(`{"decompressed_bytes": %d}`, st.Size())), 0o600)
		},
		"core is a hard link to another core": func(t *testing.T, core, meta string) {
			os.Link(other, core)
			st, _ := os.Stat(other)
			os.WriteFile(meta, []byte(fmt.Sprintf(`{"decompressed_bytes": %d}`, st.Size())), 0o600)
		},
		"core replaced, same size": func(t *testing.T, core, meta string) {
			data, _ := os.ReadFile(other)
			os.WriteFile(core, data, 0o600)
			st, _ := os.Stat(core)
			os.WriteFile(meta, []byte(fmt.Sprintf(`{"decompressed_bytes": %d, "core_inode": %d}`, st.Size(), st.Sys().(*syscall.Stat_t).Ino)), 0o600)
		},
		"sidecar is a FIFO": func(t *testing.T, core, meta string) {
			os.WriteFile(core, raw, 0o600)
			unix.Mkfifo(meta, 0o600)
		},
		"sidecar is /dev/zero": func(t *testing.T, core, meta string) {
			os.WriteFile(core, raw, 0o600)
			os.Symlink("/dev/zero", meta)
		},
		"sidecar is huge": func(t *testing.T, core, meta string) {
			os.WriteFile(core, raw, 0o600)
			os.WriteFile(meta, append([]byte(`{"decompressed_bytes": 1, "source": "`), bytes.Repeat([]byte("x"), 1<<20)...), 0o600)
		},
	}
	for name, fn := range plant {
		t.Run(name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "cache")
			os.Mkdir(cache, 0o700)
			f, _ := os.Open(path)
			st, _ := f.Stat()
			key, _ := cacheKey(f, st)
			f.Close()
			fn(t, filepath.Join(cache, key+".core"), filepath.Join(cache, key+".json"))
			done := make(chan struct{})
			var p *Process
			var err error
			go func() {
				defer close(done)
				p, err = Open(path, Options{Decompress: DecompressOptions{CacheDir: cache}})
			}()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("Open still blocked after a minute")
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer p.Close()
			if len(p.Threads()) != 1 || p.Threads()[0].TID != 41 {
				t.Errorf("threads %+v: the planted entry was used", p.Threads())
			}
		})
	}
}

// A cache directory another user could tamper with is refused.
func TestCacheDirRefused(t *testing.T) {
	path := writeTemp(t, compress(t, Gzip, synthCore(t, note(ntPrstatus, prstatus(1, 0)), 0x10000, make([]byte, 4096))))
	real := filepath.Join(t.TempDir(), "real")
	os.Mkdir(real, 0o700)
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(real, link)
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	for dir, want := range map[string]string{link: "is a symlink", open: "writable by others"} {
		_, err := Open(path, Options{Decompress: DecompressOptions{CacheDir: dir, CacheDirHelp: "set PYCORONER_CACHE_DIR"}})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "PYCORONER_CACHE_DIR") {
			t.Errorf("cache %s: %v, want an error saying %q and how to choose another", dir, err, want)
		}
	}
}

// `pycoroner cache` lists the decompressed cores with what they came
// from, the most recently used first, and --clear removes them, sidecar
// and all, and nothing else; a missing cache is an empty list.
func TestListAndClearDecompressed(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	if list, err := ListDecompressed(cache); err != nil || len(list) != 0 {
		t.Fatalf("missing cache: %v, %v", list, err)
	}
	opts := Options{Decompress: DecompressOptions{CacheDir: cache}}
	var sources []string
	for i, tid := range []int32{5, 6} {
		raw := synthCore(t, note(ntPrstatus, prstatus(tid, 0)), 0x10000, make([]byte, 4096*(i+1)))
		path := writeTemp(t, compress(t, Gzip, raw))
		p, err := Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		sources = append(sources, path)
		time.Sleep(10 * time.Millisecond) // distinct last-used times
	}
	os.WriteFile(filepath.Join(cache, "notes.txt"), []byte("not ours"), 0o600)
	list, err := ListDecompressed(cache)
	if err != nil || len(list) != 2 {
		t.Fatalf("list %+v, %v", list, err)
	}
	var total int64
	for i, c := range list {
		abs, _ := filepath.Abs(sources[len(sources)-1-i])
		st, err := os.Stat(c.Path)
		if c.Source != abs || err != nil || st.Size() != c.Size {
			t.Errorf("entry %d: %+v; want source %s, size of the file (%v)", i, c, abs, err)
		}
		total += c.Size
	}
	n, bytes, err := ClearDecompressed(cache)
	if err != nil || n != 2 || bytes != total {
		t.Errorf("clear: %d cores, %d bytes, %v; want 2, %d", n, bytes, err, total)
	}
	left, _ := os.ReadDir(cache)
	if len(left) != 1 || left[0].Name() != "notes.txt" {
		t.Errorf("left after clear: %v", left)
	}
}
