package pyheap

import "github.com/pycoroner/pycoroner/pyheap/census"

// HeapTally is a census that recorded no object (census.Tally): per type,
// how many objects and their shallow sizes, what a histogram needs and
// nothing else. It takes the walk of a census without its arrays, so it
// costs no memory per object.
type HeapTally struct {
	r       *Runtime
	t       *census.Tally[*Type]
	conserv map[*Type]ConservativeTotal
	Stats   HeapStats
}

// TallyHeap walks the heap as BuildHeap does and counts what it finds.
func (r *Runtime) TallyHeap(opts HeapOptions) (*HeapTally, error) {
	r.fallbackName(0) // as BuildHeap: no renaming while workers read
	isModule := func(t *Type) bool { return t != nil && t.Kind == KindModule }
	t, err := census.TallyOf[*Type](censusModel{r}, census.Options{Progress: opts.Progress, Workers: opts.Workers}, isModule)
	if err != nil {
		return nil, err
	}
	out := &HeapTally{r: r, t: t, Stats: t.Stats, conserv: map[*Type]ConservativeTotal{}}
	if err := r.checkGC(&out.Stats); err != nil {
		return nil, err
	}
	// ConservativeModules as a census finds them (conservtotals.go).
	for _, k := range t.Kept {
		if !r.ConservativeType(k.Type) && r.ConservativeObject(k.Addr, k.Type) {
			c := out.conserv[k.Type]
			c.Count++
			c.Size += k.Size
			out.conserv[k.Type] = c
		}
	}
	return out, nil
}

// Runtime is the runtime the tally read.
func (t *HeapTally) Runtime() *Runtime { return t.r }

// TypeTotals is census.Heap.TypeTotals.
func (t *HeapTally) TypeTotals() (types []*Type, counts []int, sizes []int64) {
	return t.t.Types, t.t.Counts, t.t.Sizes
}

// ConservativeModules is Heap.ConservativeModules.
func (t *HeapTally) ConservativeModules() map[*Type]ConservativeTotal { return t.conserv }

// CensusStats are the tally's stats (census.Tally.Stats).
func (t *HeapTally) CensusStats() HeapStats { return t.Stats }

// CensusStats are the census's stats.
func (h *Heap) CensusStats() HeapStats { return h.Stats }
