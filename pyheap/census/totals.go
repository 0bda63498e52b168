package census

import "sync"

// TypeTotals counts the objects of each distinct type and adds up their
// shallow sizes: counts[i] objects of types[i], sizes[i] bytes. One pass
// over the type indexes and sizes, split among the CPUs: a histogram of
// tens of millions of objects without a map lookup per object.
func (h *Heap[T]) TypeTotals() (types []T, counts []int, sizes []int64) {
	h.sizesOnce.Do(h.computeSizes)
	nt := len(h.types)
	counts = make([]int, nt)
	sizes = make([]int64, nt)
	var mu sync.Mutex
	if h.flat {
		typeOf := h.parts[0].typeOf
		parallel(len(typeOf), func(lo, hi int) {
			c := make([]int, nt)
			s := make([]int64, nt)
			for id := lo; id < hi; id++ {
				ix := typeOf[id]
				c[ix]++
				s[ix] += int64(h.sizes[id])
			}
			mu.Lock()
			for i := range c {
				counts[i] += c[i]
				sizes[i] += s[i]
			}
			mu.Unlock()
		})
		return h.types, counts, sizes
	}
	parallel(h.Len(), func(lo, hi int) {
		c := make([]int, nt)
		s := make([]int64, nt)
		for id := lo; id < hi; id++ {
			ix := h.typeIndex(ObjectID(id))
			c[ix]++
			s[ix] += int64(h.sizes[id])
		}
		mu.Lock()
		for i := range c {
			counts[i] += c[i]
			sizes[i] += s[i]
		}
		mu.Unlock()
	})
	return h.types, counts, sizes
}

// EachOfTypes calls fn, in id order, with every object whose type pick
// chooses (pick is asked once per distinct type, and may get the zero T
// for a type no object has in a restored heap): one pass over the type
// indexes, for the few objects a caller must look at one by one.
func (h *Heap[T]) EachOfTypes(pick func(T) bool, fn func(ObjectID)) {
	picked := make([]bool, len(h.types))
	any := false
	for i, t := range h.types {
		picked[i] = pick(t)
		any = any || picked[i]
	}
	if !any {
		return
	}
	if h.flat {
		for id, ix := range h.parts[0].typeOf {
			if picked[ix] {
				fn(ObjectID(id))
			}
		}
		return
	}
	for id := 0; id < h.Len(); id++ {
		if picked[h.typeIndex(ObjectID(id))] {
			fn(ObjectID(id))
		}
	}
}
