package census

import "sort"

// Holders finds what refers to objects of one census: the roots that name
// an object, and its referrers with the labelled edges by which each
// holds it. It caches the labelled edges of referrers with many
// references (a dict of a million entries holding many matches of grep is
// labelled once), and the owners it found. One goroutine at a time.
type Holders[T any] struct {
	h        *Heap[T]
	roots    map[ObjectID][]Root
	owners   map[ObjectID]ownerHit
	big      map[ObjectID]map[ObjectID][]Edge
	bigEdges int
	// pre holds, per referrer, its labelled edges to the objects
	// Prefetch was given (an entry per such object, nil when labelling
	// finds none).
	pre map[ObjectID]map[ObjectID][]Edge
}

type ownerHit struct {
	id ObjectID
	ok bool
}

// Edges are cached for referrers with more than bigReferrer references,
// up to maxCachedEdges in all.
const (
	bigReferrer    = 256
	maxCachedEdges = 1 << 22
)

// NewHolders indexes the roots of the kinds given (all kinds when none
// is given) by the object they name.
func (h *Heap[T]) NewHolders(kinds ...RootKind) *Holders[T] {
	f := &Holders[T]{h: h, roots: map[ObjectID][]Root{}, owners: map[ObjectID]ownerHit{},
		big: map[ObjectID]map[ObjectID][]Edge{}}
	want := map[RootKind]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	for _, r := range h.Roots() {
		if r.ID >= 0 && (len(kinds) == 0 || want[r.Kind]) {
			f.roots[r.ID] = append(f.roots[r.ID], r)
		}
	}
	return f
}

// RootsOf lists the indexed roots that name id, in the model's order.
func (f *Holders[T]) RootsOf(id ObjectID) []Root { return f.roots[id] }

// Referral is one referrer of an object and the labelled edges by which it
// refers to it (none when labelling finds none: the census saw an edge
// that a second walk does not).
type Referral struct {
	From  ObjectID
	Edges []Edge
}

// Referrals lists id's referrers, each once, by id.
func (f *Holders[T]) Referrals(id ObjectID) []Referral {
	srcs := distinct(f.h.Referrers(id))
	out := make([]Referral, 0, len(srcs))
	for _, src := range srcs {
		out = append(out, Referral{From: src, Edges: f.edgesTo(src, id)})
	}
	return out
}

// Owner finds the object that holds d by an edge that isOwner accepts
// (for a dict: the object whose __dict__ it is), among d's referrers
// that candidate accepts, in id order. The answer is cached per d.
func (f *Holders[T]) Owner(d ObjectID, candidate func(ObjectID) bool, isOwner func(Edge) bool) (ObjectID, bool) {
	if o, ok := f.owners[d]; ok {
		return o.id, o.ok
	}
	hit := ownerHit{id: -1}
	for _, src := range distinct(f.h.Referrers(d)) {
		if !candidate(src) {
			continue
		}
		for _, e := range f.edgesTo(src, d) {
			if isOwner(e) {
				hit = ownerHit{src, true}
				break
			}
		}
		if hit.ok {
			break
		}
	}
	f.owners[d] = hit
	return hit.id, hit.ok
}

// Prefetch labels the edges from every referrer of ids to them in one
// walk of each referrer, keeping only the edges to ids: the few largest
// instances of a type held by one list of millions cost one walk of the
// list, neither a walk each nor a table of its millions of edges.
func (f *Holders[T]) Prefetch(ids []ObjectID) {
	if f.pre == nil {
		f.pre = map[ObjectID]map[ObjectID][]Edge{}
	}
	wanted := map[ObjectID]map[uint64]ObjectID{} // per referrer, by address
	var order []ObjectID
	for _, id := range ids {
		for _, src := range f.h.Referrers(id) {
			if _, done := f.pre[src][id]; done {
				continue
			}
			w, ok := wanted[src]
			if !ok {
				w = map[uint64]ObjectID{}
				wanted[src] = w
				order = append(order, src)
			}
			w[f.h.Addr(id)] = id
		}
	}
	for _, src := range order {
		w := wanted[src]
		m := f.pre[src]
		if m == nil {
			m = map[ObjectID][]Edge{}
			f.pre[src] = m
		}
		// A holder of millions of references (a list of every instance)
		// is walked for a few of them: a bit per address hash rules out
		// almost every reference before the map is asked.
		var filter AddrFilter
		for a, id := range w {
			m[id] = nil
			filter.Add(a)
		}
		f.h.labelledAmong(f.h.Addr(src), f.h.Type(src), &filter, func(target uint64, via Ref, conservative bool) {
			if id, ok := w[target]; ok {
				m[id] = append(m[id], Edge{Target: id, Addr: target, Via: via, Conservative: conservative})
			}
		})
	}
}

// edgesTo lists src's labelled references to id.
func (f *Holders[T]) edgesTo(src, id ObjectID) []Edge {
	if m, ok := f.pre[src][id]; ok {
		return m
	}
	if m, ok := f.big[src]; ok {
		return m[id]
	}
	all := f.h.Edges(src)
	if len(all) > bigReferrer && f.bigEdges+len(all) <= maxCachedEdges {
		m := map[ObjectID][]Edge{}
		for _, e := range all {
			m[e.Target] = append(m[e.Target], e)
		}
		f.big[src] = m
		f.bigEdges += len(all)
		return m[id]
	}
	var out []Edge
	for _, e := range all {
		if e.Target == id {
			out = append(out, e)
		}
	}
	return out
}

// distinct drops repeated ids (a referrer with several edges to one
// target is listed once per edge) and sorts them.
func distinct(ids []ObjectID) []ObjectID {
	out := make([]ObjectID, 0, len(ids))
	seen := make(map[ObjectID]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ReferrerCount is the number of distinct objects that refer to id.
func (h *Heap[T]) ReferrerCount(id ObjectID) int { return len(distinct(h.Referrers(id))) }
