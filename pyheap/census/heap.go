package census

import (
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/pycoroner/pycoroner/bigarray"
	"github.com/pycoroner/pycoroner/internal/faultgroup"
)

// ObjectID names an object of a Heap: its rank in address order.
type ObjectID int32

// Heap is the census of every live object reachable in the image: the
// GC-tracked objects, the roots, and everything they reference. Object ids
// follow address order (an id is the object's rank in the address set);
// what the census recorded stays in the arrays each census worker filled,
// in its visit order, and vis maps an id to its place there. Edges are
// stored once, as target addresses, turned into ids when the reverse index
// is built on first use, and labelled on demand by re-walking an object.
type Heap[T any] struct {
	model     Model[T]
	main      Reader[T] // for the questions asked after the census, one at a time
	vis       []uint32  // id -> part<<partShift | index in that part
	parts     []heapPart
	sizes     []uint32 // shallow size, sys.getsizeof; computed on first use
	sizesOnce sync.Once
	types     []T        // distinct types
	typeAddr  []uint64   // the address of each distinct type's object
	typeObj   []ObjectID // the type object of each distinct type, -1 if unreadable
	set       *frozenBits
	revOff    []uint32 // reverse index, built on demand
	rev       []ObjectID
	roots     []Root
	hidden    []ObjectID // objects the model's hidden roots refer to
	fwdOnce   sync.Once  // the forward index of Graph
	fwdOff    []uint32
	fwd       []ObjectID
	// flat: restored from saved arrays (saved.go) or laid out for saving:
	// one part in id order, no vis, no set.
	flat  bool
	addrs *addrIndex   // a flat heap's addresses
	saved *savedSource // a restored heap's saved arrays, read on first use
	// The roots by the object they name, and a filter of those objects
	// (indexRoots), for ShortestPaths.
	rootIndexOnce sync.Once
	rootsOf       map[ObjectID][]Root
	rootFilter    idFilter
	// pathNext is ShortestPaths' array, zero between searches (pathScratch).
	pathMu      sync.Mutex
	pathNext    []uint32
	pathTouched []ObjectID
	// rootReach: the objects some named root reaches, when known
	// (SetNamedRootReach).
	rootReach []uint64
	// totals: TypeTotals' counts and sizes, once computed for saving or
	// restored from the saved arrays (a warm histogram reads no object's
	// type or size).
	totals *typeTotals
	Stats  Stats
}

type typeTotals struct {
	counts []int
	sizes  []int64
}

// heapPart is what one census worker recorded, in its visit order.
type heapPart struct {
	order   []uint64 // addresses
	typeOf  []uint32 // index into Heap.types
	sizes   []uint32 // shallow sizes (census parts only: a flat heap keeps Heap.sizes)
	edgeOff []uint32 // edges of order[k]: edges[edgeOff[k]:edgeOff[k+1]]
	edges   []uint64 // target addresses
}

// vis packs a part (at most maxParts) and an index in it (less than
// maxObjects) into 32 bits.
const (
	partShift = 28
	maxParts  = 1 << (32 - partShift)
)

// at is where id's record is: its part's index and its index there.
func (h *Heap[T]) at(id ObjectID) (part int, k uint32) {
	if h.flat {
		return 0, uint32(id)
	}
	v := h.vis[id]
	return int(v >> partShift), v & (1<<partShift - 1)
}

// Stats says what the census found and what it could not read.
type Stats struct {
	Objects      int
	GCTracked    int
	Edges        int
	Conservative int // edges from a conservative scan
	Unreadable   int // pointers to memory that is not a valid object
	GCCollecting bool
	// GCUnlisted counts the objects the census found on none of the GC
	// lists that say they are tracked by the collector (Reader.Tracked):
	// the model's check that its lists were read whole.
	GCUnlisted int
	// Restored: the census was restored from a saved one (saved.go);
	// Duration and Phases are those of the census then.
	Restored bool
	// Incomplete says, in sentences, what makes this census miss objects
	// (the model's seeds, and its checks after the census): every answer
	// from it must say so.
	Incomplete []string
	Duration   time.Duration
	// Phases splits Duration: the GC lists and roots, the sweeps that
	// visit every object, and giving each object its id (address order).
	Phases [3]time.Duration
}

