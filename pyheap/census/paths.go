package census

import "sort"

// Path is a shortest chain of references from a named root to a target:
// Objects[0] is the object the root names, the last one is the target.
type Path struct {
	Root    Root
	Objects []ObjectID
}

// ShortestPaths finds the shortest reference path from a named root to id;
// with all, one shortest path per root that reaches it, at most max. Roots
// at one distance are ordered by rank (lower first; nil ranks all alike),
// then in the order the model listed them. It searches backwards from id
// over the reverse index (breadth first, referrers in id order), so it
// touches only what can reach the target.
func (h *Heap[T]) ShortestPaths(id ObjectID, all bool, max int, rank func(Root) int) []Path {
	return h.shortestPaths(id, all, max, -1, rank)
}

// ShortestPathsWithin is ShortestPaths with all, keeping only the paths at
// most slack hops longer than the shortest: exactly the first of
// ShortestPaths(id, true, max, rank) that are that short, in the same
// order. The search stops at that distance instead of going on to every
// object that reaches id (through a class, each of its instances reaches
// the module holding their list: millions to search for one path).
func (h *Heap[T]) ShortestPathsWithin(id ObjectID, max, slack int, rank func(Root) int) []Path {
	return h.shortestPaths(id, true, max, slack, rank)
}

// shortestPaths: with slack >= 0, the layers further than the nearest
// root plus slack are neither searched nor reported.
func (h *Heap[T]) shortestPaths(id ObjectID, all bool, max, slack int, rank func(Root) int) []Path {
	if h.rootReach != nil && h.rootReach[id/64]&(1<<(id%64)) == 0 {
		return []Path{} // no named root reaches id: nothing to search
	}
	h.rootIndexOnce.Do(h.indexRoots)
	rootsOf, filter := h.rootsOf, &h.rootFilter
	// next[o] is 2 + the object after o on its shortest path to id; 1 for
	// id itself, 0 not reached yet: a fresh array is all "not reached",
	// and only the pages of the objects reached are touched (the array
	// has 4 bytes per object of the heap; a path usually reaches few).
	next, touched, done := h.pathScratch()
	defer func() {
		// Give the array back all "not reached": clearing what was
		// touched costs what the search did, not a pass over every object.
		for _, o := range touched {
			next[o] = 0
		}
		next[id] = 0
		done(touched)
	}()
	next[id] = 1
	type found struct {
		obj  ObjectID
		root Root
		dist int
		rank int
	}
	var hits []found
	layer := []ObjectID{id}
	for dist := 0; len(layer) > 0; dist++ {
		for _, o := range layer {
			if !filter.mayHold(o) {
				continue
			}
			for _, r := range rootsOf[o] {
				rk := 0
				if rank != nil {
					rk = rank(r)
				}
				hits = append(hits, found{o, r, dist, rk})
			}
		}
		if len(hits) > 0 && (!all || len(hits) >= max) {
			// The layer that reached a root is not expanded: its
			// referrers (a type object's are all its instances) are
			// further than the paths found.
			break
		}
		if slack >= 0 && len(hits) > 0 && dist >= hits[0].dist+slack {
			break // the next layers are too far to report
		}
		start := len(touched)
		for _, o := range layer {
			for _, src := range h.Referrers(o) {
				if next[src] == 0 {
					next[src] = uint32(o) + 2
					touched = append(touched, src)
				}
			}
		}
		// The next layer is what this one touched, in that order.
		layer = touched[start:]
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].dist != hits[j].dist {
			return hits[i].dist < hits[j].dist
		}
		return hits[i].rank < hits[j].rank
	})
	if !all && len(hits) > 1 {
		hits = hits[:1]
	}
	if len(hits) > max {
		hits = hits[:max]
	}
	out := make([]Path, 0, len(hits))
	for _, hit := range hits {
		p := Path{Root: hit.root}
		for o := hit.obj; ; o = ObjectID(next[o] - 2) {
			p.Objects = append(p.Objects, o)
			if next[o] == 1 || len(p.Objects) > h.Len() {
				break
			}
		}
		out = append(out, p)
	}
	return out
}

