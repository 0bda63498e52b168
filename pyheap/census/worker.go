package census

import (
	"math/bits"
	"slices"

	"github.com/pycoroner/pycoroner/bigarray"
)

// worker visits the objects in its part of the address space.
type worker[T any] struct {
	c    *census[T]
	id   int
	rd   Reader[T]                                       // its own: readers keep per-goroutine caches
	ra   RefAppender[T]                                  // rd, when it is one
	emit func(target uint64, via Ref, conservative bool) // onRef, bound once
	hint int                                             // last segment hit when locating addresses
	pend *pending                                        // marked, not yet visited, in this worker's part
	// addresses outside the bitmap, all owned by worker 0: pending ones
	// and the set (c.seen.extra)
	extraQ []uint64
	out    [][]uint64      // marks for other workers, not yet sent
	bad    map[uint64]bool // marked by a precise reference, and not objects
	// per visited object, in visit order
	order   []uint64
	typeOf  []uint32
	sizes   []uint32 // shallow sizes, read while the object's header is in cache
	edgeOff []uint32 // edges of order[k]: edges[edgeOff[k]:edgeOff[k+1]]
	edges   []uint64
	// conservative edges, marks of its own that were not objects, and
	// objects tracked by the collector but on none of its lists
	conservative, dangling, unlisted int
	reported                         int // objects added to c.objects
	typeCache                        [typeCacheSize]typeSlot
	tally                            tallyCounts // a tally's, instead of the arrays above
	recount                          bool        // onRef only records the edge (a tally's droppedEdges)
}

// typeSlot caches one type's index in the census's type table.
type typeSlot struct {
	addr uint64
	ix   uint32
	ok   bool
	gc   bool // Reader.GCType
	keep bool // Options.Keep, for a tally
}

const typeCacheSize = 256

// sendBatch is how many marks a worker collects for another before
// sending them.
const sendBatch = 4096

func (c *census[T]) newWorker(id int) *worker[T] {
	wk := &worker[T]{c: c, id: id, rd: c.model.NewReader(), bad: map[uint64]bool{}}
	wk.emit = wk.onRef
	wk.ra, _ = wk.rd.(RefAppender[T])
	return wk
}

// reserve sets up the per-object arrays once: outside the Go heap, room
// for the most objects and edges a worker may record (address space,
// touched only as it is used: package bigarray); where the system refuses such
// a mapping, on the Go heap, for the objects this worker will likely
// visit (estimate), instead of doubling them many times.
func (wk *worker[T]) reserve(estimate, most int) {
	wk.order = reserveFor(wk.order, estimate, most)
	wk.typeOf = reserveFor(wk.typeOf, estimate, most)
	wk.sizes = reserveFor(wk.sizes, estimate, most)
	wk.edgeOff = reserveFor(wk.edgeOff, estimate+1, most+1)
	wk.edges = reserveFor(wk.edges, estimate, maxEdges)
}

// reserveFor reserves room for most elements outside the Go heap, or for
// estimate on it.
func reserveFor[E any](s []E, estimate, most int) []E {
	if len(s) == 0 {
		if r, ok := bigarray.TryReserve[E](most, estimate); ok {
			return r
		}
	}
	return reserved(s, estimate)
}

// free gives back what the worker recorded (after the heap has taken
// what it keeps).
func (wk *worker[T]) free() {
	bigarray.Free(wk.order)
	bigarray.Free(wk.typeOf)
	bigarray.Free(wk.sizes)
	bigarray.Free(wk.edgeOff)
	bigarray.Free(wk.edges)
	wk.order, wk.typeOf, wk.sizes, wk.edgeOff, wk.edges = nil, nil, nil, nil, nil
}

// reserved is slices.Grow(s, n) without clearing the new room when s is
// empty: slices.Grow writes zeros over all of it, which in a fresh process
// faults in every page of a reservation that is only an estimate (a third
// of a whole histogram's CPU time went there), where memory fresh from the
// system is zero already and is touched only as it is used.
func reserved[E any](s []E, n int) []E {
	if len(s) == 0 && cap(s) < n {
		return make([]E, 0, n)
	}
	return slices.Grow(s, n)
}

