package census

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/pycoroner/pycoroner/internal/faultgroup"
)

// A tally is a census that records no object: the same walk (the same
// seeds, marks and sweeps, so the same objects), but each object visited
// only adds to its type's count and size. It answers a histogram and
// nothing else, with no memory per object: the census's arrays (order,
// types, sizes, edges: 20 bytes per object and 8 per reference) are what
// a first command pays most for, in page faults on fresh memory, and
// what bounds the heap a census can take at all (docs/limits.md). What
// it still holds is the address bitmaps (3 bits per 8 bytes of the
// image's memory: visited, pending, on the GC lists).

// Tally is what a tally found: per type, as Heap.TypeTotals gives it,
// and the objects of the types TallyOf's keep chose.
type Tally[T any] struct {
	Types     []T
	TypeAddrs []uint64 // the address of each type's object
	Counts    []int
	Sizes     []int64
	Kept      []Kept[T]
	// Stats are a census's.
	Stats Stats
}

// Kept is one object of a type TallyOf's keep chose.
type Kept[T any] struct {
	Addr uint64
	Type T
	Size int64
}

// tallyCounts is one worker's share of a tally.
type tallyCounts struct {
	objects int
	edges   int
	counts  []int
	sizes   []int64
	kept    []keptObject
}

// keptObject is a Kept as a worker records it, by type index.
type keptObject struct {
	addr uint64
	ix   uint32
	size int64
}

func (tc *tallyCounts) add(addr uint64, slot *typeSlot, size int64) {
	tc.objects++
	for int(slot.ix) >= len(tc.counts) {
		tc.counts = append(tc.counts, 0)
		tc.sizes = append(tc.sizes, 0)
	}
	tc.counts[slot.ix]++
	tc.sizes[slot.ix] += size
	if slot.keep {
		tc.kept = append(tc.kept, keptObject{addr, slot.ix, size})
	}
}

// TallyOf walks model as Build does and counts what it finds; keep, when
// not nil, chooses the types whose objects it lists (Tally.Kept): it is
// called from the census's goroutines at once, when a type is not in a
// goroutine's cache of types. Options.MaxObjects does not apply: a tally's memory does not
// grow with the objects.
func TallyOf[T any](model Model[T], opts Options, keep func(T) bool) (*Tally[T], error) {
	opts.MaxObjects = 0
	c := newCensus(model, opts, true)
	c.keep = keep
	out := &Tally[T]{}
	st := &out.Stats
	if _, err := c.walk(st); err != nil {
		return nil, err
	}
	out.Types, out.TypeAddrs = c.types, c.typeAddr
	out.Counts = make([]int, len(c.types))
	out.Sizes = make([]int64, len(c.types))
	st.Unreadable = len(c.seedBad)
	for _, wk := range c.workers {
		tc := &wk.tally
		for ix, n := range tc.counts {
			out.Counts[ix] += n
			out.Sizes[ix] += tc.sizes[ix]
		}
		for _, k := range tc.kept {
			out.Kept = append(out.Kept, Kept[T]{Addr: k.addr, Type: c.types[k.ix], Size: k.size})
		}
		st.Objects += tc.objects
		st.Edges += tc.edges
		st.Conservative += wk.conservative
		st.GCUnlisted += wk.unlisted
		st.Unreadable += len(wk.bad)
	}
	dangling := false
	for _, wk := range c.workers {
		dangling = dangling || wk.dangling > 0
	}
	if dangling {
		st.Edges -= c.droppedEdges()
	}
	c.release()
	if opts.Progress != nil {
		opts.Progress(st.Objects)
	}
	st.Duration = time.Since(c.start)
	st.Phases[2] = st.Duration - st.Phases[0] - st.Phases[1]
	return out, nil
}

// droppedEdges counts the references to marks that turned out not to be
// objects, which a census drops (Heap.finish) and a tally, keeping no
// reference, counted. Few cores have such marks (wild pointers: 2 to 400
// in the real programs' cores of 3.8 and 3.13, none in most); then each
// worker walks the objects of its part of the address space once more
// to count them.
func (c *census[T]) droppedEdges() int {
	var total atomic.Int64
	var g faultgroup.Group
	for i, wk := range c.workers {
		g.Go(func() {
			wk.recount = true
			defer func() { wk.recount = false }()
			lo, hi := c.bounds[i], c.bounds[i+1]
			dropped, hint := 0, 0
			walk := func(addr uint64) {
				t, _, err := wk.rd.TypeOf(addr)
				if err != nil {
					return
				}
				wk.edges = wk.edges[:0]
				wk.walkRefs(addr, t)
				for _, e := range wk.edges {
					if !c.seen.hasHint(e, &hint) {
						dropped++
					}
				}
			}
			segs := c.seen.segs
			for si, seg := range segs {
				end := len(c.seen.words) / 2
				if si+1 < len(segs) {
					end = segs[si+1].word
				}
				for w := max(seg.word, lo); w < min(end, hi); w++ {
					for word := c.seen.words[2*w]; word != 0; word &= word - 1 {
						walk(seg.start + (uint64(w-seg.word)*64+uint64(bits.TrailingZeros64(word)))*8)
					}
				}
			}
			if i == 0 {
				// the addresses outside the bitmap are worker 0's
				for a := range c.seen.extra {
					walk(a)
				}
			}
			total.Add(int64(dropped))
		})
	}
	g.Wait()
	return int(total.Load())
}
