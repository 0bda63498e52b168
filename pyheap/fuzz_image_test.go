package pyheap_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/fixtures/harness"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

// The fuzz targets of this package mutate real cores: the two golden cores
// of testdata/golden (every machine has them) and a gcore of the threads
// scenario under each pyenv CPython 3.8-3.12 found here.

// fuzzBase is one real core loaded for fuzzing.
type fuzzBase struct {
	name string
	path string
	raw  []byte // the core file
	opts coreread.Options
	// offsets are the file offsets of the words a clean stacks and
	// histogram run reads, and of the ELF headers and notes: where a
	// mutation changes what the decoders see.
	offsets []uint64
}

func goldenDir() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "testdata", "golden")
}

// testCacheDir keeps the decompressed goldens between test runs.
// (-verified: entries with checksums; older checkouts share the other.)
func testCacheDir() string { return filepath.Join(os.TempDir(), "pycoroner-test-cache-verified") }

// unxz decompresses src into dst through coreread's decompression cache,
// so that only the first test run pays for it.
func unxz(tb testing.TB, src, dst string) {
	tb.Helper()
	cached, err := coreread.Decompressed(src, coreread.DecompressOptions{CacheDir: testCacheDir()})
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(cached)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// baseNames are the cores the fuzz targets mutate, by index: the first
// byte of every input picks one, so a committed crasher names the same
// core on every machine. The goldens are everywhere; the others are gcores
// of the threads scenario made by the harness where pyenv builds exist (a
// missing one falls back to a golden).
var baseNames = []string{"golden-debian-3.11", "golden-3.13", "3.8", "3.9", "3.10", "3.11", "3.12"}

// fuzzBases loads the cores lazily: a plain `go test` runs the seeds of
// the goldens and the committed crashers, and loads only what they name.
type fuzzBases struct {
	dir    string
	record bool
	loaded map[int]*fuzzBase
}

func newFuzzBases(f *testing.F, record bool) *fuzzBases {
	return &fuzzBases{dir: f.TempDir(), record: record, loaded: map[int]*fuzzBase{}}
}

// fuzzing reports whether this run generates inputs (go test -fuzz).
func fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}

// seeded lists the base indexes whose seeds are added: all when fuzzing,
// the goldens otherwise.
func seeded() []int {
	if fuzzing() && !testing.Short() {
		return []int{0, 1, 2, 3, 4, 5, 6}
	}
	return []int{0, 1}
}

// get returns base which (modulo the list), loading it on first use.
func (fb *fuzzBases) get(tb testing.TB, which uint8) *fuzzBase {
	tb.Helper()
	i := int(which) % len(baseNames)
	if b, ok := fb.loaded[i]; ok {
		return b
	}
	b := fb.make(tb, i)
	if b == nil { // no such interpreter here
		b = fb.get(tb, uint8(i%2))
	} else {
		b.load(tb, fb.record)
	}
	fb.loaded[i] = b
	return b
}

