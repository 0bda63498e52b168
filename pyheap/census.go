package pyheap

import (
	"fmt"
	"math/bits"
	"runtime/debug"
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
// an object (a wild pointer, a conservative word) is unmarked when it is
// visited, and the edges to it are dropped when the census is laid out.

// census is the state of one census in progress.
type census struct {
	r      *Runtime
	seen   *addrBits       // marked: visited objects and pending addresses
	pend   *levelBits      // per bit of seen: marked, not yet visited
	extraQ []uint64        // pending addresses outside the bitmap
	bad    map[uint64]bool // named by a precise reference, and not objects
	emit   emitFunc
	gen    uint32
	types  []*Type
	// per visited object, in visit order
	order   []uint64
	typeOf  []uint32
	edgeOff []uint32 // edges of order[k]: edges[edgeOff[k]:edgeOff[k+1]]
	edges   []uint64 // target addresses; bit 0 set when found by a conservative scan
	maxed   bool
	// conservative edges, and precise ones to marks that were not objects
	conservative, dangling int
}

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
	c := &census{r: r, gen: r.censuses, seen: newAddrBits(ranges), bad: map[uint64]bool{}}
	c.pend = newLevelBits(len(c.seen.words) * 64)
	c.emit = c.onRef
	// The Go collector has nothing to free during a census; let it rest.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	interps, err := r.Interpreters()
	if err != nil && len(interps) == 0 {
		return nil, err
	}
	h := &Heap{r: r}
	for _, in := range interps {
		c.gcLists(in, &h.Stats)
	}
	h.Stats.GCTracked = c.seen.n
	c.reserve(c.seen.n * 8)
	var iframes []uint64
	h.roots, iframes = r.roots(interps)
	for _, root := range h.roots {
		c.addPrecise(root.Addr)
	}
	for _, rootFrame := range iframes {
		r.walkIFrame(rootFrame, false, func(target uint64, _ string, _ bool) { c.addPrecise(target) })
	}
	tSeed := time.Since(start)
	c.sweep(opts.Progress)
	tSweep := time.Since(start)
	if c.maxed {
		return nil, fmt.Errorf("more than %d objects: refusing to go on", maxObjects)
	}
	c.edgeOff = append(c.edgeOff, uint32(len(c.edges)))
	h.finish(c)
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

// mark records addr as an object to visit; it reports whether addr was
// new. Nothing is read from the image here.
func (c *census) mark(addr uint64) bool {
	if bit := c.seen.locate(addr); bit >= 0 {
		w, m := bit/64, uint64(1)<<(bit%64)
		if c.seen.words[w]&m != 0 {
			return false
		}
		if len(c.bad) > 0 && c.bad[addr] {
			return false
		}
		c.seen.words[w] |= m
		c.seen.n++
		c.pend.set(bit)
		return true
	}
	if c.seen.extra[addr] {
		return false
	}
	if c.bad[addr] {
		return false
	}
	c.seen.extra[addr] = true
	c.seen.n++
	c.extraQ = append(c.extraQ, addr)
	return true
}

// unmark takes back a mark that turned out not to be an object.
func (c *census) unmark(addr uint64) {
	if bit := c.seen.locate(addr); bit >= 0 {
		c.seen.words[bit/64] &^= 1 << (bit % 64)
	} else {
		delete(c.seen.extra, addr)
	}
	c.seen.n--
	c.bad[addr] = true
	c.dangling++ // at least one edge names it
}

// addPrecise marks an object named by a root or a GC list, checking it at
// once: such objects are few, and a bad one counts as unreadable.
func (c *census) addPrecise(addr uint64) {
	if addr == 0 {
		return
	}
	if addr%8 != 0 {
		c.bad[addr] = true
		return
	}
	if c.seen.has(addr) {
		return
	}
	if _, err := c.r.TypeOf(addr); err != nil {
		c.bad[addr] = true
		return
	}
	c.mark(addr)
}

// onRef records an edge and marks its target. A word found by a
// conservative scan is checked at once (such words are few, and most are
// not pointers), so that the edges to marks that turn out not to be
// objects come only from damaged memory, and finish has nothing to drop
// in a healthy core.
func (c *census) onRef(target uint64, _ string, conservative bool) {
	if target == 0 || target%8 != 0 {
		return
	}
	if conservative {
		if !c.seen.has(target) {
			if _, err := c.r.TypeOf(target); err != nil {
				return
			}
			c.mark(target)
		}
		c.conservative++
		c.edges = append(c.edges, target)
		return
	}
	c.edges = append(c.edges, target)
	c.mark(target)
}

// sweep visits pending objects in address order, wrapping around to what
// was marked behind it, until none is left. It takes a whole word of
// pending bits at a time; marks that land in that word meanwhile are found
// again on the next look.
func (c *census) sweep(progress func(int)) {
	segs := c.seen.segs
	nextReport := 1 << 20
	si, from := 0, 0
	for {
		bit := c.pend.next(from)
		if bit < 0 && from > 0 {
			bit, si = c.pend.next(0), 0
		}
		if bit < 0 {
			if len(c.extraQ) == 0 {
				break
			}
			a := c.extraQ[len(c.extraQ)-1]
			c.extraQ = c.extraQ[:len(c.extraQ)-1]
			c.visit(a)
			continue
		}
		w := bit / 64
		word := c.pend.takeWord(w)
		from = w * 64
		for si+1 < len(segs) && segs[si+1].word <= w {
			si++
		}
		base := segs[si].start + uint64(w-segs[si].word)*64*8
		for word != 0 {
			c.visit(base + uint64(bits.TrailingZeros64(word))*8)
			word &= word - 1
			if c.maxed {
				return
			}
		}
		if progress != nil && len(c.order) >= nextReport {
			progress(len(c.order))
			nextReport = len(c.order) + 1<<20
		}
	}
	if progress != nil {
		progress(len(c.order))
	}
}

// visit checks that a marked address is an object and walks it.
func (c *census) visit(addr uint64) {
	t, err := c.r.TypeOf(addr)
	if err != nil {
		c.unmark(addr)
		return
	}
	if len(c.order) >= maxObjects {
		c.maxed = true
		return
	}
	if t.censusGen != c.gen {
		t.censusGen, t.censusIx = c.gen, uint32(len(c.types))
		c.types = append(c.types, t)
		// Every object refers to its type (kept implicitly, see
		// TypeObject); the type is an object too.
		c.mark(t.Addr)
	}
	c.order = append(c.order, addr)
	c.typeOf = append(c.typeOf, t.censusIx)
	c.edgeOff = append(c.edgeOff, uint32(len(c.edges)))
	walkObject(c.r, addr, t, c.emit)
}

// reserve grows the per-object arrays once, instead of doubling them
// many times while millions of objects are found.
func (c *census) reserve(objects int) {
	if cap(c.order) < objects {
		c.order = append(make([]uint64, 0, objects), c.order...)
		c.typeOf = append(make([]uint32, 0, objects), c.typeOf...)
		c.edgeOff = append(make([]uint32, 0, objects+1), c.edgeOff...)
		c.edges = append(make([]uint64, 0, objects), c.edges...)
	}
}

// gcLists marks every object on an interpreter's GC generation lists.
func (c *census) gcLists(in Interp, st *HeapStats) {
	r := c.r
	L := r.L
	var gc uint64
	switch {
	case L.InterpGC >= 0:
		gc = in.Addr + uint64(L.InterpGC)
	case L.RuntimeGC >= 0:
		gc = r.Addr + uint64(L.RuntimeGC)
	default:
		return
	}
	if coll, err := r.m.i32(gc + uint64(L.GCCollecting)); err == nil && coll != 0 {
		st.GCCollecting = true
	}
	var heads []uint64
	for g := 0; g < 3; g++ {
		heads = append(heads, gc+uint64(L.GCGenerations)+uint64(g)*uint64(L.GCGenerationSize)+uint64(L.GCGenerationHead))
	}
	if L.GCPermanent >= 0 {
		heads = append(heads, gc+uint64(L.GCPermanent)+uint64(L.GCGenerationHead))
	}
	for _, head := range heads {
		p, err := r.m.ptr(head)
		for n := 0; err == nil && p != 0 && p&^3 != head && n < maxObjects; n++ {
			p &^= 3
			c.addPrecise(p + uint64(L.GCHeadSize))
			p, err = r.m.ptr(p)
		}
	}
}

// finish lays the objects out by address (their rank in the address set),
// dropping the edges to marks that were not objects (only a damaged core
// has any). The edges stay where the census put them, in visit order: an
// object's position says where its own run of edges is.
func (h *Heap) finish(c *census) {
	n := len(c.order)
	f := c.seen.freeze()
	h.set = f
	h.addrs = make([]uint64, n)
	h.typeIdx = make([]uint32, n)
	h.types = c.types
	h.edgeStart = make([]uint32, n)
	h.edgeEnd = make([]uint32, n)
	parallel(n, func(lo, hi int) {
		hint := 0
		for k := lo; k < hi; k++ {
			a := c.order[k]
			pos := f.rankHint(a, &hint)
			h.addrs[pos] = a
			h.typeIdx[pos] = c.typeOf[k]
			from, to := c.edgeOff[k], c.edgeOff[k+1]
			if c.dangling > 0 {
				kept := from
				for _, e := range c.edges[from:to] {
					if f.has(e) {
						c.edges[kept] = e
						kept++
					}
				}
				to = kept
			}
			h.edgeStart[pos], h.edgeEnd[pos] = from, to
		}
	})
	h.typeObj = make([]ObjectID, len(h.types))
	for i, t := range h.types {
		h.typeObj[i] = -1
		if f.has(t.Addr) {
			h.typeObj[i] = ObjectID(f.rankOf(t.Addr))
		}
	}
	h.edges = c.edges
	h.Stats.Objects = n
	h.Stats.Edges = len(h.edges)
	if c.dangling > 0 {
		h.Stats.Edges = 0
		for i := range h.edgeStart {
			h.Stats.Edges += int(h.edgeEnd[i] - h.edgeStart[i])
		}
	}
	h.Stats.Conservative = c.conservative
	h.Stats.Unreadable = len(c.bad)
}
