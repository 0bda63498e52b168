package pyheap

import (
	"fmt"

	"github.com/pycoroner/pycoroner/indexfile"
)

// ConservativeTotal is a count of objects and their shallow sizes.
type ConservativeTotal struct {
	Count int
	Size  int64
}

// ConservativeModules is, per module type, the modules whose C state is
// walked by a conservative scan (ConservativeObject), the objects that
// histogram counts as conservative one by one (for the other types the
// type decides: ConservativeType). It is found once per census, by a pass
// over the objects' types and a look at each module, and saved with the
// index (saveConservativeModules), so that a warm histogram reads neither
// the type nor the size of any object.
func (h *Heap) ConservativeModules() map[*Type]ConservativeTotal {
	if h.conservModules != nil {
		return h.conservModules
	}
	out := map[*Type]ConservativeTotal{}
	h.EachOfTypes(func(t *Type) bool { return t != nil && t.Kind == KindModule && !h.r.ConservativeType(t) }, func(id ObjectID) {
		t := h.Type(id)
		if h.r.ConservativeObject(h.Addr(id), t) {
			c := out[t]
			c.Count++
			c.Size += h.Size(id)
			out[t] = c
		}
	})
	h.conservModules = out
	return out
}

// saveConservativeModules adds ConservativeModules to a laid-out census's
// index, per type index (the first index of each type).
func (h *Heap) saveConservativeModules(b *indexfile.Builder) {
	_, types := h.TypeIndexes()
	if types == nil {
		return // not laid out: nothing to index by
	}
	mods := h.ConservativeModules()
	counts, sizes := make([]uint64, len(types)), make([]uint64, len(types))
	seen := map[*Type]bool{}
	for ix, t := range types {
		if c, ok := mods[t]; ok && !seen[t] {
			seen[t] = true
			counts[ix], sizes[ix] = uint64(c.Count), uint64(c.Size)
		}
	}
	indexfile.Add(b, "conservative_counts", counts)
	indexfile.Add(b, "conservative_sizes", sizes)
}

// restoreConservativeModules reads what saveConservativeModules saved,
// when it was (an index saved before it was: counted on first use). A
// count beyond the objects of its type, or a type that is not a module,
// is refused.
func (h *Heap) restoreConservativeModules(x *indexfile.Index) error {
	if !x.Has("conservative_counts") && !x.Has("conservative_sizes") {
		return nil
	}
	if !x.Has("type_counts") {
		// Saved together: checking these against the objects would
		// otherwise read every object's type and size.
		return fmt.Errorf("saved census: conservative counts without type counts")
	}
	counts, err := indexfile.Get[uint64](x, "conservative_counts")
	if err != nil {
		return err
	}
	sizes, err := indexfile.Get[uint64](x, "conservative_sizes")
	if err != nil {
		return err
	}
	types, all, totalSizes := h.TypeTotals()
	out, err := conservativeFromSaved(counts, sizes, types, all, totalSizes)
	if err != nil {
		return err
	}
	h.conservModules = out
	return nil
}

// conservativeFromSaved checks saved conservative counts and sizes (per
// type index) against the census's types and their totals: only modules,
// none beyond their type's objects and bytes, no bytes without objects.
func conservativeFromSaved(counts, sizes []uint64, types []*Type, all []int, totalSizes []int64) (map[*Type]ConservativeTotal, error) {
	if len(counts) != len(types) || len(sizes) != len(types) {
		return nil, fmt.Errorf("saved census: %d conservative counts and %d sizes for %d types", len(counts), len(sizes), len(types))
	}
	out := map[*Type]ConservativeTotal{}
	for ix, t := range types {
		if counts[ix] == 0 && sizes[ix] == 0 {
			continue
		}
		if t == nil || t.Kind != KindModule || counts[ix] == 0 || counts[ix] > uint64(all[ix]) || sizes[ix] > uint64(totalSizes[ix]) {
			return nil, fmt.Errorf("saved census: type %d: %d conservative objects of %d bytes, not modules among its %d", ix, counts[ix], sizes[ix], all[ix])
		}
		c := out[t]
		c.Count += int(counts[ix])
		c.Size += int64(sizes[ix])
		out[t] = c
	}
	return out, nil
}
