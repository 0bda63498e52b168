package main

import (
	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/indexfile"
	"github.com/pycoroner/pycoroner/pyheap"
)

// indexLoad is a heap command's saved index, mapped and its arrays'
// checksums verified while the runtime is found in the core (pyheap.Open
// and the index are independent): the checksums cost a warm command on
// 21 M objects 20-50 ms of CPU, on both CPUs, which then overlap the
// runtime's discovery on one. heapOf uses the result as if it had loaded
// the index itself.
type indexLoad struct {
	done  chan struct{}
	cache *indexfile.Cache
	key   indexfile.Key
	why   string // no index can be used, why (a warning)
	x     *indexfile.Index
	err   error // from cache.Load
}

// savedArrays are the arrays of a saved census (pyheap/census/saved.go)
// that a command using parts reads: the type indexes always, then one or
// two per part. A name missing here is verified when it is read, as
// before; one that the census no longer saves is not verified at all.
func savedArrays(parts pyheap.SavedParts) []string {
	names := []string{"type_of"}
	for _, p := range []struct {
		part  pyheap.SavedParts
		names []string
	}{
		{pyheap.SavedAddrs, []string{"addr_segs", "addr_words", "addr_rank", "addr_sel", "addr_extra"}},
		{pyheap.SavedSizes, []string{"sizes"}},
		{pyheap.SavedReverse, []string{"rev_off", "rev"}},
		{pyheap.SavedForward, []string{"fwd_off", "fwd"}},
	} {
		if parts&p.part != 0 {
			names = append(names, p.names...)
		}
	}
	return names
}

// loadIndexAhead starts loading p's saved census index and verifying the
// arrays parts read; the caller waits for it (wait) before it returns.
func (g *globalFlags) loadIndexAhead(p *coreread.Process, parts pyheap.SavedParts) *indexLoad {
	l := &indexLoad{done: make(chan struct{})}
	// The key now: the goroutine must not read the core, which is closed
	// if no runtime is found in it.
	l.cache, l.key, l.why = g.indexFor(p)
	if l.cache == nil {
		close(l.done)
		return l
	}
	go func() {
		defer close(l.done)
		l.x, l.err = l.cache.Load(l.key, pyheap.HeapIndexSchema)
		if l.err != nil {
			return
		}
		// A damaged array is remembered (and the file removed): Preload
		// then fails as it would have, and heapOf takes the census.
		for _, name := range savedArrays(parts) {
			if l.x.Has(name) {
				l.x.Verify(name)
			}
		}
	}()
	return l
}

// wait is the loaded index, once ready.
func (l *indexLoad) wait() *indexLoad {
	<-l.done
	return l
}
