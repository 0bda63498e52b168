package census

import (
	"fmt"
	"math/bits"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pycoroner/pycoroner/bigarray"
	"github.com/pycoroner/pycoroner/internal/faultgroup"
)

// The census visits objects in address order, not in the order they are
// found. A core is far bigger than any cache: reading object headers in
// discovery order costs a cache and TLB miss each (about 120 ns), reading
// them in address order lets the hardware prefetch (about 3 ns). So a
// reference only marks its target in the address set and in a "pending"
// bitmap; sweeps over the pending bits visit the marked objects in
// ascending order, checking each one's type and walking its references.
// A sweep also visits what it marks ahead of itself; what it marks behind
// itself waits for the next sweep. A marked word that turns out not to be
// an object (a wild pointer) is unmarked when it is visited, and the
// edges to it are dropped when the census is laid out.
//
// The address space is split among workers (one per CPU, for a heap big
// enough): each owns the bits of its part, visits the objects there, and
// sends the marks that land in another part to that part's owner. So no
// bit is written by two goroutines, and nothing but the type table is
// locked.

// census is the state the workers share.
type census[T any] struct {
	model   Model[T]
	opts    Options
	seen    *addrBits       // marked: visited objects and pending addresses
	seedBad map[uint64]bool // roots and GC list entries that are not objects
	workers []*worker[T]
	bounds  []int // worker i owns bitmap words [bounds[i], bounds[i+1])

	typesMu  sync.Mutex
	types    []T               // the census's type table
	typeAddr []uint64          // the address of each type's object
	typeIx   map[uint64]uint32 // type object address -> index in types

	tally bool         // record no object: count them per type (Tally)
	keep  func(T) bool // a tally's: the types whose objects it lists (TallyOf)
	start time.Time    // when the census began

	objects   atomic.Int64 // visited so far, for progress
	maxed     atomic.Bool  // a worker reached its share of maxObjects, or maxEdges
	budgetHit atomic.Bool  // ... of Options.MaxObjects
	perWorker int          // the objects one worker may record
	progress  func(int)

	// message passing between workers
	mu    sync.Mutex
	wake  *sync.Cond
	inbox [][][]uint64 // per worker: batches of addresses to mark
	idle  int
	done  bool
}

// Options tune a census.
type Options struct {
	// Progress, when set, is called now and then with the objects found.
	Progress func(objects int)
	// MaxObjects, when positive, bounds the objects the census records
	// (the caller's memory budget divided by what one object costs): a
	// heap bigger than that is a *TooBigError, found as soon as the GC
	// lists are read when they say it is clearly too big (a heap has
	// about 8 objects per GC-tracked one), else when the census gets
	// there; the census reserves no more than that.
	MaxObjects int
	// Workers, when positive, is how many goroutines split the census,
	// whatever the heap's size (for tests and comparisons). Zero: one per
	// CPU (at most 8) for a heap of at least MinParallelSeed GC-tracked
	// objects, else one.
	Workers int
}

// MinParallelSeed is the number of GC-tracked objects from which a census
// is worth splitting among CPUs.
const MinParallelSeed = 20000

// Build takes the census of model.
func Build[T any](model Model[T], opts Options) (*Heap[T], error) {
	c := newCensus(model, opts, false)
	h := &Heap[T]{model: model, main: model.NewReader()}
	seeds, err := c.walk(&h.Stats)
	if err != nil {
		// A census past its memory budget is often followed by a
		// tally (cmd/pycoroner): what it reserved goes back first.
		c.release()
		return nil, err
	}
	h.roots = seeds.Roots
	step := time.Now()
	h.finish(c)
	if opts.Progress != nil {
		opts.Progress(h.Len())
	}
	traceStep("census: ids", &step)
	h.Stats.Duration = time.Since(c.start)
	h.Stats.Phases[2] = h.Stats.Duration - h.Stats.Phases[0] - h.Stats.Phases[1]
	for i := range h.roots {
		if id, ok := h.Find(h.roots[i].Addr); ok {
			h.roots[i].ID = id
		} else {
			h.roots[i].ID = -1
		}
	}
	hint := 0
	for _, a := range seeds.Hidden {
		if id, ok := h.findHint(a, &hint); ok {
			h.hidden = append(h.hidden, id)
		}
	}
	return h, nil
}

