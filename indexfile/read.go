package indexfile

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNotFound: no index is saved for this input.
var ErrNotFound = errors.New("no saved index")

// InvalidError says why a saved index cannot be used. The file has been
// removed: the caller rebuilds the index and may warn.
type InvalidError struct {
	Path   string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("saved index %s not used: %s", e.Path, e.Reason)
}

// Index is a saved index mapped read-only. The slices it hands out point
// into the mapping: they are valid until Close.
type Index struct {
	path    string
	data    []byte
	label   string
	entries map[string]entry

	mu       sync.Mutex
	verified map[string]error

	// state: the file's after Load marked it used; trusted: arrays a
	// stamp vouched for (stamp.go).
	opened  fileState // when mapped
	stamped bool      // a stamp vouched for the file as opened
	state   fileState
	stateOK bool
	trusted map[string]bool
}

// open maps the file at path and checks everything but the arrays' own
// checksums (verified on first use of each array).
func open(path string, key Key, schema Schema) (*Index, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotFound
		}
		return nil, invalid(path, "%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, invalid(path, "%v", err)
	}
	if !st.Mode().IsRegular() {
		return nil, invalid(path, "not a regular file")
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return nil, invalid(path, "owned by uid %d, not by this user", sys.Uid)
	}
	size := st.Size()
	if size < headerSize {
		return nil, invalid(path, "truncated: %d bytes", size)
	}
	if int64(int(size)) != size {
		return nil, invalid(path, "too large to map")
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, invalid(path, "mmap: %v", err)
	}
	x := &Index{path: path, data: data, entries: map[string]entry{}, verified: map[string]error{}, trusted: map[string]bool{}}
	if reason := x.check(key, schema); reason != "" {
		unix.Munmap(data)
		return nil, invalid(path, "%s", reason)
	}
	if st0, ok := stateOf(st); ok {
		x.opened = st0
		names := readStamp(path, st0)
		x.stamped = names != nil
		for _, name := range names {
			if _, ok := x.entries[name]; ok {
				x.trusted[name] = true
			}
		}
	}
	return x, nil
}

