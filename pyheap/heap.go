package pyheap

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

// ObjectID indexes a Heap's object table (sorted by address).
type ObjectID int32

// Heap is the census of every live object reachable in the image: the
// GC-tracked objects, the roots, and everything they reference. Objects
// are kept as compact arrays sorted by address; edges are stored once
// (targets only, CSR) and labelled on demand by re-walking an object.
type Heap struct {
	r         *Runtime
	addrs     []uint64 // sorted
	typeIdx   []uint32 // index into types
	sizes     []uint32 // shallow size, sys.getsizeof; computed on first use
	sizesOnce sync.Once
	types     []*Type    // distinct types
	typeObj   []ObjectID // the type object of each distinct type, -1 if unreadable
	edgeOff   []uint32   // edges of object i: edges[edgeOff[i]:edgeOff[i+1]]
	edges     []ObjectID // targets
	revOff    []uint32   // reverse index, built on demand
	rev       []ObjectID
	roots     []Root
	Stats     HeapStats
}

// HeapStats says what the census found and what it could not read.
type HeapStats struct {
	Objects      int
	GCTracked    int
	Edges        int
	Conservative int // edges from a conservative scan
	Unreadable   int // pointers to memory that is not a valid object
	GCCollecting bool
	Duration     time.Duration
}

// maxObjects bounds a census of an untrusted image.
const maxObjects = 1 << 28

// HeapOptions tune a census.
type HeapOptions struct {
	// Progress, when set, is called now and then with the objects found.
	Progress func(objects int)
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
	h.Stats.GCTracked = len(c.order)
	c.reserve(len(c.order) * 8)
	var iframes []uint64
	h.roots, iframes = r.roots(interps)
	for _, root := range h.roots {
		if root.Addr != 0 {
			c.add(root.Addr)
		}
	}
	for _, rootFrame := range iframes {
		c.walkRootFrame(rootFrame)
	}
	// Walk everything found, which finds more: frontier by frontier.
	for lo := 0; lo < len(c.order); {
		if len(c.order) > maxObjects {
			return nil, fmt.Errorf("more than %d objects: refusing to go on", maxObjects)
		}
		hi := len(c.order)
		for i := lo; i < hi; i++ {
			c.walk(i)
		}
		lo = hi
		if opts.Progress != nil {
			opts.Progress(len(c.order))
		}
	}
	c.edgeOff = append(c.edgeOff, uint32(len(c.edgeAddrs)))
	h.finish(c)
	h.Stats.Objects = len(h.addrs)
	h.Stats.Unreadable = len(c.bad)
	h.Stats.Edges = len(h.edges)
	h.Stats.Conservative = c.conservative
	h.Stats.Duration = time.Since(start)
	for i := range h.roots {
		if id, ok := h.Find(h.roots[i].Addr); ok {
			h.roots[i].ID = id
		} else {
			h.roots[i].ID = -1
		}
	}
	return h, nil
}

// census is the state of one census in progress.
type census struct {
	r            *Runtime
	seen         *addrBits
	bad          map[uint64]bool // references to things that are not objects
	emit         emitFunc
	order        []uint64 // objects in discovery order
	typeOf       []uint32
	types        []*Type
	gen          uint32
	prepared     int      // types whose walk description is ready
	edgeOff      []uint32 // per object in order
	edgeAddrs    []uint64
	conservative int
	walked       int
}

// add records an object, checking that it has a valid type. It returns
// false for pointers that are not objects.
func (c *census) add(addr uint64) bool { return c.addRef(addr, false) }

// addRef is add for a reference; a conservative one that is not an object
// is no error, just a word that was not a pointer.
func (c *census) addRef(addr uint64, conservative bool) bool {
	if addr == 0 || addr%8 != 0 {
		return false
	}
	if c.seen.has(addr) {
		return true
	}
	if c.bad[addr] {
		return false
	}
	t, err := c.r.TypeOf(addr)
	return c.addWithType(addr, t, err, conservative)
}

