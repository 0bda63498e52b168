package pyheap

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// Image is the process image pyheap reads: a core file today, a live
// process later. coreread.Process implements it. Reads may come from
// several goroutines at once (the census workers, sizes), so an Image must
// be safe for concurrent use.
type Image interface {
	ReadAt(b []byte, addr uint64) (int, error)
	Uint64(addr uint64) (uint64, error)
	CString(addr uint64, max int) (string, error)
	InCore(addr uint64, n int) []byte
	Segments() []coreread.Segment
	Mappings() []coreread.Mapping
	Threads() []coreread.Thread
	LookupSymbol(name string) (coreread.Symbol, bool)
	LookupSection(name string) (coreread.Symbol, bool)
	FileAt(addr uint64) (string, bool)
	DWARF(path string) (*dwarf.Data, error)
}

// filesOf describes the files behind img, when it says (a
// coreread.Process does; a test's image need not): nil otherwise.
func filesOf(img Image) []coreread.FileInfo {
	if fl, ok := img.(interface{ Files() []coreread.FileInfo }); ok {
		return fl.Files()
	}
	return nil
}

// Limits bound every walk over data from the image.
const (
	maxFrames      = 4096    // frames per thread
	maxThreads     = 4096    // thread states per interpreter
	maxInterps     = 256     // interpreters per runtime
	maxStrLen      = 1 << 20 // code points decoded from one str
	maxBytesLen    = 1 << 20
	maxIntDigits   = 1 << 16
	maxDictEntries = 1 << 24
	maxExcChain    = 1024
)

// ErrNull is returned when a pointer that must be set is NULL.
var ErrNull = errors.New("NULL pointer")

// ErrNoField is returned for a read of a struct member that the CPython
// version does not have (an address made by layout.Offset.Add of a
// missing offset): a bug in the caller's version checks, said as such
// instead of a wild read.
var ErrNoField = errors.New("struct member not in this CPython version")

// mem wraps an Image with typed reads. It keeps the in-core bytes of the
// last segment it read from: most reads land there, and a hit then costs
// a bounds check instead of a call through the Image interface.
type mem struct {
	img    Image
	lo, hi uint64 // the window [lo, hi) ...
	win    []byte // ... and its bytes
	// the window before, kept because reads often alternate between two
	// segments (an object and the array it points to)
	lo2, hi2 uint64
	win2     []byte
}

func (m *mem) ptr(addr uint64) (uint64, error) { return m.u64(addr) }

func (m *mem) u64(addr uint64) (uint64, error) {
	if addr >= m.lo && addr < m.hi && m.hi-addr >= 8 {
		return binary.LittleEndian.Uint64(m.win[addr-m.lo:]), nil
	}
	if m.slide(addr) && m.hi-addr >= 8 {
		return binary.LittleEndian.Uint64(m.win[addr-m.lo:]), nil
	}
	if layout.IsNoField(addr) {
		return 0, ErrNoField
	}
	return m.img.Uint64(addr)
}

// peek reads a word of the core's own memory, with no fallback to the
// files behind it and no error built: for a scan's cheap rejections.
func (m *mem) peek(addr uint64) (uint64, bool) {
	if (addr >= m.lo && addr < m.hi && m.hi-addr >= 8) || (m.slide(addr) && m.hi-addr >= 8) {
		return binary.LittleEndian.Uint64(m.win[addr-m.lo:]), true
	}
	return 0, false
}

// slide moves the window to the in-core part of the segment holding addr.
func (m *mem) slide(addr uint64) bool {
	if addr >= m.lo2 && addr < m.hi2 {
		m.lo, m.hi, m.win, m.lo2, m.hi2, m.win2 = m.lo2, m.hi2, m.win2, m.lo, m.hi, m.win
		return true
	}
	segs := m.img.Segments()
	lo, hi := 0, len(segs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s := &segs[mid]; s.Vaddr+s.Filesz > addr {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == len(segs) || addr < segs[lo].Vaddr || segs[lo].Filesz > 1<<40 {
		return false
	}
	s := segs[lo]
	b := m.img.InCore(s.Vaddr, int(s.Filesz))
	if uint64(len(b)) <= addr-s.Vaddr {
		return false
	}
	m.lo2, m.hi2, m.win2 = m.lo, m.hi, m.win
	m.lo, m.hi, m.win = s.Vaddr, s.Vaddr+uint64(len(b)), b
	return true
}

func (m *mem) i64(addr uint64) (int64, error) {
	v, err := m.u64(addr)
	return int64(v), err
}

func (m *mem) u32(addr uint64) (uint32, error) {
	if addr >= m.lo && addr < m.hi && m.hi-addr >= 4 {
		return binary.LittleEndian.Uint32(m.win[addr-m.lo:]), nil
	}
	if layout.IsNoField(addr) {
		return 0, ErrNoField
	}
	var b [4]byte
	if _, err := m.img.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

func (m *mem) i32(addr uint64) (int32, error) {
	v, err := m.u32(addr)
	return int32(v), err
}

func (m *mem) u8(addr uint64) (uint8, error) {
	if addr >= m.lo && addr < m.hi {
		return m.win[addr-m.lo], nil
	}
	if layout.IsNoField(addr) {
		return 0, ErrNoField
	}
	var b [1]byte
	if _, err := m.img.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return b[0], nil
}

// prefetchBytes is the size from which a read of a whole range (a list's
// items) asks the image to map it at once first: a 3 M-item list's 24 MB
// of pointers cost 370 page faults (~11 ms on the VMs here), one
// MADV_POPULATE_READ about 1 ms.
const prefetchBytes = 1 << 20

// prefetcher is an Image that can map a range of its memory at once
// (coreread.Process).
type prefetcher interface{ Prefetch(addr uint64, n int) }

func (m *mem) prefetch(addr uint64, n int) {
	if p, ok := m.img.(prefetcher); ok {
		p.Prefetch(addr, n)
	}
}

func (m *mem) bytes(addr uint64, n int) ([]byte, error) {
	if n < 0 || n > 1<<28 {
		return nil, fmt.Errorf("read of %d bytes at 0x%x refused", n, addr)
	}
	if addr >= m.lo && addr < m.hi && m.hi-addr >= uint64(n) {
		return m.win[addr-m.lo : addr-m.lo+uint64(n)], nil
	}
	if layout.IsNoField(addr) {
		return nil, ErrNoField
	}
	if b := m.img.InCore(addr, n); len(b) == n {
		return b, nil
	}
	b := make([]byte, n)
	if _, err := m.img.ReadAt(b, addr); err != nil {
		return nil, err
	}
	return b, nil
}
