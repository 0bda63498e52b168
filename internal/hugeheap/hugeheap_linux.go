package hugeheap

import (
	"syscall"
	"unsafe"
)

const (
	madvHugepage = 14 // MADV_HUGEPAGE
	madvCollapse = 25 // MADV_COLLAPSE (Linux 6.1)
	osPage       = 4 << 10
	runtimePage  = 8 << 10
	hugeSize     = 2 << 20
	// chunkSize is the runtime's heap growth unit (pallocChunkBytes): it
	// maps the heap a chunk at a time, aligned, just when an allocation
	// needs it. The heap's first page lies at a random page of the first
	// chunk (Go 1.26's randomised heap base).
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

// probe and spills are heap objects that must not live on the stack
// (escape analysis puts a local slice of up to 64 KB there, and zeroes it).
var probe []byte

// spills hold the end of a chunk, never touched (no memory) nor freed:
// allocated so that the runtime maps the next chunk while nothing has
// touched it, and it can be advised first.
var spills [][]byte

// frontier returns the end of a fresh large allocation: a large object
// has its own pages, the lowest free run that fits, which is the heap's
// frontier when there are no larger holes below it.
func frontier() uintptr {
	probe = make([]byte, 64<<10)
	end := uintptr(unsafe.Pointer(&probe[0])) + uintptr(len(probe))
	probe = nil
	return end
}

func adviseFirstChunk() uintptr {
	end := frontier()
	b := (end - 1) &^ (chunkSize - 1)
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, b, chunkSize, madvHugepage); e != 0 {
		return 0 // no transparent huge pages here
	}
	// A 2 MB range the runtime has touched already has its 4 KB pages:
	// later faults there stay small unless it is collapsed into one huge
	// page now (it holds the heap's first spans, which the next
	// allocations fill). A range nothing touched needs no collapse; the
	// random padding below the heap's first page is never touched.
	var vec [chunkSize / osPage]byte
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, b, chunkSize, uintptr(unsafe.Pointer(&vec[0]))); e == 0 {
		for h := uintptr(0); h < chunkSize/hugeSize; h++ {
			resident := 0
			for _, v := range vec[h*hugeSize/osPage : (h+1)*hugeSize/osPage] {
				resident += int(v & 1)
			}
			if resident > 0 && resident < hugeSize/osPage {
				syscall.Syscall(syscall.SYS_MADVISE, b+h*hugeSize, hugeSize, madvCollapse)
			}
		}
	}
	roomAhead(b, end)
	return b
}

// roomAhead makes sure the heap has at least 2 MB mapped and advised
// ahead of its frontier: when less is left in the frontier's chunk, the
// rest of it is spilled over (allocated and kept, one page into the next
// chunk), so that the runtime maps the next chunk now, while nothing has
// touched it. Without this, about half the warm commands (those whose
// heap started late in its random first chunk) grew into a chunk after
// the last Advise and faulted 200 pages more.
func roomAhead(b, end uintptr) {
	if left := (end+chunkSize-1)&^(chunkSize-1) - end; left < hugeSize {
		spills = append(spills, make([]byte, left+runtimePage))
	}
	advise(b)
}

func advise(b uintptr) {
	syscall.Syscall(syscall.SYS_MADVISE, b&^(arenaSize-1), span, madvHugepage)
}

func adviseAhead(b uintptr) { roomAhead(b, frontier()) }