func (fb *fuzzBases) make(tb testing.TB, i int) *fuzzBase {
	name := baseNames[i]
	switch name {
	case "golden-debian-3.11":
		core := filepath.Join(fb.dir, "debian-3.11-gcore.core")
		unxz(tb, filepath.Join(goldenDir(), "debian-3.11-gcore.core.xz"), core)
		root := filepath.Join(fb.dir, "root")
		unxz(tb, filepath.Join(goldenDir(), "root/usr/bin/python3.11.xz"), filepath.Join(root, "usr/bin/python3.11"))
		return &fuzzBase{name: name, path: core, opts: coreread.Options{Sysroot: root}}
	case "golden-3.13":
		core := filepath.Join(fb.dir, "pyenv-3.13-abort.core")
		unxz(tb, filepath.Join(goldenDir(), "pyenv-3.13-abort.core.xz"), core)
		return &fuzzBase{name: name + " (no binaries)", path: core, opts: coreread.Options{Sysroot: filepath.Join(fb.dir, "empty")}}
	}
	if _, err := harness.GcorePath(); err != nil {
		return nil
	}
	in, err := harness.Lookup(name)
	if err != nil || !strings.HasPrefix(in.Name, "pyenv-") {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := harness.CachedCore(ctx, in, "threads", harness.Gcore)
	if err != nil {
		tb.Logf("no %s core to fuzz: %v", in.Name, err)
		return nil
	}
	return &fuzzBase{name: in.Name, path: res.CorePath}
}

// load reads the core and, with record, notes in a clean run of stacks
// --locals and histogram which words of the file the decoders read.
func (b *fuzzBase) load(tb testing.TB, record bool) {
	tb.Helper()
	if !record {
		return
	}
	raw, err := os.ReadFile(b.path)
	if err != nil {
		tb.Fatal(err)
	}
	b.raw = raw
	p, err := coreread.Open(b.path, b.opts)
	if err != nil {
		tb.Fatalf("%s: %v", b.name, err)
	}
	defer p.Close()
	rec := &recorder{Process: p, words: map[uint64]bool{}}
	rt, err := pyheap.Open(rec, pyheap.Options{})
	if err != nil {
		tb.Fatalf("%s: %v", b.name, err)
	}
	if _, err := reports.BuildStacks(rt, reports.StacksOptions{Locals: true}); err != nil {
		tb.Fatalf("%s: stacks: %v", b.name, err)
	}
	if _, err := rt.BuildHeap(pyheap.HeapOptions{}); err != nil {
		tb.Fatalf("%s: census: %v", b.name, err)
	}
	offs := map[uint64]bool{}
	for i := uint64(0); i < 64; i += 8 { // the ELF header
		offs[i] = true
	}
	le := binary.LittleEndian
	phoff, phnum := le.Uint64(raw[32:]), uint64(le.Uint16(raw[56:]))
	for k := uint64(0); k < phnum && phoff+(k+1)*56 <= uint64(len(raw)); k++ {
		ph := raw[phoff+k*56:]
		for w := uint64(0); w < 56; w += 8 {
			offs[phoff+k*56+w] = true
		}
		if le.Uint32(ph) == 4 { // PT_NOTE: every 4-byte field of the notes
			off, size := le.Uint64(ph[8:]), le.Uint64(ph[32:])
			for j := uint64(0); j < size && off+j < uint64(len(raw)); j += 4 {
				offs[off+j] = true
			}
		}
	}
	segs := p.Segments()
	for addr := range rec.words {
		i := sort.Search(len(segs), func(i int) bool { return segs[i].Vaddr+segs[i].Memsz > addr })
		if i < len(segs) && addr >= segs[i].Vaddr && addr-segs[i].Vaddr < segs[i].Filesz {
			offs[segs[i].Off+addr-segs[i].Vaddr] = true
		}
	}
	for o := range offs {
		if o+8 <= uint64(len(raw)) {
			b.offsets = append(b.offsets, o)
		}
	}
	sort.Slice(b.offsets, func(i, j int) bool { return b.offsets[i] < b.offsets[j] })
}

// recorder is an Image that notes the words every read touches (the first
// 64 bytes of each read: scans of whole segments would drown the rest).
// Like every Image, it may be read from several goroutines at once (the
// census workers).
type recorder struct {
	*coreread.Process
	mu    sync.Mutex
	words map[uint64]bool
}

func (r *recorder) note(addr uint64, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < n && i < 64; i += 8 {
		r.words[(addr+uint64(i))&^7] = true
	}
}

func (r *recorder) ReadAt(b []byte, addr uint64) (int, error) {
	r.note(addr, len(b))
	return r.Process.ReadAt(b, addr)
}

func (r *recorder) Uint64(addr uint64) (uint64, error) {
	r.note(addr, 8)
	return r.Process.Uint64(addr)
}

func (r *recorder) InCore(addr uint64, n int) []byte {
	r.note(addr, n)
	return r.Process.InCore(addr, n)
}

func (r *recorder) CString(addr uint64, max int) (string, error) {
	r.note(addr, 16)
	return r.Process.CString(addr, max)
}

// patch is one mutation of a core: a word (or one byte of it) set to a
// value at one of the base's interesting offsets.
type patch struct {
	off   uint64
	bytes []byte
}

// decodePatches turns fuzz input into patches: every 12 bytes are a
// selector (which offset; its top bit says "one byte only", bits 24-26
// which byte) and a value.
func (b *fuzzBase) decodePatches(data []byte) []patch {
	var out []patch
	for len(data) >= 12 && len(out) < 64 {
		sel := binary.LittleEndian.Uint32(data)
		val := data[4:12]
		data = data[12:]
		off := b.offsets[int(sel&0xffffff)%len(b.offsets)]
		if sel&0x80000000 != 0 {
			out = append(out, patch{off + uint64(sel>>24&7), val[:1]})
		} else {
			out = append(out, patch{off, val})
		}
	}
	return out
}

// apply writes the patches into b.raw and returns the function that
// undoes them.
func (b *fuzzBase) apply(ps []patch) func() {
	type saved struct {
		off uint64
		old []byte
	}
	var undo []saved
	for _, p := range ps {
		if p.off+uint64(len(p.bytes)) > uint64(len(b.raw)) {
			continue
		}
		dst := b.raw[p.off : p.off+uint64(len(p.bytes))]
		undo = append(undo, saved{p.off, bytes.Clone(dst)})
		copy(dst, p.bytes)
	}
	return func() {
		for i := len(undo) - 1; i >= 0; i-- {
			copy(b.raw[undo[i].off:], undo[i].old)
		}
	}
}

// seedPatches are mutations a fuzz run starts from: none, and a few that
// zero or scramble words the decoders read.
func (b *fuzzBase) seedPatches() [][]byte {
	seeds := [][]byte{nil}
	for _, v := range []uint64{0, 0xffffffffffffffff, 0x4141414141414141, 8} {
		for _, frac := range []int{1, 3, 7} {
			var buf [12]byte
			binary.LittleEndian.PutUint32(buf[:], uint32(len(b.offsets)*frac/8))
			binary.LittleEndian.PutUint64(buf[4:], v)
			seeds = append(seeds, buf[:])
		}
	}
	return seeds
}

// userError says what is wrong with an error a user would see: several
// lines, or a recovered Go panic.
func userError(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		return fmt.Errorf("%s: error of several lines: %q", what, msg)
	}
	if strings.Contains(msg, "runtime error") {
		return fmt.Errorf("%s: a recovered Go panic: %s", what, msg)
	}
	return nil
}

// errKnownBug marks problems that have a known cause and a fix pending
// outside the tests: inputs that show only them are skipped.
var errKnownBug = errors.New("known bug")

// withBudget runs fn and fails when it returns a problem or is still
// running after budget (a hang: the goroutine is left behind, the input
// is reported).
func withBudget(t *testing.T, budget time.Duration, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if errors.Is(err, errKnownBug) {
			t.Skipf("KNOWN BUG, pending a fix: %v", err)
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(budget):
		t.Fatalf("%s: still running after %v (started %v ago)", what, budget, time.Since(start).Round(time.Millisecond))
	}
}
