package census

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/pycoroner/pycoroner/bigarray"
)

// A census can be saved as plain arrays and restored from them without
// the census: a later process maps them (cmd/pycoroner keeps them in a
// saved index, package indexfile) and answers at once. The saved form is
// in id order: addresses, type indexes, shallow sizes, the reverse index,
// the out-edges when they were built (Graph), the type table as
// addresses, the roots and the stats. A restored heap is "flat": no
// census worker parts, no address bitmap (Find is a binary search over
// the addresses), out-edges derived from the reverse index when asked.

// SavedVersion is the version of the saved form: a saved census of
// another version is not restored. 2: roots name their interpreter. 3:
// addresses as the census's bitmap (addrIndex), not one array entry each.
// 4: the roots in a binary form of their own (savedroots.go), not in the
// JSON of the stats. 5: the interned strings are a named root (a census
// saved before lacks it, and its paths and suspects would differ).
const SavedVersion = 5

// ArraySink receives the arrays of a census to save.
type ArraySink interface {
	Uint64s(name string, v []uint64)
	Uint32s(name string, v []uint32)
	IDs(name string, v []ObjectID)
	Bytes(name string, v []byte)
}

// ArraySource gives saved arrays back. It checks them against damage
// (checksums); Restore checks that their values are consistent.
type ArraySource interface {
	Has(name string) bool
	// Trusted: the array's checksums and values were checked by an
	// earlier process and the file is unchanged (the value checks here
	// are skipped: on 21 M objects they cost more than a third of a read
	// of the core).
	Trusted(name string) bool
	Uint64s(name string) ([]uint64, error)
	Uint32s(name string) ([]uint32, error)
	IDs(name string) ([]ObjectID, error)
	Bytes(name string) ([]byte, error)
}

// savedMeta is the small part of a saved census, as JSON.
// savedMeta is the saved stats, as JSON (the roots are in "roots":
// savedroots.go).
type savedMeta struct {
	Stats Stats
}

// Save hands the census to sink: shallow sizes and the reverse index are
// computed first if they were not. A heap that is not flat becomes flat
// (the workers' arrays are dropped): what it answers does not change, and
// it holds about half the memory.
func (h *Heap[T]) Save(sink ArraySink) error {
	// A restored heap saved again (with more arrays, say) reads every
	// part first.
	if err := h.Preload(SavedAll); err != nil {
		return err
	}
	// Laid out first: flatten gathers the sizes where the workers'
	// addresses were (allSizes first would add an array to the peak).
	h.flatten()
	h.allSizes()
	meta, err := json.Marshal(savedMeta{Stats: h.Stats})
	if err != nil {
		return err
	}
	p := &h.parts[0]
	x := h.addrs
	sink.Uint64s("addr_segs", x.segs)
	sink.Uint64s("addr_words", x.words)
	sink.Uint32s("addr_rank", x.rank)
	sink.Uint32s("addr_sel", x.sel)
	sink.Uint64s("addr_extra", x.extra)
	sink.Uint32s("type_of", p.typeOf)
	sink.Uint32s("sizes", h.sizes)
	sink.Uint32s("rev_off", h.revOff)
	sink.IDs("rev", h.rev)
	sink.Uint64s("type_addrs", h.typeAddr)
	sink.IDs("type_objects", h.typeObj)
	sink.Uint64s("type_samples", h.typeSamples())
	sink.IDs("hidden", h.hidden)
	h.saveTotals(sink)
	if h.fwdOff != nil {
		sink.Uint32s("fwd_off", h.fwdOff)
		sink.IDs("fwd", h.fwd)
	}
	sink.Bytes("meta", meta)
	sink.Bytes("roots", encodeRoots(h.roots))
	return nil
}

// typeSamples is, per type, the address of one object of that type (0
// for none): Restore names the types from them.
func (h *Heap[T]) typeSamples() []uint64 {
	samples := make([]uint64, len(h.types))
	left := len(samples)
	typeOf := h.parts[0].typeOf
	h.addrs.each(func(id ObjectID, addr uint64) bool {
		if ix := typeOf[id]; samples[ix] == 0 {
			samples[ix] = addr
			left--
		}
		return left > 0
	})
	return samples
}

