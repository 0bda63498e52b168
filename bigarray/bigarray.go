// Package bigarray keeps arrays of millions of plain values outside the Go
// heap: the heap census's (pyheap/census: per object its address, type,
// size, edge offsets; per edge its target; the reverse index) and the
// dominator tree's work arrays (graph/dominators). They live in
// anonymous mappings that the kernel may back with
// 2 MB pages (bigarray_linux.go). Measured on a cold histogram of 21 M
// objects (docs/benchmarks.md): about 250,000 page faults on fresh 4 KB
// pages took a quarter of the command's time in the kernel, where a 2 MB
// page costs one fault for 512 of them. Two more reasons: a reservation
// is address space, touched only as it is used, so a worker's arrays are
// reserved for the worst case and never copied while they grow; and an
// array freed is given back to the system at once, where the Go heap
// keeps freed memory until its scavenger returns it, in the peak RSS of
// the step that follows.
//
// Memory freed is not unmapped but kept for the next array (Make): on
// the virtual machines this runs on, a page is expensive the first time
// the process touches it (about 1-2.5 s of CPU per GB measured here,
// against 0.1 s to clear memory already touched), and the kernel gives
// freed pages back to the host, so that the arrays laid out after the
// census (flatten: addresses, types, sizes, the reverse index) are best
// written where the census's own arrays were. Trim gives the rest back.
//
// Only arrays of plain values live there (the collector must never find
// its own pointers in them), and only Free frees them: a slice used
// after that faults. The mappings are kept in a table by base address so
// that Free of a slice that is not one of them (a small array, or a
// system that refused the mapping) does nothing.
package bigarray

import (
	"sync"
	"unsafe"
)

// RefuseMappings makes every mapping fail, as a limit on address space
// does (for tests).
var RefuseMappings bool

// bigMinBytes: smaller arrays stay on the Go heap.
const bigMinBytes = 1 << 20

// hugeMinBytes: arrays expected to be smaller get 4 KB pages. A 2 MB page
// is taken whole at the first write into it, so an array wastes up to
// 2 MB at its end until TrimTail (a census has about ten arrays).
const hugeMinBytes = 8 << 20

var bigMaps struct {
	sync.Mutex
	byBase map[uintptr][]byte // base address -> the mapping, in use
	free   []freeMapping      // freed, for reuse
}

// freeMapping is a mapping freed, and how much of it was touched.
type freeMapping struct {
	mem     []byte
	touched int
}

// Make is make([]E, n) outside the Go heap when it is big: in a
// mapping freed before (cleared here), else in a new one (zero already).
func Make[E any](n int) []E {
	var zero E
	nbytes := n * int(unsafe.Sizeof(zero))
	if n <= 0 || nbytes < bigMinBytes || nbytes/int(unsafe.Sizeof(zero)) != n {
		return make([]E, max(n, 0))
	}
	if mem, ok := reuseMapping(nbytes); ok {
		return track[E](mem, n)
	}
	return Reserve[E](n, n)[:n]
}

// Reserve is make([]E, 0, capacity) outside the Go heap when it is
// big: only the address space is reserved, and pages come as they are
// first written. An append beyond capacity moves the slice to the Go heap
// (the mapping stays until the process ends): reserve what can be needed.
// A reservation is always a new mapping (a freed one would have to be
// cleared whole). expected is how many elements will likely be used: it
// chooses the page size.
func Reserve[E any](capacity, expected int) []E {
	if s, ok := TryReserve[E](capacity, expected); ok {
		return s
	}
	return make([]E, 0, max(capacity, 0))
}

// TryReserve is Reserve without the Go heap: false when the array is
// small or the system refuses the mapping (a limit on address space,
// strict overcommit), so that a caller reserving for the worst case can
// fall back to a likelier size.
func TryReserve[E any](capacity, expected int) ([]E, bool) {
	var zero E
	nbytes := capacity * int(unsafe.Sizeof(zero))
	if capacity <= 0 || nbytes < bigMinBytes || nbytes/int(unsafe.Sizeof(zero)) != capacity {
		return nil, false
	}
	if RefuseMappings {
		return nil, false
	}
	mem, ok := mapAnon(nbytes, expected*int(unsafe.Sizeof(zero)) >= hugeMinBytes)
	if !ok {
		return nil, false
	}
	return track[E](mem, capacity)[:0], true
}

