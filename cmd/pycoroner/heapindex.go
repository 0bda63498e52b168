package main

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/coreread/unwind"
	"github.com/pycoroner/pycoroner/indexfile"
	"github.com/pycoroner/pycoroner/internal/elfdwarf"
	"github.com/pycoroner/pycoroner/pyheap"
)

// indexTraceEnv, when set, makes heap commands say on stderr whether they
// loaded or saved an index (for tests and for the curious).
const indexTraceEnv = "PYCORONER_INDEX_TRACE"

// heapOf gives hs its census: restored from the core's saved index when
// there is a usable one, else taken, and then saved. A saved index that
// cannot be used, or one that cannot be saved, is a warning, never a
// failure.
// parts are the parts of a saved census the command uses: read and checked
// now, so that a damaged one is rebuilt before the answer starts.
// ahead, when not nil, is the index loaded while the core was opened.
func (g *globalFlags) heapOf(hs *heapSession, path string, parts pyheap.SavedParts, ahead *indexLoad) (warnings []string, err error) {
	if ahead == nil {
		ahead = &indexLoad{}
		ahead.cache, ahead.key, ahead.why = g.indexFor(hs.proc)
		if ahead.cache != nil {
			ahead.x, ahead.err = ahead.cache.Load(ahead.key, pyheap.HeapIndexSchema)
		}
	}
	cache, key, why := ahead.cache, ahead.key, ahead.why
	if why != "" {
		warnings = append(warnings, why)
	}
	if cache != nil {
		hs.cache, hs.key = cache, key
		x, err := ahead.x, ahead.err
		switch {
		case err == nil:
			h, err := hs.rt.LoadHeap(x)
			if err == nil {
				err = h.Preload(parts)
			}
			if err == nil {
				hs.h, hs.index = h, x
				indexTrace("loaded %s", x.Path())
				return warnings, nil
			}
			x.Close()
			os.Remove(x.Path())
			warnings = append(warnings, fmt.Sprintf("%v; the census was taken again", err))
		case errors.Is(err, indexfile.ErrNotFound):
		case errors.Is(err, indexfile.ErrCacheDir):
			// Saving there fails the same way: one warning, no save.
			warnings = append(warnings, fmt.Sprintf("no saved index: %v", err))
			cache, hs.cache = nil, nil
		default:
			warnings = append(warnings, fmt.Sprintf("%v; the census was taken again", err))
		}
	}
	h, err := g.census(hs.session, cache != nil)
	if tb := (*censusTooBig)(nil); errors.As(err, &tb) {
		tb.warnings = warnings // for the histogram that counts without it
	}
	if err != nil {
		return nil, err
	}
	hs.h = h
	if cache != nil {
		label := absPath(path)
		began := time.Now()
		saved, err := g.saveIndex(h, cache, key, label)
		if err != nil {
			hs.cache = nil // nothing for a dominator tree to stand beside
			warnings = append(warnings, fmt.Sprintf("heap index not saved (%v): the next command takes the census again", err))
		} else {
			indexTrace("saved %s in %v (layout and writing), resident %d MB", saved, time.Since(began).Round(time.Millisecond), residentBytes()>>20)
		}
	}
	return warnings, nil
}

// absPath is path made absolute for a cache entry's label (as given when
// that fails): the labels of one core's files then read alike.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// unwindOptions are the native unwinder's: the inflated DWARF of
// compressed debug files (Debian's -dbg packages) kept in the index cache,
// unless --no-index.
func (g *globalFlags) unwindOptions() unwind.Options {
	o := unwind.Options{Sysroot: g.sysroot}
	if g.noIndex {
		return o
	}
	if c, err := indexCache(); err == nil {
		o.DWARF = elfdwarf.Cached{Cache: c, Trace: indexTrace}
	}
	return o
}

func indexTrace(format string, args ...any) {
	if os.Getenv(indexTraceEnv) != "" {
		fmt.Fprintf(os.Stderr, "index: "+format+"\n", args...)
	}
}

