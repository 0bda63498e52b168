// Package hugeheap asks Linux to back the Go heap with 2 MB pages
// (transparent huge pages, MADV_HUGEPAGE), because on the virtual machines
// pycoroner runs on a page fault costs 30-40 µs: a warm heap command
// touched 2-3 MB of heap in 4 KB pages, 500-800 faults, about half of its
// time. One 2 MB fault costs about what 7 small ones do.
//
// The Go runtime maps its heap in 4 MB chunks as it grows and gives Linux
// no advice about them. Importing this package advises the first chunk as
// the process starts (collapsing the 2 MB half the runtime has already
// touched, MADV_COLLAPSE), and Advise advises the chunks mapped since;
// call it where a command is about to allocate. Memory a chunk already
// touched in 4 KB pages stays so. Nothing changes where the kernel has
// transparent huge pages off (enabled=never) or with GODEBUG=disablethp=1,
// the runtime's own switch for the opposite.
package hugeheap

import "syscall"

// base is the first heap chunk's address, 0 when advice is off.
var base uintptr

func init() {
	// Only syscall is imported, so that this runs among the first inits,
	// before most of the heap's first pages are touched.
	if godebug, _ := syscall.Getenv("GODEBUG"); contains(godebug, "disablethp=1") {
		return
	}
	base = adviseFirstChunk()
}

// Advise marks the heap mapped so far for 2 MB pages (the 2 MB ranges of
// it nothing has touched yet get one when first touched), after making
// the runtime map the next chunk when less than 2 MB is left before the
// heap's frontier.
func Advise() {
	if base != 0 {
		adviseAhead(base)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