// flatten lays the census out in id order, builds the reverse index if
// it was not, and gives back what the workers recorded. Memory: each of
// the workers' arrays is freed as soon as its content is laid out (they
// live outside the Go heap: package bigarray); the edges are turned into ids
// in place for the reverse index, and freed after.
func (h *Heap[T]) flatten() {
	if h.flat {
		return
	}
	n := h.Len()
	step := time.Now()
	// The addresses in id order are the address set in order (the
	// set answers Find until the end): the workers' copies go first,
	// and the array in id order is made last, when the reverse index no
	// longer needs the workers' edges, so that the two are not in
	// memory at once.
	for i := range h.parts {
		bigarray.Free(h.parts[i].order)
		h.parts[i].order = nil
	}
	runtime.GC() // what is not outside the Go heap (package bigarray), for reuse
	typeOf := bigarray.Make[uint32](n)
	sizes := h.sizes
	gatherSizes := sizes == nil
	if gatherSizes {
		sizes = bigarray.Make[uint32](n)
	}
	parallel(n, func(lo, hi int) {
		for id := lo; id < hi; id++ {
			p, k := h.at(ObjectID(id))
			typeOf[id] = h.parts[p].typeOf[k]
			if gatherSizes {
				sizes[id] = h.parts[p].sizes[k]
			}
		}
	})
	h.sizesOnce.Do(func() {}) // laid out here
	h.sizes = sizes
	for i := range h.parts {
		bigarray.Free(h.parts[i].typeOf)
		bigarray.Free(h.parts[i].sizes)
		h.parts[i].typeOf, h.parts[i].sizes = nil, nil
	}
	bigarray.Trim() // what the types and sizes did not take: it would stay in RSS
	runtime.GC()
	traceStep("layout: types, sizes", &step)
	if h.revOff == nil {
		h.reverseConsumingEdges(typeOf)
	} else {
		h.freeEdges()
	}
	traceStep("layout: reverse index", &step)
	h.addrs = newAddrIndex(h.set)
	bigarray.Free(h.set.words) // copied; the ranks are the index's now
	bigarray.Trim()
	traceStep("layout: addresses", &step)
	h.parts = []heapPart{{typeOf: typeOf}}
	h.vis, h.set, h.flat = nil, nil, true
	runtime.GC()
}

// freeEdges gives back the workers' edges and the id map, once laid out.
func (h *Heap[T]) freeEdges() {
	for i := range h.parts {
		bigarray.Free(h.parts[i].edges)
		bigarray.Free(h.parts[i].edgeOff)
		h.parts[i].edges, h.parts[i].edgeOff = nil, nil
	}
	bigarray.Free(h.vis)
	h.vis = nil
}

// noTarget32 marks an edge whose target is not an object, once edges are
// ids (ids are below maxObjects).
const noTarget32 = 1<<32 - 1

// packIDs packs edges that hold ids (below 1<<32) into 32 bits each, in
// place at the start of the array, and gives the rest of the array's
// memory back (bigarray.Release). Ascending, each write lands at or below what
// is read next.
func packIDs(edges []uint64) []uint32 {
	if len(edges) == 0 {
		return nil
	}
	ids := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(edges))), len(edges))
	for j, e := range edges {
		ids[j] = uint32(e)
	}
	bigarray.Release(edges, 4*len(edges))
	return ids
}

