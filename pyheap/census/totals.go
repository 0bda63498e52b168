package census

import (
	"fmt"
	"slices"
	"sync"
)

// TypeTotals counts the objects of each distinct type and adds up their
// shallow sizes: counts[i] objects of types[i], sizes[i] bytes. One pass
// over the type indexes and sizes, split among the CPUs: a histogram of
// tens of millions of objects without a map lookup per object.
func (h *Heap[T]) TypeTotals() (types []T, counts []int, sizes []int64) {
	if t := h.totals; t != nil {
		return h.types, slices.Clone(t.counts), slices.Clone(t.sizes)
	}
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

// saveTotals is TypeTotals in its saved form (Save), kept for the heap's
// own later questions.
func (h *Heap[T]) saveTotals(sink ArraySink) {
	_, counts, sizes := h.TypeTotals()
	h.totals = &typeTotals{counts: counts, sizes: sizes}
	c, s := make([]uint64, len(counts)), make([]uint64, len(sizes))
	for i := range counts {
		c[i], s[i] = uint64(counts[i]), uint64(sizes[i])
	}
	sink.Uint64s("type_counts", c)
	sink.Uint64s("type_sizes", s)
}

// restoreTotals reads the saved TypeTotals of a heap of n objects and nt
// types, when saved (an index saved before they were has none: TypeTotals
// counts then). They must add up to n objects, and no type's size can
// exceed its objects' largest (4 GiB each).
func (h *Heap[T]) restoreTotals(src ArraySource, n, nt int) error {
	if !src.Has("type_counts") && !src.Has("type_sizes") {
		return nil
	}
	c, err := src.Uint64s("type_counts")
	if err != nil {
		return err
	}
	s, err := src.Uint64s("type_sizes")
	if err != nil {
		return err
	}
	if len(c) != nt || len(s) != nt {
		return fmt.Errorf("saved census: %d type counts and %d type sizes for %d types", len(c), len(s), nt)
	}
	t := &typeTotals{counts: make([]int, nt), sizes: make([]int64, nt)}
	total := uint64(0)
	for i := range c {
		if c[i] > uint64(n) || s[i] > c[i]<<32 {
			return fmt.Errorf("saved census: type %d: %d objects of %d bytes in all, of %d objects", i, c[i], s[i], n)
		}
		total += c[i]
		t.counts[i], t.sizes[i] = int(c[i]), int64(s[i])
	}
	if total != uint64(n) {
		return fmt.Errorf("saved census: the type counts add up to %d objects, not %d", total, n)
	}
	h.totals = t
	return nil
}