// EdgeLabel is how from refers to to: the first labelled edge, preferring
// exact references to conservative ones; RefUnknown ("?") when labelling
// finds none (the census saw an edge that a second walk does not). It
// re-walks from but keeps only the edges to to: a path through a list of
// millions of items labels one edge without collecting them all.
func (h *Heap[T]) EdgeLabel(from, to ObjectID) (via Ref, conservative bool) {
	want := h.Addr(to)
	exact, found := false, false
	var f AddrFilter // a list of millions holding to: its items skipped without a call each
	f.Add(want)
	h.labelledAmong(h.Addr(from), h.Type(from), &f, func(target uint64, v Ref, cons bool) {
		if target != want || exact {
			return
		}
		if !cons {
			via, conservative, exact = v, false, true
			return
		}
		if !found {
			via, conservative, found = v, true, true
		}
	})
	return via, conservative
}

// indexRoots groups the roots by the object they name, once per heap
// (`top` searches a path for each of its rows).
func (h *Heap[T]) indexRoots() {
	h.rootsOf = map[ObjectID][]Root{}
	for _, r := range h.Roots() {
		if r.ID >= 0 {
			h.rootsOf[r.ID] = append(h.rootsOf[r.ID], r)
			h.rootFilter.add(r.ID)
		}
	}
}

// idFilter is a set of ids that may answer "maybe" for an id not in it,
// never "no" for one in it: 8 KB, where most objects a path search
// reaches are named by no root, and a map lookup for each was a sixth
// of a `path --all` on 21 M objects (a bit per object would be 2.6 MB
// there, made for every search).
type idFilter [1024]uint64

func (f *idFilter) slot(id ObjectID) uint32 { return uint32(id) * 2654435761 >> 16 }

func (f *idFilter) add(id ObjectID) {
	s := f.slot(id)
	f[s/64] |= 1 << (s % 64)
}

func (f *idFilter) mayHold(id ObjectID) bool {
	s := f.slot(id)
	return f[s/64]&(1<<(s%64)) != 0
}

// pathScratch lends ShortestPaths the heap's array of 4 bytes per object,
// all zero, and a list to record what it touches, for one search (done
// gives them back, the array zero again): top and leaks search a path for
// each of their rows, and fresh arrays each time cost more than the
// searches (clearing 80 MB per row on 21 M objects, and growing a list of
// millions). A search while another holds them gets fresh ones.
func (h *Heap[T]) pathScratch() (next []uint32, touched []ObjectID, done func([]ObjectID)) {
	if !h.pathMu.TryLock() {
		return make([]uint32, h.Len()), nil, func([]ObjectID) {}
	}
	if h.pathNext == nil {
		h.pathNext = make([]uint32, h.Len())
	}
	return h.pathNext, h.pathTouched[:0], func(t []ObjectID) {
		h.pathTouched = t[:0]
		h.pathMu.Unlock()
	}
}

// NamedRootReach is the set of objects some named root reaches (a bit per
// id), by a search forward from the named roots' objects over the
// out-edges: ShortestPaths finds no path to any other object, and with the
// set (SetNamedRootReach) it says so at once instead of searching
// everything that refers to it.
func (h *Heap[T]) NamedRootReach() []uint64 {
	n := h.Len()
	bits := make([]uint64, (n+63)/64)
	var stack []ObjectID
	mark := func(id ObjectID) {
		if bits[id/64]&(1<<(id%64)) == 0 {
			bits[id/64] |= 1 << (id % 64)
			stack = append(stack, id)
		}
	}
	for _, r := range h.roots {
		if r.ID >= 0 {
			mark(r.ID)
		}
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, t := range h.Out(id) {
			mark(t)
		}
	}
	return bits
}

// SetNamedRootReach gives ShortestPaths the set NamedRootReach computed
// (or saved); false when it does not fit this heap.
func (h *Heap[T]) SetNamedRootReach(bits []uint64) bool {
	if len(bits) != (h.Len()+63)/64 {
		return false
	}
	h.rootReach = bits
	return true
}