// maxObjects bounds a census of an untrusted image.
const maxObjects = 1 << 28

// Len is the number of objects.
func (h *Heap[T]) Len() int {
	if h.flat {
		return len(h.parts[0].typeOf)
	}
	return len(h.vis)
}

// Addr is an object's address (its id()).
func (h *Heap[T]) Addr(id ObjectID) uint64 {
	if h.saved != nil {
		h.need(SavedAddrs)
	}
	if h.flat {
		return h.addrs.addr(id)
	}
	p, k := h.at(id)
	return h.parts[p].order[k]
}

// Type is an object's type.
func (h *Heap[T]) Type(id ObjectID) T { return h.types[h.typeIndex(id)] }

// TypeAddr is the address of an object's type object.
func (h *Heap[T]) TypeAddr(id ObjectID) uint64 { return h.typeAddr[h.typeIndex(id)] }

func (h *Heap[T]) typeIndex(id ObjectID) uint32 {
	p, k := h.at(id)
	return h.parts[p].typeOf[k]
}

// Size is an object's shallow size, as sys.getsizeof reports it. The
// census reads each object's size while it visits it (its header is in
// cache then); they are laid out in id order on first use.
func (h *Heap[T]) Size(id ObjectID) int64 {
	h.sizesOnce.Do(h.computeSizes)
	return int64(h.sizes[id])
}

func (h *Heap[T]) computeSizes() {
	if h.sizes != nil {
		return // laid out with the heap (flatten)
	}
	if h.saved != nil {
		h.need(SavedSizes)
		return
	}
	h.sizes = bigarray.Make[uint32](h.Len())
	parallel(h.Len(), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p, k := h.at(ObjectID(i))
			h.sizes[i] = h.parts[p].sizes[k]
		}
	})
}

// Find looks an address up.
func (h *Heap[T]) Find(addr uint64) (ObjectID, bool) {
	var hint int
	return h.findHint(addr, &hint)
}

// Containing finds the object whose own memory holds addr, when addr is
// not an object's own address: what an address read off a struct, a
// buffer or a debugger points into. extent is the bytes an object spans
// from its address (not its shallow size, which counts a GC header before
// it and buffers elsewhere). Ids follow addresses, so a binary search
// finds the nearest object below.
func (h *Heap[T]) Containing(addr uint64, extent func(ObjectID) uint64) (ObjectID, bool) {
	n := h.Len()
	i := sort.Search(n, func(i int) bool { return h.Addr(ObjectID(i)) > addr }) - 1
	if i < 0 {
		return -1, false
	}
	id := ObjectID(i)
	if addr-h.Addr(id) < extent(id) {
		return id, true
	}
	return -1, false
}

// findHint is Find with the caller's own hint (see frozenBits.rankHint).
func (h *Heap[T]) findHint(addr uint64, hint *int) (ObjectID, bool) {
	if h.flat {
		if h.saved != nil {
			h.need(SavedAddrs)
		}
		return h.addrs.find(addr)
	}
	if addr%8 != 0 || !h.set.hasHint(addr, hint) {
		return -1, false
	}
	// The set holds exactly the objects (marks that were not objects were
	// taken back), so the rank is the id.
	if i := h.set.rankHint(addr, hint); i < h.Len() {
		return ObjectID(i), true
	}
	return -1, false
}

// TypeObject is the id of id's type object, or -1 when the type is not a
// readable object.
func (h *Heap[T]) TypeObject(id ObjectID) ObjectID { return h.typeObj[h.typeIndex(id)] }

// Referrers lists the objects that refer to id (the reverse index is built
// on first use).
func (h *Heap[T]) Referrers(id ObjectID) []ObjectID {
	if h.revOff == nil {
		h.buildReverse()
	}
	return h.rev[h.revOff[id]:h.revOff[id+1]]
}