func (c *census) addWithType(addr uint64, t *Type, err error, conservative bool) bool {
	if err != nil {
		if !conservative {
			c.bad[addr] = true
		}
		return false
	}
	newType := t.censusGen != c.gen
	if newType {
		t.censusGen, t.censusIx = c.gen, uint32(len(c.types))
		c.types = append(c.types, t)
	}
	ix := t.censusIx
	c.seen.add(addr)
	c.order = append(c.order, addr)
	c.typeOf = append(c.typeOf, ix)
	if newType {
		c.add(t.Addr) // every object refers to its type; the type is an object too
	}
	return true
}

// walk follows object i's references; objects are walked in order, so
// edgeOff[i] is where i's edges start.
func (c *census) walk(i int) {
	c.edgeOff = append(c.edgeOff, uint32(len(c.edgeAddrs)))
	obj := c.order[i]
	t := c.types[c.typeOf[i]]
	walkObject(c.r, obj, t, c.emit)
}

func (c *census) onRef(target uint64, _ string, conservative bool) {
	if c.addRef(target, conservative) {
		c.edgeAddrs = append(c.edgeAddrs, target)
		if conservative {
			c.conservative++
		}
	}
}

// reserve grows the per-object arrays once, instead of doubling them
// many times while millions of objects are found.
func (c *census) reserve(objects int) {
	if cap(c.order) < objects {
		c.order = append(make([]uint64, 0, objects), c.order...)
		c.typeOf = append(make([]uint32, 0, objects), c.typeOf...)
		c.edgeOff = append(make([]uint32, 0, objects+1), c.edgeOff...)
		c.edgeAddrs = append(make([]uint64, 0, objects*2), c.edgeAddrs...)
	}
}

// walkRootFrame adds what a thread's interpreter frame (3.11+) holds: such
// frames live on the thread's data stack, not in any object.
func (c *census) walkRootFrame(fr uint64) {
	c.r.walkIFrame(fr, false, func(target uint64, _ string, _ bool) { c.add(target) })
}

// gcLists adds every object on an interpreter's GC generation lists.
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
			c.add(p + uint64(L.GCHeadSize))
			p, err = r.m.ptr(p)
		}
	}
}

// finish lays the objects out by address (their rank in the address set)
// and builds the edge arrays in that order.
func (h *Heap) finish(c *census) {
	n := len(c.order)
	f := c.seen.freeze()
	rank := make([]int32, n) // discovery index -> position by address
	h.addrs = make([]uint64, n)
	h.typeIdx = make([]uint32, n)
	h.types = c.types
	counts := make([]uint32, n+1)
	parallel(n, func(lo, hi int) {
		hint := 0
		for i := lo; i < hi; i++ {
			a := c.order[i]
			pos := int32(f.rankHint(a, &hint))
			rank[i] = pos
			h.addrs[pos] = a
			h.typeIdx[pos] = c.typeOf[i]
			counts[pos+1] = c.edgeOff[i+1] - c.edgeOff[i]
		}
	})
	for i := 1; i <= n; i++ {
		counts[i] += counts[i-1]
	}
	h.edgeOff = counts
	h.typeObj = make([]ObjectID, len(h.types))
	for i, t := range h.types {
		h.typeObj[i] = -1
		if c.seen.has(t.Addr) {
			h.typeObj[i] = ObjectID(f.rankOf(t.Addr))
		}
	}
	h.edges = make([]ObjectID, len(c.edgeAddrs))
	parallel(n, func(lo, hi int) {
		hint := 0
		for i := lo; i < hi; i++ {
			out := h.edges[counts[rank[i]]:]
			for j, target := range c.edgeAddrs[c.edgeOff[i]:c.edgeOff[i+1]] {
				out[j] = ObjectID(f.rankHint(target, &hint))
			}
		}
	})
}

// Len is the number of objects.
func (h *Heap) Len() int { return len(h.addrs) }

// Addr is an object's address (its id()).
func (h *Heap) Addr(id ObjectID) uint64 { return h.addrs[id] }

// Type is an object's type.
func (h *Heap) Type(id ObjectID) *Type { return h.types[h.typeIdx[id]] }

// Size is an object's shallow size, as sys.getsizeof reports it. Sizes
// are computed for every object on first use (in parallel): a census that
// answers no question about sizes does not pay for them.
func (h *Heap) Size(id ObjectID) int64 {
	h.sizesOnce.Do(h.computeSizes)
	return int64(h.sizes[id])
}

