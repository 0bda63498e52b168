package hugeheap

import (
	"syscall"
	"unsafe"
)

const (
	madvHugepage = 14 // MADV_HUGEPAGE
	madvCollapse = 25 // MADV_COLLAPSE (Linux 6.1)
	pageSize     = 4 << 10
	hugeSize     = 2 << 20
	// chunkSize is the runtime's heap growth unit (pallocChunkBytes); a
	// chunk is aligned to it. The heap's first page lies at a random page
	// of the first chunk (Go 1.26's randomised heap base).
	chunkSize = 4 << 20
	// The runtime grows the heap through 64 MB arenas: from the random
	// chunk it started in up to the arena's end, then into arenas
	// reserved next to it (seen here: also the same arena's chunks below
	// the first). Advise covers the first chunk's arena and the span
	// after it; advice on space not mapped is refused (ENOMEM) and costs
	// nothing. 256 MB of heap is more than a warm command uses.
	arenaSize = 64 << 20
	span      = 256 << 20
)

var probe []byte

func adviseFirstChunk() uintptr {
	// A large allocation has its own pages: its address is in the chunk
	// the heap grows from. (On the heap, not the stack: escape analysis
	// puts a local slice of up to 64 KB on the stack, and zeroes it.)
	probe = make([]byte, 64<<10)
	b := uintptr(unsafe.Pointer(&probe[0])) &^ (chunkSize - 1)
	probe = nil
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, b, chunkSize, madvHugepage); e != 0 {
		return 0 // no transparent huge pages here
	}
	// A 2 MB range the runtime has touched already has its 4 KB pages:
	// later faults there stay small unless it is collapsed into one huge
	// page now (it holds the heap's first spans, which the next
	// allocations fill). A range nothing touched needs no collapse; the
	// random padding below the heap's first page is never touched.
	var vec [chunkSize / pageSize]byte
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, b, chunkSize, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return b
	}
	for h := uintptr(0); h < chunkSize/hugeSize; h++ {
		resident := 0
		for _, v := range vec[h*hugeSize/pageSize : (h+1)*hugeSize/pageSize] {
			resident += int(v & 1)
		}
		if resident > 0 && resident < hugeSize/pageSize {
			syscall.Syscall(syscall.SYS_MADVISE, b+h*hugeSize, hugeSize, madvCollapse)
		}
	}
	return b
}

func advise(b uintptr) {
	syscall.Syscall(syscall.SYS_MADVISE, b&^(arenaSize-1), span, madvHugepage)
}
