package coreread

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// The core is mmapped, and callers read it through the slices InCore
// returns. When another process truncates the file (a copy still in
// progress, a disk quota, a rotation job), touching a page past the new end
// raises SIGBUS, which by default kills a Go program with a runtime dump.
// A goroutine that called debug.SetPanicOnFault(true) gets a panic
// instead; FaultError turns that panic into the error to report. Only the
// goroutine that recovers knows how far the damage goes, so coreread does
// not recover on its callers' behalf (except inside Open).

// ErrCoreChanged is returned (wrapped) when the core file shrank while it
// was read.
var ErrCoreChanged = errors.New("the core changed while being read")

// coreMapping is one mapping of a core, remembered after Close too: the
// deferred Close of a command runs while the fault's panic unwinds, before
// the recover at the top sees it.
type coreMapping struct {
	start, size uintptr
	name        string // for messages: the path the user gave
	file        string // the file mapped, to see whether it shrank
}

// maxClosedMappings bounds the closed mappings remembered.
const maxClosedMappings = 16

var mappedCores struct {
	sync.Mutex
	open   map[*Process]coreMapping
	closed []coreMapping
}

func registerMapping(p *Process) {
	mappedCores.Lock()
	defer mappedCores.Unlock()
	if mappedCores.open == nil {
		mappedCores.open = map[*Process]coreMapping{}
	}
	mappedCores.open[p] = coreMapping{uintptr(unsafe.Pointer(unsafe.SliceData(p.data))), uintptr(len(p.data)), p.path, p.f.Name()}
}

func unregisterMapping(p *Process) {
	mappedCores.Lock()
	defer mappedCores.Unlock()
	m, ok := mappedCores.open[p]
	if !ok {
		return
	}
	delete(mappedCores.open, p)
	mappedCores.closed = append(mappedCores.closed, m)
	if n := len(mappedCores.closed); n > maxClosedMappings {
		mappedCores.closed = mappedCores.closed[n-maxClosedMappings:]
	}
}

// faultAddr is what the runtime's panic value for a memory fault offers.
type faultAddr interface{ Addr() uintptr }

// FaultError returns the error to report for r, a value recovered from a
// panic, when r is a memory fault inside a core's mapping and the core
// file is now shorter than when it was mapped. It returns nil for any
// other panic (a bug stays a bug). Faults panic, instead of killing the
// program, only on goroutines that called debug.SetPanicOnFault(true).
func FaultError(r any) error {
	fa, ok := r.(faultAddr)
	if !ok {
		return nil
	}
	addr := fa.Addr()
	mappedCores.Lock()
	all := append([]coreMapping(nil), mappedCores.closed...)
	for _, m := range mappedCores.open {
		all = append(all, m)
	}
	mappedCores.Unlock()
	for _, m := range all {
		if addr >= m.start && addr-m.start < m.size {
			return m.changedError()
		}
	}
	return nil
}

// changedError says that the core file no longer holds what it held when
// it was mapped, or returns nil when it still does.
func (m coreMapping) changedError() error {
	now := "it is gone"
	if st, err := os.Stat(m.file); err == nil {
		if uintptr(st.Size()) >= m.size {
			return nil
		}
		now = fmt.Sprintf("now %d bytes", st.Size())
	}
	return fmt.Errorf("%s: %w (%d bytes when opened, %s): is it still being written, or was it truncated? Read a copy that nothing else writes", m.name, ErrCoreChanged, m.size, now)
}