func (h *Heap) computeSizes() {
	h.sizes = make([]uint32, len(h.addrs))
	parallel(len(h.addrs), func(lo, hi int) {
		// Each goroutine reads through its own copy: the memory window in
		// Runtime.m is per reader. shallowSize writes no other state.
		wr := *h.r
		wr.m = mem{img: h.r.m.img}
		for i := lo; i < hi; i++ {
			h.sizes[i] = uint32(wr.shallowSize(h.addrs[i], h.types[h.typeIdx[i]]))
		}
	})
}

// Runtime is the runtime the census read.
func (h *Heap) Runtime() *Runtime { return h.r }

// Find looks an address up.
func (h *Heap) Find(addr uint64) (ObjectID, bool) {
	i := sort.Search(len(h.addrs), func(i int) bool { return h.addrs[i] >= addr })
	if i < len(h.addrs) && h.addrs[i] == addr {
		return ObjectID(i), true
	}
	return -1, false
}

// Refs lists the objects id refers to, except its type: every object
// refers to its type, and the census keeps that edge implicitly (see
// TypeObject); Referrers and Edges include it.
func (h *Heap) Refs(id ObjectID) []ObjectID { return h.edges[h.edgeOff[id]:h.edgeOff[id+1]] }

// TypeObject is the id of id's type object, or -1 when the type is not a
// readable object.
func (h *Heap) TypeObject(id ObjectID) ObjectID { return h.typeObj[h.typeIdx[id]] }

// Referrers lists the objects that refer to id (the reverse index is built
// on first use).
func (h *Heap) Referrers(id ObjectID) []ObjectID {
	if h.revOff == nil {
		h.buildReverse()
	}
	return h.rev[h.revOff[id]:h.revOff[id+1]]
}

func (h *Heap) buildReverse() {
	n := len(h.addrs)
	counts := make([]uint32, n+1)
	for _, t := range h.edges {
		counts[t+1]++
	}
	for src := 0; src < n; src++ {
		if t := h.TypeObject(ObjectID(src)); t >= 0 {
			counts[t+1]++
		}
	}
	for i := 1; i <= n; i++ {
		counts[i] += counts[i-1]
	}
	rev := make([]ObjectID, counts[n])
	fill := append([]uint32(nil), counts[:n]...)
	for src := 0; src < n; src++ {
		for _, t := range h.edges[h.edgeOff[src]:h.edgeOff[src+1]] {
			rev[fill[t]] = ObjectID(src)
			fill[t]++
		}
		if t := h.TypeObject(ObjectID(src)); t >= 0 {
			rev[fill[t]] = ObjectID(src)
			fill[t]++
		}
	}
	h.revOff, h.rev = counts, rev
}

// Edge is one labelled reference.
type Edge struct {
	Target       ObjectID
	Addr         uint64
	Via          string
	Conservative bool
}

// Edges re-walks an object to label its references.
func (h *Heap) Edges(id ObjectID) []Edge {
	var out []Edge
	h.r.walkRefs(h.addrs[id], h.Type(id), true, func(target uint64, via string, conservative bool) {
		if t, ok := h.Find(target); ok {
			out = append(out, Edge{Target: t, Addr: target, Via: via, Conservative: conservative})
		}
	})
	return out
}

// Roots lists the named roots.
func (h *Heap) Roots() []Root { return h.roots }

// IndexBytes is the memory the census keeps per heap: the object table,
// the edge arrays and (once built) the reverse index.
func (h *Heap) IndexBytes() int64 {
	return int64(len(h.addrs))*8 + int64(len(h.typeIdx))*4 + int64(len(h.typeObj))*4 + int64(len(h.sizes))*4 +
		int64(len(h.edgeOff))*4 + int64(len(h.edges))*4 + int64(len(h.revOff))*4 + int64(len(h.rev))*4
}

// parallel splits [0, n) among the CPUs.
func parallel(n int, fn func(lo, hi int)) {
	workers := runtime.NumCPU()
	if workers > 8 {
		workers = 8
	}
	if n < 1<<16 || workers < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		hi := lo + step
		if hi > n {
			hi = n
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
}
