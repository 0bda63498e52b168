package pyheap

import (
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
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
type census struct {
	r       *Runtime
	gen     uint32
	seen    *addrBits       // marked: visited objects and pending addresses
	seedBad map[uint64]bool // roots and GC list entries that are not objects
	workers []*worker
	bounds  []int // worker i owns bitmap words [bounds[i], bounds[i+1])

	typesMu sync.Mutex
	types   []*Type // the census's type table

	objects  atomic.Int64 // visited so far, for progress
	maxed    atomic.Bool  // a worker reached its share of maxObjects, or maxEdges
	progress func(int)

	// message passing between workers
	mu    sync.Mutex
	wake  *sync.Cond
	inbox [][][]uint64 // per worker: batches of addresses to mark
	idle  int
	done  bool
}

// minParallelSeed is the number of GC-tracked objects from which the
// census is worth splitting among CPUs; censusWorkers, when set, is the
// number of workers to use instead of one per CPU. Tests change both.
var (
	minParallelSeed = 20000
	censusWorkers   = 0
)

// BuildHeap takes the census.
func (r *Runtime) BuildHeap(opts HeapOptions) (*Heap, error) {
	start := time.Now()
	var ranges [][2]uint64
	for _, s := range r.m.img.Segments() {
		if s.Filesz > 0 {
			ranges = append(ranges, [2]uint64{s.Vaddr, s.Vaddr + s.Filesz})
		}
	}
	r.censuses++
	// Names of types that must come from memory are looked up once, now:
	// renaming types while workers read them would race.
	r.fallbackName(0)
	c := &census{r: r, gen: r.censuses, seen: newAddrBits(ranges), seedBad: map[uint64]bool{}, progress: opts.Progress}
	c.wake = sync.NewCond(&c.mu)
	c.bounds = []int{0, len(c.seen.words) / 2}
	seeder := c.newWorker(0)
	seeder.pend = newPending(c.seen, 0, 0)
	c.workers = []*worker{seeder}
	// The Go collector has nothing to free during a census; let it rest.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	interps, err := r.Interpreters()
	if err != nil && len(interps) == 0 {
		return nil, err
	}
	h := &Heap{r: r}
	for _, in := range interps {
		seeder.gcLists(in, &h.Stats)
	}
	h.Stats.GCTracked = c.seen.n
	var iframes []uint64
	h.roots, iframes = r.roots(interps)
	for _, root := range h.roots {
		seeder.addPrecise(root.Addr)
	}
	for _, rootFrame := range iframes {
		r.walkIFrame(rootFrame, false, func(target uint64, _ string, _ bool) { seeder.addPrecise(target) })
	}
	tSeed := time.Since(start)
	c.split(seeder, h.Stats.GCTracked)
	c.run()
	tSweep := time.Since(start)
	if c.maxed.Load() {
		return nil, fmt.Errorf("more than %d objects or %d references: refusing to go on", maxObjects, maxEdges)
	}
	h.finish(c)
	h.checkGC()
	if err := h.Stats.gcEmptyError(); err != nil {
		return nil, err
	}
	if opts.Progress != nil {
		opts.Progress(h.Len())
	}
	h.Stats.Duration = time.Since(start)
	h.Stats.Phases = [3]time.Duration{tSeed, tSweep - tSeed, h.Stats.Duration - tSweep}
	for i := range h.roots {
		if id, ok := h.Find(h.roots[i].Addr); ok {
			h.roots[i].ID = id
		} else {
			h.roots[i].ID = -1
		}
	}
	return h, nil
}

// split divides the address space among workers, each part holding about
// as many of the marks made so far (a sample of where the heap is); the
// seeding worker hands its pending marks over.
func (c *census) split(seeder *worker, seeded int) {
	want := min(runtime.NumCPU(), 8)
	if censusWorkers > 0 {
		want = censusWorkers
	}
	if forced, err := strconv.Atoi(os.Getenv("PYCORONER_CENSUS_WORKERS")); err == nil && forced > 0 {
		// For tests, and for comparing: this many workers, whatever the
		// heap's size.
		want, seeded = forced, max(seeded, minParallelSeed)
	}
	n := 1
	if seeded >= minParallelSeed {
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
	c.workers = make([]*worker, n)
	c.inbox = make([][][]uint64, n)
	for i := range c.workers {
		wk := seeder
		if i > 0 {
			wk = c.newWorker(i)
		}
		// A heap has about 8 objects for each one the GC tracks.
		wk.reserve(8 * seeded / n)
		wk.pend = newPending(c.seen, c.bounds[i], c.bounds[i+1])
		wk.out = make([][]uint64, n)
		c.workers[i] = wk
	}
}

// run lets every worker sweep its part until no marks are left anywhere.
func (c *census) run() {
	if len(c.workers) == 1 {
		c.workers[0].run()
		return
	}
	var wg sync.WaitGroup
	var pb panicBox
	for _, wk := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.stopAll() // a worker that panics must not leave the others waiting
			defer pb.catch()
			debug.SetPanicOnFault(true) // a core truncated while read: a panic the CLI reports, not a crash
			wk.run()
		}()
	}
	wg.Wait()
	pb.rethrow()
}