// reverseConsumingEdges builds the reverse index as buildReverse does (the
// same order: referrers by id, each one's edges in order, then its type
// edge), consuming the workers' edges and the id map (vis), which it
// frees: their targets become ids in place, packed to 32 bits; they are
// gathered in id order (the out-edges, as Out gives them), the workers'
// arrays freed; and the reverse index is counted and filled from those,
// which are freed in turn. So the workers' edges and the reverse index
// are never in memory together, and the fill reads its sources in order.
func (h *Heap[T]) reverseConsumingEdges(typeOf []uint32) {
	n := h.Len()
	step := time.Now()
	ids := make([][]uint32, len(h.parts))
	for i := range h.parts {
		edges := h.parts[i].edges
		parallel(len(edges), func(lo, hi int) {
			hint := 0
			for j := lo; j < hi; j++ {
				if t, ok := h.findHint(edges[j], &hint); ok {
					edges[j] = uint64(uint32(t))
				} else {
					edges[j] = noTarget32
				}
			}
		})
		ids[i] = packIDs(edges)
	}
	traceStep("  reverse index: edge targets found", &step)
	typeObjOf := func(src int) ObjectID { return h.typeObj[typeOf[src]] }
	fwdOff := bigarray.Make[uint32](n + 1)
	parallel(n, func(lo, hi int) {
		for id := lo; id < hi; id++ {
			p, k := h.at(ObjectID(id))
			edgeOff := h.parts[p].edgeOff
			count := uint32(0)
			for _, t := range ids[p][edgeOff[k]:edgeOff[k+1]] {
				if t != noTarget32 {
					count++
				}
			}
			if typeObjOf(id) >= 0 {
				count++
			}
			fwdOff[id+1] = count
		}
	})
	for i := 1; i <= n; i++ {
		fwdOff[i] += fwdOff[i-1]
	}
	fwd := bigarray.Make[ObjectID](int(fwdOff[n]))
	parallel(n, func(lo, hi int) {
		for id := lo; id < hi; id++ {
			p, k := h.at(ObjectID(id))
			edgeOff := h.parts[p].edgeOff
			w := fwdOff[id]
			for _, t := range ids[p][edgeOff[k]:edgeOff[k+1]] {
				if t != noTarget32 {
					fwd[w] = ObjectID(t)
					w++
				}
			}
			if t := typeObjOf(id); t >= 0 {
				fwd[w] = t
			}
		}
	})
	h.freeEdges()
	bigarray.Trim()
	traceStep("  reverse index: out-edges by id", &step)
	h.revOff, h.rev = reverseOf(n, fwdOff, fwd)
	traceStep("  reverse index: referrers", &step)
	bigarray.Free(fwd)
	bigarray.Free(fwdOff)
}

// reverseOf is the reverse index of out-edges in id order: referrers by
// id, as often as they refer. Counting and filling write to random
// targets; each CPU takes the targets of its own range and reads every
// edge, so that each target's referrers stay in id order without a
// second array of offsets, and no write is shared.
func reverseOf(n int, fwdOff []uint32, fwd []ObjectID) (revOff []uint32, rev []ObjectID) {
	off := bigarray.Make[uint32](n + 1)
	parallel(n, func(lo, hi int) {
		for _, t := range fwd {
			if t >= ObjectID(lo) && t < ObjectID(hi) {
				off[t+1]++
			}
		}
	})
	for i := 1; i <= n; i++ {
		off[i] += off[i-1]
	}
	rev = bigarray.Make[ObjectID](int(off[n]))
	// off[t] is where t's next referrer goes; once filled, it is where
	// t+1's start, so shifting by one gives the offsets.
	parallel(n, func(lo, hi int) {
		for src := 0; src < n; src++ {
			for _, t := range fwd[fwdOff[src]:fwdOff[src+1]] {
				if t >= ObjectID(lo) && t < ObjectID(hi) {
					rev[off[t]] = ObjectID(src)
					off[t]++
				}
			}
		}
	})
	copy(off[1:], off[:n])
	off[0] = 0
	return off, rev
}

// SavedParts names the parts of a restored census that are read from
// the saved arrays on first use (Preload reads them at once).
type SavedParts uint8

const (
	SavedAddrs   SavedParts = 1 << iota // addresses: Addr, Find
	SavedSizes                          // shallow sizes: Size
	SavedReverse                        // the reverse index: Referrers, paths, holders
	SavedForward                        // out-edges, when saved: Graph, Out
	SavedAll                = SavedAddrs | SavedSizes | SavedReverse | SavedForward
	// SavedTotals: TypeTotals, which a census saved with its index
	// answers without reading any other part; one saved without them
	// reads the sizes and the addresses (for the objects a model looks at
	// one by one) to count them.
	SavedTotals SavedParts = 1 << 4
)

// savedSource is a restored heap's link to its saved arrays.
type savedSource struct {
	src   ArraySource
	n     int
	once  [4]sync.Once
	errs  [4]error
	built bool // the out-edges were not saved: derive them
}