// owner is the worker that owns bitmap word w.
func (c *census[T]) owner(w int) int {
	for i := 1; i < len(c.bounds)-1; i++ {
		if w < c.bounds[i] {
			return i - 1
		}
	}
	return len(c.bounds) - 2
}

// mark records addr as an object to visit, or sends it to its owner.
// Nothing is read from the image here.
func (wk *worker[T]) mark(addr uint64) {
	c := wk.c
	bit := c.seen.locateHint(addr, &wk.hint)
	to := 0
	if bit >= 0 {
		to = c.owner(bit / 64)
	}
	if to != wk.id {
		wk.out[to] = append(wk.out[to], addr)
		if len(wk.out[to]) >= sendBatch {
			c.send(to, wk.out[to])
			wk.out[to] = make([]uint64, 0, sendBatch)
		}
		return
	}
	wk.markOwn(addr, bit)
}

// markOwn is mark for an address this worker owns (bit is its bit, or -1
// outside the bitmap).
func (wk *worker[T]) markOwn(addr uint64, bit int) {
	c := wk.c
	if len(wk.bad) > 0 && wk.bad[addr] || len(c.seedBad) > 0 && c.seedBad[addr] {
		return
	}
	if bit >= 0 {
		w, m := bit/64, uint64(1)<<(bit%64)
		if c.seen.words[2*w]&m != 0 {
			return
		}
		c.seen.words[2*w] |= m
		wk.pend.set(w, m)
		return
	}
	if c.seen.extra[addr] {
		return
	}
	c.seen.extra[addr] = true
	wk.extraQ = append(wk.extraQ, addr)
}

// unmark takes back a mark that turned out not to be an object.
func (wk *worker[T]) unmark(addr uint64) {
	c := wk.c
	if bit := c.seen.locateHint(addr, &wk.hint); bit >= 0 {
		c.seen.words[bit/64*2] &^= 1 << (bit % 64)
	} else {
		delete(c.seen.extra, addr)
	}
	wk.bad[addr] = true
	wk.dangling++ // at least one edge names it
}

// addPrecise marks an object named by a root or a GC list, checking it at
// once: such objects are few, and a bad one counts as unreadable. Only
// the seeding worker, alone, calls it.
func (wk *worker[T]) addPrecise(addr uint64) {
	c := wk.c
	if addr == 0 {
		return
	}
	if addr%8 != 0 {
		c.seedBad[addr] = true
		return
	}
	if c.seen.hasHint(addr, &wk.hint) {
		return
	}
	if _, _, err := wk.rd.TypeOf(addr); err != nil {
		c.seedBad[addr] = true
		return
	}
	wk.markOwn(addr, c.seen.locateHint(addr, &wk.hint))
	c.seen.n++
}

// onRef records an edge and marks its target. A word found by a
// conservative scan is checked at once (such words are few, and most are
// not pointers), so that the edges to marks that turn out not to be
// objects come only from damaged memory, and finish has nothing to drop
// in a healthy core.
func (wk *worker[T]) onRef(target uint64, _ Ref, conservative bool) {
	if target == 0 || target%8 != 0 {
		return
	}
	if conservative {
		if _, _, err := wk.rd.TypeOf(target); err != nil {
			return
		}
		if wk.recount {
			wk.edges = append(wk.edges, target)
			return
		}
		wk.conservative++
	}
	if wk.recount {
		wk.edges = append(wk.edges, target)
		return
	}
	if len(wk.edges) >= maxEdges {
		wk.c.maxed.Store(true) // edge offsets are 32 bits
		return
	}
	wk.edges = append(wk.edges, target)
	wk.mark(target)
}

// maxEdges bounds the edges one census worker records.
const maxEdges = 1 << 31

// run sweeps this worker's part until no marks are left anywhere.
func (wk *worker[T]) run() {
	c := wk.c
	for {
		wk.sweep()
		sent := false
		for to, batch := range wk.out {
			if len(batch) > 0 {
				c.send(to, batch)
				wk.out[to] = nil
				sent = true
			}
		}
		if sent || len(c.workers) == 1 {
			if len(c.workers) == 1 {
				return
			}
			continue // look at the inbox without waiting on it
		}
		in := c.receive(wk.id)
		if in == nil {
			return
		}
		for _, batch := range in {
			for _, a := range batch {
				wk.markOwn(a, c.seen.locateHint(a, &wk.hint))
			}
		}
	}
}

