package indexfile

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// streamed saves the arrays of testBuilder through a Stream.
func streamed(t *testing.T, c *Cache, key Key) (string, []uint64) {
	t.Helper()
	s, err := c.NewStream(key, testSchema, "core.123 (/tmp/x)")
	if err != nil {
		t.Fatal(err)
	}
	_, big := testBuilder()
	Put(s, "addrs", big)
	Put(s, "ids", []objectID{-1, 0, 7, 1 << 30})
	Put(s, "offs", []uint32{0, 3, 3, 9})
	Put(s, "sizes", []int64{-5, 1 << 40})
	Put(s, "names", []byte("hello"))
	Put(s, "empty", []uint32{})
	path, err := s.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return path, big
}

// A streamed index reads back as the same arrays as a built one, and its
// damage is found as in a built one.
func TestStreamReadsAsBuilt(t *testing.T) {
	c := &Cache{Dir: filepath.Join(t.TempDir(), "index")}
	built := save(t, c, testKey(1))
	path, big := streamed(t, c, testKey(2))
	x, err := c.Load(testKey(2), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	y, err := c.Load(testKey(1), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	defer y.Close()
	if x.Path() != path || y.Path() != built || x.Label() != y.Label() {
		t.Fatalf("paths %s %s, labels %q %q", x.Path(), y.Path(), x.Label(), y.Label())
	}
	if got, err := Get[uint64](x, "addrs"); err != nil || !slices.Equal(got, big) {
		t.Fatalf("addrs: %d values, %v", len(got), err)
	}
	for _, name := range []string{"ids", "offs", "sizes", "names", "empty"} {
		a, errA := getBytes(x, name)
		b, errB := getBytes(y, name)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: streamed %v (%v), built %v (%v)", name, a, errA, b, errB)
		}
	}
	// A flipped bit in the big array is a checksum mismatch.
	data, _ := os.ReadFile(path)
	e := x.entries["addrs"]
	data[e.off+e.nbytes/2] ^= 4
	os.WriteFile(path, data, 0o600)
	x2, err := c.Load(testKey(2), testSchema)
	if err == nil {
		_, err = Get[uint64](x2, "addrs")
		x2.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("damaged streamed index: %v, want a checksum mismatch", err)
	}
}

// getBytes reads an array whatever its element type.
func getBytes(x *Index, name string) ([]byte, error) {
	e := x.entries[name]
	if err := x.verify(name); err != nil {
		return nil, err
	}
	return x.data[e.off : e.off+e.nbytes], nil
}

// An aborted stream and one over the cache's limit leave no file behind.
func TestStreamAbortAndLimitLeaveNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	c := &Cache{Dir: dir}
	s, err := c.NewStream(testKey(1), testSchema, "x")
	if err != nil {
		t.Fatal(err)
	}
	Put(s, "a", make([]uint64, 1000))
	s.Abort()
	small := &Cache{Dir: dir, Limit: 4096}
	s, err = small.NewStream(testKey(2), testSchema, "x")
	if err != nil {
		t.Fatal(err)
	}
	Put(s, "a", make([]uint64, 1000))
	if _, err := s.Commit(); err == nil || !strings.Contains(err.Error(), "larger than the cache limit") {
		t.Errorf("commit over the limit: %v", err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("left in the cache: %v", des)
	}
}