// Restore rebuilds a heap from saved arrays. model is the model the census
// was taken of (edges are labelled by re-walking objects); each type is
// named by asking it the type of one object of that type. The type
// indexes, the type table and the roots are read and checked now; the
// addresses, sizes and the edges when first used or preloaded (Preload),
// and checked then. Every value is checked: an id out of range, offsets
// out of order or a type that is not where the census found it make
// Restore (or Preload) fail, and the caller takes the census again.
func Restore[T any](model Model[T], src ArraySource) (*Heap[T], error) {
	h := &Heap[T]{model: model, main: model.NewReader(), flat: true}
	typeOf, err := src.Uint32s("type_of")
	if err != nil {
		return nil, err
	}
	if h.typeAddr, err = src.Uint64s("type_addrs"); err != nil {
		return nil, err
	}
	if h.typeObj, err = src.IDs("type_objects"); err != nil {
		return nil, err
	}
	samples, err := src.Uint64s("type_samples")
	if err != nil {
		return nil, err
	}
	if h.hidden, err = src.IDs("hidden"); err != nil {
		return nil, err
	}
	metaBytes, err := src.Bytes("meta")
	if err != nil {
		return nil, err
	}
	var meta savedMeta
	if err := json.Unmarshal(metaBytes, &meta); err != nil {
		return nil, fmt.Errorf("saved census: %w", err)
	}
	rootBytes, err := src.Bytes("roots")
	if err != nil {
		return nil, err
	}
	if h.roots, err = decodeRoots(rootBytes); err != nil {
		return nil, fmt.Errorf("saved census: %w", err)
	}
	h.Stats = meta.Stats
	h.Stats.Restored = true
	n := len(typeOf)
	nt := len(h.typeAddr)
	switch {
	case n > maxObjects:
		return nil, fmt.Errorf("saved census: %d objects", n)
	case h.Stats.Objects != n:
		return nil, fmt.Errorf("saved census: %d objects, its stats say %d", n, h.Stats.Objects)
	case len(h.typeObj) != nt || len(samples) != nt:
		return nil, fmt.Errorf("saved census: %d type addresses, %d type objects, %d samples", nt, len(h.typeObj), len(samples))
	}
	h.parts = []heapPart{{typeOf: typeOf}}
	h.saved = &savedSource{src: src, n: n, built: !src.Has("fwd_off")}
	if err := checkIDs(h.typeObj, n, true); err != nil {
		return nil, fmt.Errorf("saved census: type objects: %w", err)
	}
	if err := checkIDs(h.hidden, n, false); err != nil {
		return nil, fmt.Errorf("saved census: hidden roots: %w", err)
	}
	for _, r := range h.roots {
		if r.ID < -1 || int(r.ID) >= n {
			return nil, fmt.Errorf("saved census: root %q has id %d of %d", r.Name, r.ID, n)
		}
	}
	if src.Trusted("type_of") {
		// checked when it was first read (ArraySource.Trusted)
	} else if err := checkTypes(typeOf, nt); err != nil {
		return nil, fmt.Errorf("saved census: %w", err)
	}
	if err := h.restoreTotals(src, n, nt); err != nil {
		return nil, err
	}
	// The type table: each type named by the model from one of its
	// objects, and checked to be where the census found it.
	h.types = make([]T, nt)
	for ix, addr := range samples {
		if addr == 0 {
			continue // a type no object has
		}
		t, typeAddr, err := h.main.TypeOf(addr)
		if err != nil || typeAddr != h.typeAddr[ix] {
			return nil, fmt.Errorf("saved census: object 0x%x is not of the type at 0x%x in this core (%v)", addr, h.typeAddr[ix], err)
		}
		h.types[ix] = t
	}
	return h, nil
}