// sweep visits this worker's pending objects in address order, wrapping
// around to what was marked behind it, until none is left. It takes a
// whole word of pending bits at a time; marks that land in that word
// meanwhile are found again on the next look.
func (wk *worker[T]) sweep() {
	c := wk.c
	segs := c.seen.segs
	lo := c.bounds[wk.id]
	si, from := 0, lo
	for {
		w := wk.pend.next(from)
		if w < 0 && from > lo {
			w, si = wk.pend.next(lo), 0
		}
		if w < 0 {
			if len(wk.extraQ) == 0 {
				return
			}
			a := wk.extraQ[len(wk.extraQ)-1]
			wk.extraQ = wk.extraQ[:len(wk.extraQ)-1]
			wk.visit(a, c.seen.listedExtra[a])
			continue
		}
		word := wk.pend.take(w)
		from = w
		for si+1 < len(segs) && segs[si+1].word <= w {
			si++
		}
		base := segs[si].start + uint64(w-segs[si].word)*64*8
		listed := c.seen.listed[w]
		for word != 0 {
			tz := bits.TrailingZeros64(word)
			wk.visit(base+uint64(tz)*8, listed&(1<<tz) != 0)
			word &= word - 1
		}
		if n := wk.visited(); c.progress != nil && n-wk.reported >= 1<<16 {
			// Counted per worker: a counter shared by all would bounce
			// between CPUs on every object.
			c.objects.Add(int64(n - wk.reported))
			wk.reported = n
			if wk.id == 0 {
				c.progress(int(c.objects.Load()))
			}
		}
	}
}

// visited is how many objects this worker recorded (or counted).
func (wk *worker[T]) visited() int {
	if wk.c.tally {
		return wk.tally.objects
	}
	return len(wk.order)
}

// visit checks that a marked address is an object and walks it. An
// object of a type the collector tracks that was not on the model's GC
// lists (listed) is asked whether it should have been (Reader.Tracked):
// here its header is at hand, and the census's workers share the reading.
func (wk *worker[T]) visit(addr uint64, listed bool) {
	t, typeAddr, err := wk.rd.TypeOf(addr)
	if err != nil {
		wk.unmark(addr)
		return
	}
	if n := wk.visited(); n >= wk.c.perWorker {
		if n < maxObjects/len(wk.c.workers) {
			wk.c.budgetHit.Store(true)
		}
		wk.c.maxed.Store(true)
		return
	}
	slot := wk.c.typeIndex(wk, t, typeAddr)
	size := wk.rd.Size(addr, t)
	if size < 0 || size > 1<<32-1 {
		size = 0
	}
	if slot.gc && !listed && wk.rd.Tracked(addr, t) {
		wk.unlisted++
	}
	if wk.c.tally {
		wk.tally.add(addr, slot, size)
		wk.edges = wk.edges[:0]
		wk.walkRefs(addr, t)
		wk.tally.edges += len(wk.edges)
		return
	}
	wk.order = append(wk.order, addr)
	wk.typeOf = append(wk.typeOf, slot.ix)
	wk.sizes = append(wk.sizes, uint32(size))
	wk.edgeOff = append(wk.edgeOff, uint32(len(wk.edges)))
	wk.walkRefs(addr, t)
}

// walkRefs records addr's references as edges (onRef).
func (wk *worker[T]) walkRefs(addr uint64, t T) {
	if wk.ra != nil {
		start := len(wk.edges)
		if edges, ok := wk.ra.AppendRefs(addr, t, wk.edges); ok {
			// Each appended target is recorded again, in place, as
			// onRef records one (it writes no further than it reads).
			wk.edges = edges[:start]
			for _, e := range edges[start:] {
				wk.onRef(e, Ref{}, false)
			}
			return
		}
	}
	wk.rd.Refs(addr, t, wk.emit)
}