// newCensus sets up a census of model; tally: one that records no object
// (Tally).
func newCensus[T any](model Model[T], opts Options, tally bool) *census[T] {
	c := &census[T]{model: model, opts: opts, seen: newAddrBits(model.Ranges()), seedBad: map[uint64]bool{},
		progress: opts.Progress, typeIx: map[uint64]uint32{}, tally: tally, start: time.Now()}
	c.wake = sync.NewCond(&c.mu)
	c.perWorker = maxObjects
	c.bounds = []int{0, len(c.seen.words) / 2}
	seeder := c.newWorker(0)
	seeder.pend = newPending(c.seen, 0, 0)
	c.workers = []*worker[T]{seeder}
	return c
}

// walk finds every object: the model's seeds, then the workers' sweeps
// until nothing is left to visit. It fills the seeding and sweeping parts
// of st.
func (c *census[T]) walk(st *Stats) (Seeds, error) {
	// The Go collector has nothing to free during a census; let it rest.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	step := c.start
	seeder := c.workers[0]
	seeds, err := c.model.Seed(seeder.addPrecise)
	if err != nil {
		return seeds, err
	}
	st.GCTracked = c.seen.n
	c.seen.keepListed()
	st.GCCollecting = seeds.GCCollecting
	st.Incomplete = seeds.Incomplete
	for _, root := range seeds.Roots {
		seeder.addPrecise(root.Addr)
	}
	for _, a := range seeds.Hidden {
		seeder.addPrecise(a)
	}
	tSeed := time.Since(c.start)
	traceStep("census: GC lists and roots", &step)
	// Refused at once when even half the estimate is too many (the
	// estimate is rough: a heap of containers has fewer objects per
	// tracked one); else the workers stop at the bound.
	if c.opts.MaxObjects > 0 && objectsPerTracked*st.GCTracked > 2*c.opts.MaxObjects {
		return seeds, &TooBigError{Objects: objectsPerTracked * st.GCTracked, GCTracked: st.GCTracked, Max: c.opts.MaxObjects, Estimated: true}
	}
	c.split(seeder, st.GCTracked)
	c.run()
	tSweep := time.Since(c.start)
	traceStep("census: sweeps", &step)
	st.Phases[0], st.Phases[1] = tSeed, tSweep-tSeed
	if c.maxed.Load() {
		if c.budgetHit.Load() {
			found := 0
			for _, wk := range c.workers {
				found += wk.visited()
			}
			return seeds, &TooBigError{Objects: found, GCTracked: st.GCTracked, Max: c.opts.MaxObjects}
		}
		if c.tally {
			return seeds, fmt.Errorf("more than %d objects: refusing to go on", maxObjects)
		}
		return seeds, fmt.Errorf("more than %d objects or %d references: refusing to go on", maxObjects, maxEdges)
	}
	return seeds, nil
}

// release gives back what the census's workers recorded and its address
// bitmaps, for a census that ends without a heap (a tally, or an error).
func (c *census[T]) release() {
	for _, wk := range c.workers {
		wk.free()
	}
	bigarray.Free(c.seen.words)
	bigarray.Free(c.seen.listed)
	c.seen.words, c.seen.listed = nil, nil
	bigarray.Trim()
}

