package indexfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var testSchema = Schema{Kind: "census", Version: 3}

func testKey(n int) Key {
	k := Key{Size: 1000 + int64(n), MTime: 1700000000000000000}
	k.Hash[0] = byte(n)
	return k
}

type objectID int32

// testBuilder builds an index with arrays of every type, one spanning
// several checksum blocks.
func testBuilder() (*Builder, []uint64) {
	b := NewBuilder("core.123 (/tmp/x)")
	big := make([]uint64, 3*blockSize/8+17)
	for i := range big {
		big[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	Add(b, "addrs", big)
	Add(b, "ids", []objectID{-1, 0, 7, 1 << 30})
	Add(b, "offs", []uint32{0, 3, 3, 9})
	Add(b, "sizes", []int64{-5, 1 << 40})
	Add(b, "names", []byte("hello"))
	Add(b, "empty", []uint32{})
	return b, big
}

func save(t *testing.T, c *Cache, key Key) string {
	t.Helper()
	b, _ := testBuilder()
	path, err := c.Save(key, testSchema, b)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRoundTrip(t *testing.T) {
	c := &Cache{Dir: filepath.Join(t.TempDir(), "index")}
	b, big := testBuilder()
	path, err := c.Save(testKey(1), testSchema, b)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != b.Size() {
		t.Fatalf("saved %v (%v), builder said %d bytes", st, err, b.Size())
	}
	x, err := c.Load(testKey(1), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if x.Label() != "core.123 (/tmp/x)" {
		t.Errorf("label %q", x.Label())
	}
	addrs, err := Get[uint64](x, "addrs")
	if err != nil || len(addrs) != len(big) {
		t.Fatalf("addrs: %d, %v", len(addrs), err)
	}
	for i := range big {
		if addrs[i] != big[i] {
			t.Fatalf("addrs[%d] = %x, want %x", i, addrs[i], big[i])
		}
	}
	// Evicted from the process, the pages come back from the file: the
	// slices handed out stay valid.
	x.Evict()
	for i := range big {
		if addrs[i] != big[i] {
			t.Fatalf("after Evict, addrs[%d] = %x, want %x", i, addrs[i], big[i])
		}
	}
	ids, err := Get[objectID](x, "ids")
	if err != nil || fmt.Sprint(ids) != "[-1 0 7 1073741824]" {
		t.Errorf("ids %v %v", ids, err)
	}
	sizes, err := Get[int64](x, "sizes")
	if err != nil || fmt.Sprint(sizes) != "[-5 1099511627776]" {
		t.Errorf("sizes %v %v", sizes, err)
	}
	names, err := Get[byte](x, "names")
	if err != nil || string(names) != "hello" {
		t.Errorf("names %q %v", names, err)
	}
	if e, err := Get[uint32](x, "empty"); err != nil || len(e) != 0 {
		t.Errorf("empty %v %v", e, err)
	}
	// The wrong type or a missing name is an error, not a reinterpretation.
	if _, err := Get[uint32](x, "addrs"); err == nil {
		t.Error("addrs read as uint32")
	}
	if _, err := Get[uint32](x, "nothing"); err == nil {
		t.Error("a missing array read")
	}
	if _, err := c.Load(testKey(2), testSchema); !errors.Is(err, ErrNotFound) {
		t.Errorf("another key: %v, want ErrNotFound", err)
	}
}

// patchHeader rewrites part of a saved header and its checksum, as a
// file written by another version would have it.
func patchHeader(t *testing.T, path string, patch func(h []byte)) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	patch(data[:headerSize])
	binary.LittleEndian.PutUint32(data[headerSize-4:], crc32.ChecksumIEEE(data[:headerSize-4]))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedIndexIsInvalidAndRemoved(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, c *Cache, path string)
		at     string // "load", or the array whose Get fails
		reason string
	}{
		{"truncated in an array", func(t *testing.T, c *Cache, path string) {
			st, _ := os.Stat(path)
			os.Truncate(path, st.Size()-5000)
		}, "load", "truncated"},
		{"truncated in the header", func(t *testing.T, c *Cache, path string) {
			os.Truncate(path, 100)
		}, "load", "truncated"},
		{"empty file", func(t *testing.T, c *Cache, path string) {
			os.Truncate(path, 0)
		}, "load", "truncated"},
		{"bit flipped in an array", func(t *testing.T, c *Cache, path string) {
			flip(t, path, 4096+2*blockSize+12345)
		}, "addrs", "checksum mismatch in block 2"},
		{"bit flipped in the header", func(t *testing.T, c *Cache, path string) {
			flip(t, path, 41)
		}, "load", "header checksum"},
		{"bit flipped in the section table", func(t *testing.T, c *Cache, path string) {
			flip(t, path, headerSize+40)
		}, "load", "section table checksum"},
		{"foreign format version", func(t *testing.T, c *Cache, path string) {
			patchHeader(t, path, func(h []byte) { binary.LittleEndian.PutUint32(h[8:], FormatVersion+1) })
		}, "load", "index format 2"},
		{"foreign schema version", func(t *testing.T, c *Cache, path string) {
			patchHeader(t, path, func(h []byte) { binary.LittleEndian.PutUint32(h[12:], testSchema.Version+1) })
		}, "load", "census version 4"},
		{"stale: built from another core", func(t *testing.T, c *Cache, path string) {
			// The index of core 2 under core 1's name, as if core 1 had
			// been rewritten and its name reused.
			other := save(t, c, testKey(2))
			os.Rename(other, path)
		}, "load", "stale"},
		{"not magic", func(t *testing.T, c *Cache, path string) {
			os.WriteFile(path, make([]byte, 8192), 0o600)
		}, "load", "bad magic"},
		{"symlink", func(t *testing.T, c *Cache, path string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			os.Rename(path, target)
			os.Symlink(target, path)
		}, "load", "symbolic link"},
	}
	for _, tt := range tests {
		for _, stamped := range []bool{false, true} {
			name := tt.name
			if stamped {
				name += " after a verified load"
			}
			t.Run(name, func(t *testing.T) {
				c := &Cache{Dir: filepath.Join(t.TempDir(), "index")}
				path := save(t, c, testKey(1))
				if stamped {
					// A command verified every array and left a stamp:
					// damage after it must still be found.
					verifiedLoad(t, c, testKey(1))
				}
				tt.damage(t, c, path)
				testDamageFound(t, c, path, tt.at, tt.reason)
			})
		}
	}
}

// verifiedLoad loads the index of key, reads every array and closes it,
// and checks that it left a stamp.
func verifiedLoad(t *testing.T, c *Cache, key Key) {
	t.Helper()
	x, err := c.Load(key, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	for name := range x.entries {
		if err := x.Verify(name); err != nil {
			t.Fatal(err)
		}
	}
	x.Close()
	if _, err := os.Stat(x.Path() + stampSuffix); err != nil {
		t.Fatalf("no stamp after a verified load: %v", err)
	}
}

func testDamageFound(t *testing.T, c *Cache, path, at, reason string) {
	t.Helper()
	x, err := c.Load(testKey(1), testSchema)
	if at != "load" {
		if err != nil {
			t.Fatalf("load: %v (the damage is in an array, found when it is read)", err)
		}
		_, err = Get[uint64](x, at)
		x.Close()
	}
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("err = %v, want an InvalidError", err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("err = %v, want it to say %q", err, reason)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the invalid file is still there (%v): it would be tried again", err)
	}
	// Rebuilt: the next save and load work.
	save(t, c, testKey(1))
	x, err = c.Load(testKey(1), testSchema)
	if err != nil {
		t.Fatalf("after rebuilding: %v", err)
	}
	if _, err := Get[uint64](x, "addrs"); err != nil {
		t.Errorf("after rebuilding: %v", err)
	}
	x.Close()
}

// TestStampSkipsVerifying: arrays verified by an earlier load of the
// unchanged file are trusted; once the file changes (its times, here)
// the stamp is void.
func TestStampSkipsVerifying(t *testing.T) {
	c := &Cache{Dir: filepath.Join(t.TempDir(), "index")}
	path := save(t, c, testKey(1))
	x, err := c.Load(testKey(1), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.trusted) != 0 {
		t.Fatalf("trusted %v before any verification", x.trusted)
	}
	if _, err := Get[uint64](x, "addrs"); err != nil {
		t.Fatal(err)
	}
	x.Close()
	x, err = c.Load(testKey(1), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !x.trusted["addrs"] || x.trusted["ids"] {
		t.Errorf("trusted %v, want addrs only", x.trusted)
	}
	x.Close()
	// Loading again within lruResolution neither touches the file nor
	// writes the stamp again (nothing new verified): still trusted.
	stamp0, err0 := os.Stat(path + stampSuffix)
	index0, _ := os.Stat(path)
	x, err = c.Load(testKey(1), testSchema)
	if err != nil || !x.trusted["addrs"] {
		t.Fatalf("third load: %v, trusted %v", err, x.trusted)
	}
	if _, err := Get[uint64](x, "addrs"); err != nil {
		t.Fatal(err)
	}
	x.Close()
	stamp1, err1 := os.Stat(path + stampSuffix)
	index1, _ := os.Stat(path)
	if err0 != nil || err1 != nil || !os.SameFile(stamp0, stamp1) || !stamp0.ModTime().Equal(stamp1.ModTime()) {
		t.Errorf("stamp written again with nothing new verified (%v, %v)", err0, err1)
	}
	if !index0.ModTime().Equal(index1.ModTime()) {
		t.Errorf("index touched again within lruResolution: %v then %v", index0.ModTime(), index1.ModTime())
	}
	// Verifying another array writes it again, with both.
	x, err = c.Load(testKey(1), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Get[objectID](x, "ids"); err != nil {
		t.Fatal(err)
	}
	x.Close()
	x, err = c.Load(testKey(1), testSchema)
	if err != nil || !x.trusted["addrs"] || !x.trusted["ids"] {
		t.Fatalf("after verifying ids: %v, trusted %v", err, x.trusted)
	}
	x.Close()
	old := time.Now().Add(-time.Hour)
	os.Chtimes(path, old, old)
	x, err = c.Load(testKey(1), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.trusted) != 0 {
		t.Errorf("trusted %v after the file changed", x.trusted)
	}
	x.Close()
}

func flip(t *testing.T, path string, off int64) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestUnwritableCacheIsNoIndex(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(t.TempDir(), link)
	for name, dir := range map[string]string{
		"under a file":       filepath.Join(file, "index"),
		"writable by others": open,
		"a symlink":          link,
		"no directory given": "",
	} {
		t.Run(name, func(t *testing.T) {
			c := &Cache{Dir: dir}
			b, _ := testBuilder()
			if _, err := c.Save(testKey(1), testSchema, b); err == nil {
				t.Fatal("saved")
			}
			if x, err := c.Load(testKey(1), testSchema); err == nil {
				x.Close()
				t.Fatal("loaded")
			}
		})
	}
}

func TestSaveOverLimitSavesNothing(t *testing.T) {
	b, _ := testBuilder()
	c := &Cache{Dir: t.TempDir(), Limit: b.Size() - 1}
	if _, err := c.Save(testKey(1), testSchema, b); err == nil || !strings.Contains(err.Error(), "larger than the cache limit") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := c.List(); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
}

// TestCompanionsKeptWithTheirCensus: a census's companions (same key,
// another kind) are evicted with it, never in its place; a companion that
// does not fit beside its census is not kept, and Save says so.
func TestCompanionsKeptWithTheirCensus(t *testing.T) {
	b, _ := testBuilder()
	size := b.Size()
	strs, tree := Schema{Kind: "strings", Version: 1}, Schema{Kind: "dominators", Version: 1}
	c := &Cache{Dir: t.TempDir(), Limit: 4 * size}
	old := save(t, c, testKey(9))
	oldStrings, err := c.Save(testKey(9), strs, b)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-10 * time.Hour)
	os.Chtimes(old, past, past)
	os.Chtimes(oldStrings, past, past)
	census := save(t, c, testKey(1))
	stringsPath, err := c.Save(testKey(1), strs, b)
	if err != nil {
		t.Fatal(err)
	}
	// A third file of key 1 needs room: key 9's group goes whole.
	treePath, err := c.Save(testKey(1), tree, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		kept bool
	}{{old, false}, {oldStrings, false}, {census, true}, {stringsPath, true}, {treePath, true}} {
		if _, err := os.Stat(tc.path); (err == nil) != tc.kept {
			t.Errorf("%s kept = %v, want %v", filepath.Base(tc.path), err == nil, tc.kept)
		}
	}
	// A limit that holds the census and one companion, not two: the
	// last companion saved is not kept, and the census stays.
	c.Limit = 2*size + size/2
	c.Clear()
	census = save(t, c, testKey(1))
	if _, err := c.Save(testKey(1), strs, b); err != nil {
		t.Fatal(err)
	}
	treePath, err = c.Save(testKey(1), tree, b)
	if err == nil || !strings.Contains(err.Error(), "does not fit in the cache limit of") {
		t.Errorf("a companion that does not fit: %q, %v", treePath, err)
	}
	if _, err := os.Stat(census); err != nil {
		t.Errorf("the census went for its companion: %v", err)
	}
}

// TestFIFOAtAnIndexPath: a FIFO where an index or its stamp would be is
// no index (opening one to read used to wait for a writer forever), and
// the cache lists it so that Clear removes it.
func TestFIFOAtAnIndexPath(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	path := save(t, c, testKey(1))
	os.Remove(path + stampSuffix)
	if err := syscall.Mkfifo(path+stampSuffix, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	x, err := c.Load(testKey(1), testSchema)
	if err != nil {
		t.Fatalf("an index beside a FIFO stamp: %v", err)
	}
	x.Close()
	removeIndex(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	var inv *InvalidError
	if _, err := c.Load(testKey(1), testSchema); !errors.As(err, &inv) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load of a FIFO: %v", err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	entries, _ := c.List()
	if len(entries) != 1 || entries[0].Label != "not a regular file" {
		t.Errorf("List: %+v", entries)
	}
	if files, _, err := c.Clear(); files != 1 || err != nil {
		t.Errorf("Clear: %d, %v", files, err)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{512: "512 bytes", 500 << 10: "500 KiB", 1 << 20: "1 MiB", 3 << 29: "1.5 GiB", 10 << 30: "10 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestLeastRecentlyUsedEvicted(t *testing.T) {
	b, _ := testBuilder()
	size := b.Size()
	c := &Cache{Dir: t.TempDir(), Limit: 3 * size}
	paths := make([]string, 4)
	for i := 0; i < 3; i++ {
		paths[i] = save(t, c, testKey(i))
		past := time.Now().Add(time.Duration(i-10) * time.Hour) // older than lruResolution
		os.Chtimes(paths[i], past, past)
	}
	// Loading index 0 makes it the most recently used: index 1 goes.
	x, err := c.Load(testKey(0), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	paths[3] = save(t, c, testKey(3))
	for i, want := range []bool{true, false, true, true} {
		_, err := os.Stat(paths[i])
		if (err == nil) != want {
			t.Errorf("index %d kept = %v, want %v", i, err == nil, want)
		}
	}
	files, bytes, err := c.Clear()
	if err != nil || files != 3 || bytes != 3*size {
		t.Errorf("Clear: %d files, %d bytes, %v; want 3, %d", files, bytes, err, 3*size)
	}
	if entries, _ := c.List(); len(entries) != 0 {
		t.Errorf("after Clear: %v", entries)
	}
}

// Concurrent savers and loaders of one key never see a partial file.
func TestConcurrentSaveAndLoad(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				b, big := testBuilder()
				if _, err := c.Save(testKey(1), testSchema, b); err != nil {
					errs <- err
					return
				}
				x, err := c.Load(testKey(1), testSchema)
				if err != nil {
					errs <- err
					return
				}
				got, err := Get[uint64](x, "addrs")
				if err == nil && got[len(got)-1] != big[len(big)-1] {
					err = fmt.Errorf("wrong data")
				}
				x.Close()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	entries, _ := c.List()
	if len(entries) != 1 {
		t.Errorf("cache holds %d files, want 1: %v", len(entries), entries)
	}
}

// The fingerprint is the content's: the same arrays saved again give the
// same one, a changed value another.
func TestFingerprint(t *testing.T) {
	c := &Cache{Dir: filepath.Join(t.TempDir(), "index")}
	fingerprint := func(b *Builder) [32]byte {
		t.Helper()
		if _, err := c.Save(testKey(1), testSchema, b); err != nil {
			t.Fatal(err)
		}
		x, err := c.Load(testKey(1), testSchema)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		return x.Fingerprint()
	}
	b, _ := testBuilder()
	first := fingerprint(b)
	b, _ = testBuilder()
	if again := fingerprint(b); again != first {
		t.Errorf("the same arrays saved again: fingerprint %x, was %x", again, first)
	}
	b, big := testBuilder()
	big[len(big)-1]++
	if changed := fingerprint(b); changed == first {
		t.Errorf("a changed value kept the fingerprint %x", first)
	}
}