// track records mem as in use and returns it as n elements.
func track[E any](mem []byte, n int) []E {
	base := unsafe.Pointer(unsafe.SliceData(mem))
	bigMaps.Lock()
	if bigMaps.byBase == nil {
		bigMaps.byBase = map[uintptr][]byte{}
	}
	bigMaps.byBase[uintptr(base)] = mem
	bigMaps.Unlock()
	return unsafe.Slice((*E)(base), n)
}

// Free gives back the mapping under s (a slice Make or Reserve
// returned, or any reslice of it that starts where it starts); any other
// slice is left to the Go collector. Nothing may use s afterwards.
func Free[E any](s []E) {
	if cap(s) == 0 {
		return
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s[:1])))
	bigMaps.Lock()
	if mem, ok := bigMaps.byBase[base]; ok {
		delete(bigMaps.byBase, base)
		var zero E
		touched := min(len(mem), cap(s)*int(unsafe.Sizeof(zero)))
		if len(s) < cap(s) {
			// A reservation: what was appended, not its capacity.
			touched = len(s) * int(unsafe.Sizeof(zero))
		}
		bigMaps.free = append(bigMaps.free, freeMapping{mem, touched})
	}
	bigMaps.Unlock()
}

// reuseMapping takes a freed mapping of at least nbytes, the one with the
// most of them already touched, and clears them (touched is only an
// estimate: a slice freed may have been cut shorter than what was
// written).
func reuseMapping(nbytes int) ([]byte, bool) {
	bigMaps.Lock()
	best := -1
	for i, f := range bigMaps.free {
		if len(f.mem) >= nbytes && (best < 0 || min(f.touched, nbytes) > min(bigMaps.free[best].touched, nbytes)) {
			best = i
		}
	}
	if best < 0 {
		bigMaps.Unlock()
		return nil, false
	}
	f := bigMaps.free[best]
	bigMaps.free = append(bigMaps.free[:best], bigMaps.free[best+1:]...)
	bigMaps.Unlock()
	clear(f.mem[:nbytes])
	return f.mem, true
}

// Trim gives the freed mappings back to the system.
func Trim() {
	bigMaps.Lock()
	free := bigMaps.free
	bigMaps.free = nil
	bigMaps.Unlock()
	for _, f := range free {
		unmapAnon(f.mem)
	}
}

// Mapped is the bytes mapped by Make and Reserve and not freed
// (address space, not memory in use), for tests.
func Mapped() int {
	bigMaps.Lock()
	defer bigMaps.Unlock()
	n := 0
	for _, mem := range bigMaps.byBase {
		n += len(mem)
	}
	return n
}

// IsBig says whether s starts where a mapping of Make or Reserve
// starts.
func IsBig[E any](s []E) bool {
	if cap(s) == 0 {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s[:1])))
	bigMaps.Lock()
	defer bigMaps.Unlock()
	_, ok := bigMaps.byBase[base]
	return ok
}

// TrimTail gives back the part of the last 2 MB page of s past its
// length: a growing array's unused room, in memory since its 2 MB page
// was first written.
func TrimTail[E any](s []E) {
	var zero E
	used := len(s) * int(unsafe.Sizeof(zero))
	ReleaseRange(s, used, (used+hugePage-1)&^(hugePage-1))
}

const hugePage = 2 << 20

// Release gives back the memory of s past its first keep bytes (whole
// pages of it) when s is one of the mappings: it reads as zero after.
func Release[E any](s []E, keep int) {
	var zero E
	ReleaseRange(s, keep, len(s)*int(unsafe.Sizeof(zero)))
}

// ReleaseRange gives back the whole pages of bytes [from, to) of s's
// mapping (within its capacity).
func ReleaseRange[E any](s []E, from, to int) {
	if !IsBig(s) {
		return
	}
	var zero E
	mem := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s[:1]))), cap(s)*int(unsafe.Sizeof(zero)))
	const page = 4096
	from = (from + page - 1) &^ (page - 1)
	to = min(to, len(mem))
	if from < to {
		releaseAnon(mem[from:to])
	}
}
