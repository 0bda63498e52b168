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
	rootsOf := map[ObjectID][]Root{}
	for _, r := range h.Roots() {
		if r.ID >= 0 {
			rootsOf[r.ID] = append(rootsOf[r.ID], r)
		}
	}
	// next[o] is 2 + the object after o on its shortest path to id; 1 for
	// id itself, 0 not reached yet: a fresh array is all "not reached",
	// and only the pages of the objects reached are touched (the array
	// has 4 bytes per object of the heap; a path usually reaches few).
	next, done := h.pathScratch()
	var touched []ObjectID
	defer func() {
		// Give the array back all "not reached": clearing what was
		// touched costs what the search did, not a pass over every object.
		for _, o := range touched {
			next[o] = 0
		}
		next[id] = 0
		done()
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
		var nextLayer []ObjectID
		for _, o := range layer {
			for _, r := range rootsOf[o] {
				rk := 0
				if rank != nil {
					rk = rank(r)
				}
				hits = append(hits, found{o, r, dist, rk})
			}
			for _, src := range h.Referrers(o) {
				if next[src] == 0 {
					next[src] = uint32(o) + 2
					touched = append(touched, src)
					nextLayer = append(nextLayer, src)
				}
			}
		}
		if len(hits) > 0 && (!all || len(hits) >= max) {
			break
		}
		layer = nextLayer
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
	h.main.Labelled(h.Addr(from), h.Type(from), func(target uint64, v Ref, cons bool) {
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

// pathScratch lends ShortestPaths the heap's array of 4 bytes per object,
// all zero, for one search (done gives it back, zero again): top and
// leaks search a path for each of their rows, and a fresh array each time
// cost more than the searches (clearing 80 MB per row on 21 M objects).
// A search while another holds it gets a fresh one.
func (h *Heap[T]) pathScratch() (next []uint32, done func()) {
	if !h.pathMu.TryLock() {
		return make([]uint32, h.Len()), func() {}
	}
	if h.pathNext == nil {
		h.pathNext = make([]uint32, h.Len())
	}
	return h.pathNext, h.pathMu.Unlock
}