func (h *Heap[T]) buildReverse() {
	if h.saved != nil {
		h.need(SavedReverse)
		return
	}
	n := h.Len()
	// Every edge's target as an id, in the parts' layout.
	targets := make([][]ObjectID, len(h.parts))
	counts := bigarray.Make[uint32](n + 1)
	for i := range h.parts {
		part := h.parts[i].edges
		targets[i] = bigarray.Make[ObjectID](len(part))
		parallel(len(part), func(lo, hi int) {
			hint := 0
			for j := lo; j < hi; j++ {
				targets[i][j], _ = h.findHint(part[j], &hint)
			}
		})
		for _, t := range targets[i] {
			if t >= 0 {
				counts[t+1]++
			}
		}
	}
	for src := 0; src < n; src++ {
		if t := h.TypeObject(ObjectID(src)); t >= 0 {
			counts[t+1]++
		}
	}
	for i := 1; i <= n; i++ {
		counts[i] += counts[i-1]
	}
	rev := bigarray.Make[ObjectID](int(counts[n]))
	fill := bigarray.Make[uint32](n)
	copy(fill, counts[:n])
	for src := 0; src < n; src++ {
		p, k := h.at(ObjectID(src))
		off := h.parts[p].edgeOff
		for _, t := range targets[p][off[k]:off[k+1]] {
			if t < 0 {
				continue
			}
			rev[fill[t]] = ObjectID(src)
			fill[t]++
		}
		if t := h.TypeObject(ObjectID(src)); t >= 0 {
			rev[fill[t]] = ObjectID(src)
			fill[t]++
		}
	}
	bigarray.Free(fill)
	for i := range targets {
		bigarray.Free(targets[i])
	}
	h.revOff, h.rev = counts, rev
}

// EdgeAddrs is id's references as the census recorded them: target
// addresses, in the model's order, its type excepted (see TypeObject).
func (h *Heap[T]) EdgeAddrs(id ObjectID) []uint64 {
	if h.flat {
		// The edges as addresses went when the heap was laid out flat:
		// they are the out-edges less the type's.
		out := h.Out(id)
		if h.TypeObject(id) >= 0 && len(out) > 0 {
			out = out[:len(out)-1]
		}
		addrs := make([]uint64, len(out))
		for i, t := range out {
			addrs[i] = h.Addr(t)
		}
		return addrs
	}
	p, k := h.at(id)
	part := &h.parts[p]
	return part.edges[part.edgeOff[k]:part.edgeOff[k+1]]
}

// Edges re-walks an object to label its references.
func (h *Heap[T]) Edges(id ObjectID) []Edge {
	var out []Edge
	h.main.Labelled(h.Addr(id), h.Type(id), func(target uint64, via Ref, conservative bool) {
		if t, ok := h.Find(target); ok {
			out = append(out, Edge{Target: t, Addr: target, Via: via, Conservative: conservative})
		}
	})
	return out
}

// Roots lists the named roots.
func (h *Heap[T]) Roots() []Root { return h.roots }

// IndexBytes is the memory the census keeps per heap: the object table,
// the edge arrays and (once built) the reverse index.
func (h *Heap[T]) IndexBytes() int64 {
	n := int64(len(h.vis))*4 + int64(len(h.typeObj))*4 + int64(len(h.sizes))*4 +
		int64(len(h.revOff))*4 + int64(len(h.rev))*4 + int64(len(h.fwdOff))*4 + int64(len(h.fwd))*4
	if h.set != nil {
		n += int64(len(h.set.words))*8 + int64(len(h.set.rank))*4
	}
	if x := h.addrs; x != nil {
		n += int64(len(x.words))*8 + int64(len(x.rank)+len(x.sel))*4 + int64(len(x.extra))*12
	}
	for _, p := range h.parts {
		n += int64(len(p.order))*(8+4+4) + int64(len(p.edges))*8
	}
	return n
}

// parallel splits [0, n) among the CPUs the process may use
// (GOMAXPROCS follows a container's CPU quota; NumCPU does not, and some
// callers' workers each read a whole array, so extra ones only cost).
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), 8)
	if n < 1<<16 || workers < 2 {
		fn(0, n)
		return
	}
	var g faultgroup.Group // a core truncated while read: a panic the CLI reports, not a crash
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		g.Go(func() { fn(lo, hi) })
	}
	g.Wait()
}
