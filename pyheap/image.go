package pyheap

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pycoroner/pycoroner/coreread"
)

// Image is the process image pyheap reads: a core file today, a live
// process later. coreread.Process implements it.
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

// mem wraps an Image with typed reads.
type mem struct{ img Image }

func (m mem) ptr(addr uint64) (uint64, error) { return m.img.Uint64(addr) }

func (m mem) u64(addr uint64) (uint64, error) { return m.img.Uint64(addr) }

func (m mem) i64(addr uint64) (int64, error) {
	v, err := m.img.Uint64(addr)
	return int64(v), err
}

func (m mem) u32(addr uint64) (uint32, error) {
	var b [4]byte
	if _, err := m.img.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

func (m mem) i32(addr uint64) (int32, error) {
	v, err := m.u32(addr)
	return int32(v), err
}

func (m mem) u16(addr uint64) (uint16, error) {
	var b [2]byte
	if _, err := m.img.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b[:]), nil
}

func (m mem) u8(addr uint64) (uint8, error) {
	var b [1]byte
	if _, err := m.img.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return b[0], nil
}

func (m mem) bytes(addr uint64, n int) ([]byte, error) {
	if n < 0 || n > 1<<28 {
		return nil, fmt.Errorf("read of %d bytes at 0x%x refused", n, addr)
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

// field adds a layout offset to an address, refusing fields the version
// does not have.
func field(base uint64, off int64) (uint64, error) {
	if off < 0 {
		return 0, fmt.Errorf("field not present in this CPython version")
	}
	return base + uint64(off), nil
}