// Preload reads and checks the saved parts named, for a restored heap (a
// heap that took its census has them all): a damaged part is an error
// now rather than a panic when it is first used.
func (h *Heap[T]) Preload(parts SavedParts) error {
	if h.saved == nil {
		return nil
	}
	if parts&SavedTotals != 0 && h.totals == nil {
		parts |= SavedSizes | SavedAddrs
	}
	for i := 0; i < 4; i++ {
		if parts&(1<<i) != 0 {
			if err := h.load(SavedParts(1 << i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadAddrIndex reads and checks a saved address index of n objects.
func loadAddrIndex(src ArraySource, n int) (*addrIndex, error) {
	x := &addrIndex{}
	var err error
	get64 := func(name string, to *[]uint64) {
		if err == nil {
			*to, err = src.Uint64s(name)
		}
	}
	get32 := func(name string, to *[]uint32) {
		if err == nil {
			*to, err = src.Uint32s(name)
		}
	}
	get64("addr_segs", &x.segs)
	get64("addr_words", &x.words)
	get32("addr_rank", &x.rank)
	get32("addr_sel", &x.sel)
	get64("addr_extra", &x.extra)
	if err != nil {
		return nil, err
	}
	trusted := true
	for _, name := range []string{"addr_segs", "addr_words", "addr_rank", "addr_sel", "addr_extra"} {
		trusted = trusted && src.Trusted(name)
	}
	if err := x.check(n, trusted); err != nil {
		return nil, fmt.Errorf("saved census: %w", err)
	}
	x.deriveExtraIDs()
	return x, nil
}

// need loads a saved part on first use; a part that cannot be read was
// not preloaded, and the heap cannot answer: that is a bug of the caller.
func (h *Heap[T]) need(part SavedParts) {
	if err := h.load(part); err != nil {
		panic(fmt.Errorf("%w (saved census part not preloaded)", err))
	}
}

// load reads one saved part, once.
func (h *Heap[T]) load(part SavedParts) error {
	s := h.saved
	i := bits.TrailingZeros8(uint8(part))
	s.once[i].Do(func() {
		var err error
		switch part {
		case SavedAddrs:
			var x *addrIndex
			if x, err = loadAddrIndex(s.src, s.n); err == nil {
				h.addrs = x
			}
		case SavedSizes:
			var sizes []uint32
			if sizes, err = s.src.Uint32s("sizes"); err == nil && len(sizes) != s.n {
				err = fmt.Errorf("saved census: %d sizes for %d objects", len(sizes), s.n)
			}
			h.sizes = sizes
		case SavedReverse:
			var off []uint32
			var rev []ObjectID
			if off, err = s.src.Uint32s("rev_off"); err == nil {
				if rev, err = s.src.IDs("rev"); err == nil {
					if err = checkEdges(off, rev, s.n, s.src.Trusted("rev_off") && s.src.Trusted("rev")); err != nil {
						err = fmt.Errorf("saved census: reverse index: %w", err)
					}
				}
			}
			if err == nil {
				h.revOff, h.rev = off, rev
			}
		case SavedForward:
			if s.built {
				return // derived from the reverse index by buildForward
			}
			var off []uint32
			var fwd []ObjectID
			if off, err = s.src.Uint32s("fwd_off"); err == nil {
				if fwd, err = s.src.IDs("fwd"); err == nil {
					if err = checkEdges(off, fwd, s.n, s.src.Trusted("fwd_off") && s.src.Trusted("fwd")); err != nil {
						err = fmt.Errorf("saved census: out-edges: %w", err)
					}
				}
			}
			if err == nil {
				h.fwdOff, h.fwd = off, fwd
			}
		}
		s.errs[i] = err
	})
	return s.errs[i]
}

// checkIDs checks that every id is below n (or -1, when allowed).
func checkIDs(ids []ObjectID, n int, minusOne bool) error {
	for _, id := range ids {
		if int(id) >= n || id < -1 || (id == -1 && !minusOne) {
			return fmt.Errorf("id %d of %d objects", id, n)
		}
	}
	return nil
}

// checkEdges checks an offsets-and-ids adjacency: n+1 offsets in order,
// ending at len(ids), and every id below n; the ids are checked in
// parallel.
func checkEdges(off []uint32, ids []ObjectID, n int, trusted bool) error {
	if len(off) != n+1 || off[0] != 0 || int(off[n]) != len(ids) {
		return fmt.Errorf("%d offsets for %d objects, %d edges", len(off), n, len(ids))
	}
	if trusted {
		return nil // the rest was checked when first read (ArraySource.Trusted)
	}
	for i := 1; i <= n; i++ {
		if off[i] < off[i-1] {
			return fmt.Errorf("offsets out of order at %d", i)
		}
	}
	var mu sync.Mutex
	var bad error
	parallel(len(ids), func(lo, hi int) {
		for _, id := range ids[lo:hi] {
			if uint32(id) >= uint32(n) {
				mu.Lock()
				bad = fmt.Errorf("id %d of %d objects", id, n)
				mu.Unlock()
				return
			}
		}
	})
	return bad
}

// checkTypes checks every type index, in parallel.
func checkTypes(typeOf []uint32, nt int) error {
	var mu sync.Mutex
	var bad error
	parallel(len(typeOf), func(lo, hi int) {
		for id := lo; id < hi; id++ {
			if int(typeOf[id]) >= nt {
				mu.Lock()
				bad = fmt.Errorf("object %d has type %d of %d", id, typeOf[id], nt)
				mu.Unlock()
				return
			}
		}
	})
	return bad
}
