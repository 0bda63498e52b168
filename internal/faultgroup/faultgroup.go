// Package faultgroup runs goroutines whose panics reach the goroutine
// that waits for them. The work split among CPUs reads the core and the
// saved index through mappings: a file cut short while mapped faults, and
// with debug.SetPanicOnFault the fault is a panic, which the CLI turns into
// a one-line error. But SetPanicOnFault holds for one goroutine, and a
// recover sees only its own: without this a fault in a worker crashes the
// process with a stack trace. It knows nothing of what the work is.
package faultgroup

import (
	"runtime/debug"
	"sync"
)

// Group is a sync.WaitGroup whose goroutines fault as panics and whose
// first panic Wait raises again.
type Group struct {
	wg   sync.WaitGroup
	once sync.Once
	v    any
}

// Go runs fn in a goroutine of the group.
func (g *Group) Go(fn func()) {
	g.wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				g.once.Do(func() { g.v = r })
			}
		}()
		debug.SetPanicOnFault(true)
		fn()
	})
}

// Wait waits for every goroutine, then panics with the first panic one of
// them raised, if any.
func (g *Group) Wait() {
	g.wg.Wait()
	if g.v != nil {
		panic(g.v)
	}
}
