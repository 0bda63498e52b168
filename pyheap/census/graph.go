package census

import "github.com/pycoroner/pycoroner/bigarray"

// Graph is a census as compact arrays, for algorithms over the whole heap
// (a dominator tree, retained sizes): ids are 0..N-1 in address order, as
// everywhere in a Heap.
type Graph struct {
	N int
	// Out-edges of id: Targets[Off[id]:Off[id+1]], in the model's order,
	// then the object's type object (when it is an object of the census).
	// An object that refers to another twice lists it twice.
	Off     []uint32
	Targets []ObjectID
	// Sizes are the shallow sizes (Heap.Size).
	Sizes []uint32
	// Roots are the ids of what the named roots name, then of what the
	// model's hidden roots (3.11+ interpreter frames) refer to, each once.
	// Objects reached from no root (found on the GC lists only: garbage
	// not yet collected, or held by C code alone) are no root's: a
	// dominator tree hangs them from its virtual root itself.
	Roots []ObjectID
}

// Graph builds the compact arrays (once; they are kept with the heap).
// Memory: 4 bytes per edge and 12 per object, besides what the census
// keeps anyway.
func (h *Heap[T]) Graph() *Graph {
	h.fwdOnce.Do(h.buildForward)
	g := &Graph{N: h.Len(), Off: h.fwdOff, Targets: h.fwd, Sizes: h.allSizes()}
	g.Roots, _ = h.GraphRoots()
	return g
}

func (h *Heap[T]) allSizes() []uint32 {
	h.sizesOnce.Do(h.computeSizes)
	return h.sizes
}

// Out lists id's references as ids (see Graph.Targets).
func (h *Heap[T]) Out(id ObjectID) []ObjectID {
	h.fwdOnce.Do(h.buildForward)
	return h.fwd[h.fwdOff[id]:h.fwdOff[id+1]]
}

func (h *Heap[T]) buildForward() {
	if h.saved != nil && !h.saved.built {
		h.need(SavedForward)
		return
	}
	if h.flat {
		h.forwardFromReverse()
		return
	}
	n := h.Len()
	off := bigarray.Make[uint32](n + 1)
	fwd := bigarray.Reserve[ObjectID](h.Stats.Edges+n, h.Stats.Edges+n)
	hint := 0
	for id := 0; id < n; id++ {
		// finish dropped the edges to marks that were not objects, so
		// every target is found; the test is for safety only.
		for _, a := range h.EdgeAddrs(ObjectID(id)) {
			if t, ok := h.findHint(a, &hint); ok {
				fwd = append(fwd, t)
			}
		}
		if t := h.TypeObject(ObjectID(id)); t >= 0 {
			fwd = append(fwd, t)
		}
		off[id+1] = uint32(len(fwd))
	}
	h.fwdOff, h.fwd = off, fwd
}

// forwardFromReverse builds the out-edges of a flat heap by turning the
// reverse index around: every edge but the type's, in address order of
// the targets (not the model's order), then the type's.
func (h *Heap[T]) forwardFromReverse() {
	if h.revOff == nil {
		h.buildReverse()
	}
	n := h.Len()
	// Each CPU takes the sources of its own range and reads every edge
	// (as reverseOf does): the writes, to random sources, are not shared.
	off := bigarray.Make[uint32](n + 1)
	parallel(n, func(lo, hi int) {
		for _, src := range h.rev {
			if src >= ObjectID(lo) && src < ObjectID(hi) {
				off[src+1]++
			}
		}
	})
	for i := 1; i <= n; i++ {
		off[i] += off[i-1]
	}
	fwd := bigarray.Make[ObjectID](len(h.rev))
	fill := bigarray.Make[uint32](n)
	copy(fill, off[:n])
	parallel(n, func(lo, hi int) {
		for t := 0; t < n; t++ {
			tobj := ObjectID(t)
			prev := ObjectID(-1)
			for _, src := range h.rev[h.revOff[t]:h.revOff[t+1]] {
				// One edge from src to its type object is the type's,
				// placed last below; a src's edges to t are adjacent in
				// the list.
				first := src != prev
				prev = src
				if src < ObjectID(lo) || src >= ObjectID(hi) {
					continue
				}
				if first && h.TypeObject(src) == tobj {
					continue
				}
				// A reverse index without src's type edge (a forged
				// index: the census always records it) must not write
				// into the next source's edges, another CPU's.
				if fill[src] < off[src+1] {
					fwd[fill[src]] = tobj
					fill[src]++
				}
			}
		}
		for src := lo; src < hi; src++ {
			if t := h.TypeObject(ObjectID(src)); t >= 0 && fill[src] < off[src+1] {
				fwd[fill[src]] = t
				fill[src]++
			}
		}
	})
	bigarray.Free(fill)
	h.fwdOff, h.fwd = off, fwd
}

// Sizes are the shallow sizes of every object, in id order (computed on
// first use, or mapped from a saved census): the array Graph carries,
// without building the out-edges.
func (h *Heap[T]) Sizes() []uint32 { return h.allSizes() }

// TypeIndexes is, for a flat heap (restored or saved), every object's
// index into types, in id order, and types, each type once: nil when the
// census's own arrays are still in the workers' order.
func (h *Heap[T]) TypeIndexes() (typeOf []uint32, types []T) {
	if !h.flat {
		return nil, nil
	}
	return h.parts[0].typeOf, h.types
}