// split divides the address space among workers, each part holding about
// as many of the marks made so far (a sample of where the heap is); the
// seeding worker hands its pending marks over.
func (c *census[T]) split(seeder *worker[T], seeded int) {
	// GOMAXPROCS, not NumCPU: since Go 1.25 it follows a container's CPU
	// quota, where NumCPU counts the host's CPUs.
	want := min(runtime.GOMAXPROCS(0), 8)
	if c.opts.Workers > 0 {
		// For tests, and for comparing: this many workers, whatever the
		// heap's size.
		want, seeded = c.opts.Workers, max(seeded, MinParallelSeed)
	}
	n := 1
	if seeded >= MinParallelSeed {
		n = min(want, maxParts-1)
	}
	nw := len(c.seen.words) / 2
	if n > 1 {
		c.bounds = []int{0}
		per, sum := (c.seen.n+n-1)/n, 0
		for w := 0; w < nw && len(c.bounds) < n; w++ {
			sum += bits.OnesCount64(c.seen.words[2*w])
			if sum >= per*len(c.bounds) {
				c.bounds = append(c.bounds, w+1)
			}
		}
		if c.bounds[len(c.bounds)-1] < nw {
			c.bounds = append(c.bounds, nw)
		}
		n = len(c.bounds) - 1
	}
	c.workers = make([]*worker[T], n)
	c.inbox = make([][][]uint64, n)
	c.perWorker = maxObjects / n
	if c.opts.MaxObjects > 0 {
		c.perWorker = min(c.perWorker, (c.opts.MaxObjects+n-1)/n)
	}
	for i := range c.workers {
		wk := seeder
		if i > 0 {
			wk = c.newWorker(i)
		}
		if !c.tally {
			wk.reserve(min(objectsPerTracked*seeded/n, c.perWorker), c.perWorker)
		}
		wk.pend = newPending(c.seen, c.bounds[i], c.bounds[i+1])
		wk.out = make([][]uint64, n)
		c.workers[i] = wk
	}
}

// run lets every worker sweep its part until no marks are left anywhere.
func (c *census[T]) run() {
	if len(c.workers) == 1 {
		c.workers[0].run()
		return
	}
	var g faultgroup.Group // a core truncated while read: a panic the CLI reports, not a crash
	for _, wk := range c.workers {
		g.Go(func() {
			defer c.stopAll() // a worker that panics must not leave the others waiting
			wk.run()
		})
	}
	g.Wait()
}

// stopAll ends the census for every worker once their sweeps end.
func (c *census[T]) stopAll() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
	c.wake.Broadcast()
}

// send hands a batch of marks to their owner.
func (c *census[T]) send(to int, batch []uint64) {
	c.mu.Lock()
	c.inbox[to] = append(c.inbox[to], batch)
	c.mu.Unlock()
	c.wake.Broadcast()
}

// receive returns the batches sent to worker me; when there are none it
// waits, and returns nil once every worker waits (the census is over).
func (c *census[T]) receive(me int) [][]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if in := c.inbox[me]; len(in) > 0 {
			c.inbox[me] = nil
			return in
		}
		if c.done {
			return nil
		}
		c.idle++
		if c.idle == len(c.workers) && c.inboxesEmpty() {
			// Nobody works and nothing is on its way: a worker woken
			// by a batch but not yet running still counts as idle,
			// hence the look at the inboxes.
			c.done = true
			c.wake.Broadcast()
			return nil
		}
		c.wake.Wait()
		c.idle--
	}
}

func (c *census[T]) inboxesEmpty() bool {
	for _, in := range c.inbox {
		if len(in) > 0 {
			return false
		}
	}
	return true
}

// typeIndex is the index in the census's type table of the type whose
// object is at typeAddr, adding it (and marking the type object, which
// every instance refers to) the first time, and whether the model says
// its objects can be tracked by the collector (Reader.GCType). Each
// worker keeps a small direct-mapped cache in front of the shared table:
// a census asks once per object, mostly for a handful of types.
func (c *census[T]) typeIndex(wk *worker[T], t T, typeAddr uint64) *typeSlot {
	slot := &wk.typeCache[(typeAddr>>4)&(typeCacheSize-1)]
	if slot.addr == typeAddr && slot.ok {
		return slot
	}
	gc := wk.rd.GCType(t)
	keep := c.keep != nil && c.keep(t)
	c.typesMu.Lock()
	ix, ok := c.typeIx[typeAddr]
	if !ok {
		ix = uint32(len(c.types))
		c.types = append(c.types, t)
		c.typeAddr = append(c.typeAddr, typeAddr)
		c.typeIx[typeAddr] = ix
	}
	c.typesMu.Unlock()
	if !ok {
		wk.mark(typeAddr)
	}
	*slot = typeSlot{typeAddr, ix, true, gc, keep}
	return slot
}

