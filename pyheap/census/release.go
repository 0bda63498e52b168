package census

import "github.com/pycoroner/pycoroner/bigarray"

// GraphRoots is Graph's Roots without building the out-edges: the ids of
// what the named roots name, then of what the model's hidden roots refer
// to, each once; named is how many of them come from the named roots
// (the roots NamedRootReach searches from). A caller that builds its own
// out-edges (a dominator tree computed in little memory, reports'
// LeakGraph) asks this.
func (h *Heap[T]) GraphRoots() (roots []ObjectID, named int) {
	seen := map[ObjectID]bool{}
	for _, r := range h.roots {
		if r.ID >= 0 && !seen[r.ID] {
			seen[r.ID] = true
			roots = append(roots, r.ID)
		}
	}
	named = len(roots)
	for _, id := range h.hidden {
		if !seen[id] {
			seen[id] = true
			roots = append(roots, id)
		}
	}
	return roots, named
}

// Release gives the memory of a census's own arrays (package bigarray)
// back for reuse, once the census is saved and its caller has the heap
// restored from the saved index instead: the first leak command on a core
// computes the dominator tree from the mapped index, whose pages it can
// drop, rather than beside the arrays it no longer needs (about 21 bytes
// per object). A restored heap's arrays are the mapped file's: nothing is freed.
// Nothing may use h afterwards.
func (h *Heap[T]) Release() {
	if h.saved != nil {
		return
	}
	for i := range h.parts {
		p := &h.parts[i]
		bigarray.Free(p.order)
		bigarray.Free(p.typeOf)
		bigarray.Free(p.sizes)
		bigarray.Free(p.edgeOff)
		bigarray.Free(p.edges)
	}
	bigarray.Free(h.vis)
	bigarray.Free(h.sizes)
	bigarray.Free(h.revOff)
	bigarray.Free(h.rev)
	bigarray.Free(h.fwdOff)
	bigarray.Free(h.fwd)
	if h.addrs != nil {
		bigarray.Free(h.addrs.words)
		bigarray.Free(h.addrs.rank)
	}
	if h.set != nil {
		bigarray.Free(h.set.words)
		bigarray.Free(h.set.rank)
	}
	h.parts, h.vis, h.sizes, h.revOff, h.rev, h.fwdOff, h.fwd = nil, nil, nil, nil, nil, nil, nil
	h.set, h.addrs = nil, nil
}

// OutEdges is the out-edges Graph gives (Off, Targets), without keeping
// them: fresh says they were built for the caller, which frees them
// (bigarray.Free) as soon as it no longer reads them, instead of the heap
// keeping 4 bytes per object and per reference until it is dropped. A
// heap that has them already (kept, or saved in its index) hands out its
// own, not fresh.
func (h *Heap[T]) OutEdges() (off []uint32, targets []ObjectID, fresh bool) {
	if !h.flat || (h.saved != nil && !h.saved.built) || h.fwdOff != nil {
		g := h.Graph()
		return g.Off, g.Targets, false
	}
	h.forwardFromReverse()
	off, targets = h.fwdOff, h.fwd
	h.fwdOff, h.fwd = nil, nil
	return off, targets, true
}