// stopAll ends the census for every worker once their sweeps end.
func (c *census) stopAll() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
	c.wake.Broadcast()
}

// send hands a batch of marks to their owner.
func (c *census) send(to int, batch []uint64) {
	c.mu.Lock()
	c.inbox[to] = append(c.inbox[to], batch)
	c.mu.Unlock()
	c.wake.Broadcast()
}

// receive returns the batches sent to worker me; when there are none it
// waits, and returns nil once every worker waits (the census is over).
func (c *census) receive(me int) [][]uint64 {
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

func (c *census) inboxesEmpty() bool {
	for _, in := range c.inbox {
		if len(in) > 0 {
			return false
		}
	}
	return true
}

// typeIndex is t's index in the census's type table, adding it (and
// marking the type object, which every instance refers to) the first time.
func (c *census) typeIndex(wk *worker, t *Type) uint32 {
	if key := t.censusKey.Load(); uint32(key>>32) == c.gen {
		return uint32(key)
	}
	c.typesMu.Lock()
	key := t.censusKey.Load()
	if uint32(key>>32) == c.gen {
		c.typesMu.Unlock()
		return uint32(key)
	}
	ix := uint32(len(c.types))
	c.types = append(c.types, t)
	t.censusKey.Store(uint64(c.gen)<<32 | uint64(ix))
	c.typesMu.Unlock()
	wk.mark(t.Addr)
	return ix
}

// finish gives every object its id, its rank in the address set, and
// keeps what the workers recorded where it is: only vis, from id to
// record, is written per object. Edges to marks that were not objects
// (only a damaged core has any) are dropped first.
func (h *Heap) finish(c *census) {
	f := c.seen.freeze()
	h.set = f
	h.types = c.types
	h.parts = make([]heapPart, len(c.workers))
	n := 0
	// A mark one worker took back may have edges from any worker.
	dangling := false
	for _, wk := range c.workers {
		n += len(wk.order)
		dangling = dangling || wk.dangling > 0
	}
	h.vis = make([]uint32, n)
	var wg sync.WaitGroup
	var pb panicBox
	for i, wk := range c.workers {
		wk.edgeOff = append(wk.edgeOff, uint32(len(wk.edges)))
		h.parts[i] = heapPart{order: wk.order, typeOf: wk.typeOf, edgeOff: wk.edgeOff, edges: wk.edges}
		wg.Add(1)
		go func(i int, p *heapPart) {
			defer wg.Done()
			defer pb.catch()
			debug.SetPanicOnFault(true) // a core truncated while read: a panic the CLI reports, not a crash
			hint := 0
			if dangling {
				p.dropEdges(f)
			}
			for k, a := range p.order {
				h.vis[f.rankHint(a, &hint)] = uint32(i)<<partShift | uint32(k)
			}
		}(i, &h.parts[i])
	}
	wg.Wait()
	pb.rethrow()
	h.typeObj = make([]ObjectID, len(h.types))
	hint := 0
	for i, t := range h.types {
		h.typeObj[i] = -1
		if f.hasHint(t.Addr, &hint) {
			h.typeObj[i] = ObjectID(f.rankOf(t.Addr))
		}
	}
	h.Stats.Objects = n
	h.Stats.Unreadable = len(c.seedBad)
	for i, wk := range c.workers {
		h.Stats.Conservative += wk.conservative
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