// finish gives every object its id, its rank in the address set, and
// keeps what the workers recorded where it is: only vis, from id to
// record, is written per object. Edges to marks that were not objects
// (only a damaged core has any) are dropped first.
func (h *Heap[T]) finish(c *census[T]) {
	f := c.seen.freeze()
	h.set = f
	h.types = c.types
	h.typeAddr = c.typeAddr
	h.parts = make([]heapPart, len(c.workers))
	n := 0
	// A mark one worker took back may have edges from any worker.
	dangling := false
	for _, wk := range c.workers {
		n += len(wk.order)
		dangling = dangling || wk.dangling > 0
	}
	for _, wk := range c.workers {
		// Before the id map adds to the peak: the room left in the last
		// page of each array (2 MB pages: package bigarray).
		bigarray.TrimTail(wk.order)
		bigarray.TrimTail(wk.typeOf)
		bigarray.TrimTail(wk.sizes)
		bigarray.TrimTail(wk.edgeOff)
		bigarray.TrimTail(wk.edges)
	}
	h.vis = bigarray.Make[uint32](n)
	var g faultgroup.Group
	for i, wk := range c.workers {
		wk.edgeOff = append(wk.edgeOff, uint32(len(wk.edges)))
		h.parts[i] = heapPart{order: wk.order, typeOf: wk.typeOf, sizes: wk.sizes, edgeOff: wk.edgeOff, edges: wk.edges}
		p := &h.parts[i]
		g.Go(func() {
			hint := 0
			if dangling {
				p.dropEdges(f)
			}
			for k, a := range p.order {
				h.vis[f.rankHint(a, &hint)] = uint32(i)<<partShift | uint32(k)
			}
		})
	}
	g.Wait()
	h.typeObj = make([]ObjectID, len(h.types))
	hint := 0
	for i, a := range c.typeAddr {
		h.typeObj[i] = -1
		if f.hasHint(a, &hint) {
			h.typeObj[i] = ObjectID(f.rankOf(a))
		}
	}
	h.Stats.Objects = n
	h.Stats.Unreadable = len(c.seedBad)
	for i, wk := range c.workers {
		h.Stats.Conservative += wk.conservative
		h.Stats.GCUnlisted += wk.unlisted
		h.Stats.Unreadable += len(wk.bad)
		h.Stats.Edges += len(h.parts[i].edges)
	}
}

// dropEdges removes, in place, the edges to addresses that are not in the
// set.
func (p *heapPart) dropEdges(f *frozenBits) {
	hint, w := 0, uint32(0)
	start := p.edgeOff[0]
	for k := range p.order {
		end := p.edgeOff[k+1]
		p.edgeOff[k] = w
		for _, e := range p.edges[start:end] {
			if f.hasHint(e, &hint) {
				p.edges[w] = e
				w++
			}
		}
		start = end
	}
	p.edgeOff[len(p.order)] = w
	p.edges = p.edges[:w]
}

// objectsPerTracked: a heap has about 8 objects for each one the GC
// tracks (ints, strs, floats are not tracked). It sizes the workers'
// arrays and estimates a census before it is taken.
const objectsPerTracked = 8

// TooBigError says a census would record more objects than
// Options.MaxObjects allows.
type TooBigError struct {
	Objects   int  // found, or estimated from the GC lists
	GCTracked int  // objects on the GC lists
	Max       int  // Options.MaxObjects
	Estimated bool // Objects is an estimate: the census stopped after reading the GC lists
}

func (e *TooBigError) Error() string {
	if e.Estimated {
		return fmt.Sprintf("about %d objects (%d on the GC lists), more than the %d allowed", e.Objects, e.GCTracked, e.Max)
	}
	return fmt.Sprintf("more than the %d objects allowed (%d found when the census stopped)", e.Max, e.Objects)
}