// indexFor is the cache and the key of the session's core, or a nil cache
// when no index is to be used (--no-index, --pid) or none can be (and
// then why, as a warning).
func (g *globalFlags) indexFor(p *coreread.Process) (*indexfile.Cache, indexfile.Key, string) {
	if g.noIndex || liveTarget.pid != 0 {
		return nil, indexfile.Key{}, ""
	}
	cache, err := indexCache()
	if err != nil {
		return nil, indexfile.Key{}, fmt.Sprintf("no saved heap index: %v", err)
	}
	id, err := p.Identity()
	if err != nil {
		return nil, indexfile.Key{}, fmt.Sprintf("no saved heap index: %v", err)
	}
	// The key is the core's identity and what else shapes the census:
	// this pycoroner's binary (its walkers) and the flags that choose the
	// files and the layout.
	h := sha256.New()
	h.Write(id.Notes[:])
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			binary.Write(h, binary.LittleEndian, [2]int64{st.Size(), st.ModTime().UnixNano()})
		}
	}
	fmt.Fprintf(h, "\x00%s\x00%s\x00%v", g.sysroot, g.exe, g.noDWARF)
	key := indexfile.Key{Size: id.Size, MTime: id.MTime.UnixNano()}
	h.Sum(key.Hash[:0])
	return cache, key, ""
}

// close unmaps the saved index, then closes the core.
func (hs *heapSession) close() {
	if os.Getenv(indexTraceEnv) != "" {
		fmt.Fprintf(os.Stderr, "trace: command done: resident %d MB (peak %d MB)\n", residentBytes()>>20, peakResidentBytes()>>20)
	}
	for _, x := range hs.extra {
		x.Close()
	}
	if hs.index != nil {
		hs.index.Close()
	}
	hs.session.close()
}

// Memory a census costs per object (docs/limits.md): the census alone,
// and with its saved index built; 24 bytes per object and 8 per reference
// are measured, and these leave room for about two references per object.
const (
	censusBytesPerObject      = 40
	censusIndexBytesPerObject = 48
)

// census takes the census of s within the memory budget, with a progress
// bar when it takes long; withIndex: the index will be saved (it costs
// more memory).
func (g *globalFlags) census(s *session, withIndex bool) (*pyheap.Heap, error) {
	budget, from, err := memoryBudget()
	if err != nil {
		return nil, usageError{err}
	}
	perObject := int64(censusBytesPerObject)
	if withIndex {
		perObject = censusIndexBytesPerObject
	}
	opts := heapOptions()
	if budget > 0 {
		opts.MaxObjects = int(min(budget/perObject, 1<<31-1))
	}
	// A census reads most of a big core: map it at once rather than page
	// by page, unless it would crowd out the memory the census needs.
	// Measured (docs/benchmarks.md): a cold histogram of a 1.2 GB core
	// 3.9 s -> 3.1 s wall, peak + 11 MB (the pages no object lies in);
	// on a 177 MB core no faster, and the same 11 MB were 4 bytes per
	// object more.
	if size := s.proc.Size(); size >= populateMin && (budget == 0 || size <= budget/2) {
		s.proc.Populate()
	}
	prog := g.newProgress("heap census")
	opts.Progress = func(objects int) { prog.Update(int64(objects), -1) }
	h, err := s.rt.BuildHeap(opts)
	prog.Finish()
	var tb *pyheap.TooBigError
	if errors.As(err, &tb) {
		what := fmt.Sprintf("about %d objects (%d on the garbage collector's lists)", tb.Objects, tb.GCTracked)
		if !tb.Estimated {
			what = fmt.Sprintf("more than %d objects", tb.Objects)
		}
		return nil, &censusTooBig{tb: tb, perObject: perObject, budget: budget, from: from, msg: fmt.Sprintf("this heap has %s: its census needs about %s of memory besides the core (%d bytes per object), more than the %s of %s; run pycoroner where more memory is free, or set %s if it is (docs/limits.md)",
			what, gigabytes(int64(tb.Objects)*perObject), perObject, gigabytes(budget), from, memoryMaxEnv)}
	}
	return h, err
}

// populateMin is the smallest core a census maps at once (Populate).
const populateMin = 512 << 20

func gigabytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KB", n>>10) // a budget of 100K is not "0 MB"
	}
	if n < 1<<30 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
}

// saveIndex saves h's index, with a spinner on a terminal when it takes
// more than a second (the reverse index and writing hundreds of MB, for
// tens of millions of objects).
func (g *globalFlags) saveIndex(h *pyheap.Heap, cache *indexfile.Cache, key indexfile.Key, label string) (string, error) {
	prog := g.newSpinner("saving the heap index")
	done := make(chan struct{})
	if prog != nil {
		go func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					prog.Update(0, -1)
				}
			}
		}()
	}
	saved, err := h.SaveIndex(cache, key, label)
	close(done)
	prog.Finish()
	return saved, err
}