func invalid(path, format string, args ...any) error {
	return &InvalidError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// check validates the header and the section table; the reason the file
// cannot be used, or "".
func (x *Index) check(key Key, schema Schema) string {
	h, err := decodeHeader(x.data)
	if err != nil {
		return err.Error()
	}
	x.label = h.label
	size := uint64(len(x.data))
	switch {
	case h.format != FormatVersion:
		return fmt.Sprintf("written in index format %d, this pycoroner reads format %d", h.format, FormatVersion)
	case h.schema != schema:
		return fmt.Sprintf("holds %s version %d, this pycoroner writes %s version %d", h.schema.Kind, h.schema.Version, schema.Kind, schema.Version)
	case h.key != key:
		return "stale: it was built from another file (size, modification time or notes differ)"
	case h.fileSize != size:
		return fmt.Sprintf("truncated or extended: %d bytes, the header says %d", size, h.fileSize)
	case h.block != blockSize:
		return fmt.Sprintf("checksum block of %d bytes, want %d", h.block, blockSize)
	case h.sections > maxSections:
		return fmt.Sprintf("%d arrays, more than %d", h.sections, maxSections)
	}
	tableEnd := headerSize + uint64(h.sections)*entrySize
	if tableEnd > size {
		return "section table past the end of the file"
	}
	table := x.data[headerSize:tableEnd]
	if crc32.ChecksumIEEE(table) != h.tableCRC {
		return "section table checksum mismatch"
	}
	for i := 0; i < int(h.sections); i++ {
		e := decodeEntry(table[i*entrySize:])
		es := uint64(e.typ.Size())
		switch {
		case es == 0:
			return fmt.Sprintf("array %q: unknown element type %d", e.name, e.typ)
		case e.off%alignment != 0 || e.off < tableEnd || e.off > size || e.nbytes > size-e.off:
			return fmt.Sprintf("array %q: bad place %d+%d", e.name, e.off, e.nbytes)
		case e.nbytes%es != 0:
			return fmt.Sprintf("array %q: %d bytes is not a whole number of %s", e.name, e.nbytes, e.typ)
		case e.crcOff%4 != 0 || e.crcOff > size || 4*blocks(e.nbytes) > size-e.crcOff:
			return fmt.Sprintf("array %q: checksums out of the file", e.name)
		}
		if _, dup := x.entries[e.name]; dup {
			return fmt.Sprintf("array %q twice", e.name)
		}
		x.entries[e.name] = e
	}
	return ""
}

// Path is the file's path.
func (x *Index) Path() string { return x.path }

// Label is what the index says it is of.
func (x *Index) Label() string { return x.label }

// Size is the file's size in bytes.
func (x *Index) Size() int64 { return int64(len(x.data)) }

// Fingerprint is a digest of the index's content: its section table and
// every array's block checksums (a few bytes per MB, so it costs almost
// nothing). An index derived from this one (a dominator tree of a saved
// census) records it, and is used only with an index of the same
// fingerprint: the same arrays, whichever process wrote them.
func (x *Index) Fingerprint() [32]byte {
	h := sha256.New()
	names := make([]string, 0, len(x.entries))
	for name := range x.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e := x.entries[name]
		var b [entrySize]byte
		e.encode(b[:])
		h.Write(b[:])
		h.Write(x.data[e.crcOff : e.crcOff+4*blocks(e.nbytes)])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Has says whether the index holds an array named name.
func (x *Index) Has(name string) bool {
	_, ok := x.entries[name]
	return ok
}

// Trusted says whether the array named name was verified by an earlier
// process and the file is unchanged since (its stamp): its checksums are
// not read again, and a reader that checks the values it holds (ids in
// range, offsets in order) may take them as checked too, since a file
// whose values failed those checks is removed.
func (x *Index) Trusted(name string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.trusted[name]
}

// Evict takes the index's pages out of this process's memory (its
// resident set): the slices it handed out stay valid, and a page read
// again comes back from the page cache, which keeps them (a shared
// read-only file mapping loses nothing). For a step that read a big
// array and will not read it again soon: the pages it touched would
// otherwise count in the process's peak memory until it ends.
func (x *Index) Evict() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.data != nil {
		_ = unix.Madvise(x.data, unix.MADV_DONTNEED)
	}
}

// Close unmaps the index: the slices it handed out must not be used after.
func (x *Index) Close() error {
	if x.data == nil {
		return nil
	}
	x.mu.Lock()
	if x.stateOK {
		var names []string
		for name, err := range x.verified {
			if err == nil && !x.trusted[name] {
				names = append(names, name)
			}
		}
		// A stamp that vouches for this very state and every array
		// verified here is kept as it is (most warm commands: no file
		// write at all).
		if len(names) > 0 || !x.stamped || x.state != x.opened {
			for name := range x.trusted {
				names = append(names, name)
			}
			writeStamp(x.path, x.state, names)
		}
	}
	x.mu.Unlock()
	err := unix.Munmap(x.data)
	x.data = nil
	return err
}

// Verify checks the checksums of the named arrays (once each), the blocks
// split among the CPUs. An array that fails makes the whole file Invalid:
// it is removed.
func (x *Index) Verify(names ...string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, name := range names {
		err, done := x.verified[name]
		if !done {
			err = x.verify(name)
			x.verified[name] = err
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (x *Index) verify(name string) error {
	e, ok := x.entries[name]
	if !ok {
		return invalid(x.path, "no array %q", name)
	}
	if x.trusted[name] {
		return nil
	}
	data := x.data[e.off : e.off+e.nbytes]
	sums := x.data[e.crcOff : e.crcOff+4*blocks(e.nbytes)]
	n := int(blocks(e.nbytes))
	workers := min(runtime.GOMAXPROCS(0), n)
	bad := make([]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		bad[w] = -1
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			// The file cut short while mapped (by someone else: this
			// package only renames and unlinks) faults: a damaged index.
			debug.SetPanicOnFault(true)
			i := w
			defer func() {
				if recover() != nil {
					bad[w] = i
				}
			}()
			for ; i < n; i += workers {
				end := min((i+1)*blockSize, len(data))
				if crc32.ChecksumIEEE(data[i*blockSize:end]) != binary.LittleEndian.Uint32(sums[4*i:]) {
					bad[w] = i
					return
				}
			}
		}(w)
	}
	wg.Wait()
	for _, b := range bad {
		if b >= 0 {
			removeIndex(x.path)
			x.stateOK = false
			return invalid(x.path, "array %q: checksum mismatch in block %d", name, b)
		}
	}
	return nil
}

// Get returns the array named name, its checksums verified, as a slice of
// the mapping.
func Get[T Elem](x *Index, name string) ([]T, error) {
	e, ok := x.entries[name]
	if !ok {
		return nil, invalid(x.path, "no array %q", name)
	}
	if want := elemType[T](); e.typ != want {
		return nil, invalid(x.path, "array %q holds %s, want %s", name, e.typ, want)
	}
	if err := x.Verify(name); err != nil {
		return nil, err
	}
	var zero T
	n := e.nbytes / uint64(unsafe.Sizeof(zero))
	if n == 0 {
		return []T{}, nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&x.data[e.off])), n), nil
}
