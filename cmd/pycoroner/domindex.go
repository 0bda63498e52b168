package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/pycoroner/pycoroner/bigarray"
	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/indexfile"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

// The dominator tree of a census is saved beside its index, in a file of
// its own (schema "dominators"), by the first command that computes it
// (retained, top, leaks, instances) or by `pycoroner index`: the census's
// first command does not pay for it, and later leak commands map it
// instead of computing it again. It records the fingerprint of the census
// index it was computed from (indexfile.Index.Fingerprint) and is used
// only with that census.

// domIndexSchema names a saved dominator tree and the version of its form.
var domIndexSchema = indexfile.Schema{Kind: "dominators", Version: 2}

// domMeta is the small part of a saved tree, as JSON.
type domMeta struct {
	Census        string // hex of the census index's fingerprint
	Objects       int
	TotalRetained uint64
	Stats         dominators.Stats
}

// leakNeeds names what a leak command reads of a saved census and of its
// saved dominator tree (the retained sizes and counts always): the rest is
// neither mapped nor checked, which is most of a warm command's cost (a
// saved array is checksummed whole on first use: 84 MB per array on a
// heap of 21 M objects).
type leakNeeds struct {
	census   pyheap.SavedParts
	children bool // the child lists: leaks, retained
	types    bool // the leak graph's type numbering, made from the census's (computing a tree; sums from a tree saved without them)
	// typeSums: top --by type's sums saved per type
	// (reports.TypeTopsSums), or, from a tree saved without them, the
	// child lists and types to compute them.
	typeSums bool
	// groups: a type per object, in any numbering (leaks and instances
	// group and compare types, their answers do not follow the
	// numbering): the census's own, already read, when its types are
	// each listed once, else the saved one.
	groups bool
}

// allLeakNeeds reads everything.
var allLeakNeeds = leakNeeds{census: pyheap.SavedAll, children: true, types: true, groups: true, typeSums: true}

// leakGraph is leakGraphFor with everything: for a session opened with
// every part of its census (openHeap).
func (hs *heapSession) leakGraph() (*reports.LeakGraph, error) {
	return hs.leakGraphFor(nil, allLeakNeeds)
}

// leakGraphFor is the census's leak graph with its dominator tree: mapped
// from the saved tree when there is one for this census (only what needs
// names), else computed (and then saved, when the census has a saved
// index). Computing it reads every part of the census: those the session
// did not read (openLeakHeap) are read now, and if one of them is damaged
// the census is taken again (gf's flags) with a warning.
func (hs *heapSession) leakGraphFor(gf *globalFlags, needs leakNeeds) (*reports.LeakGraph, error) {
	if g, ok := hs.savedTree(needs); ok {
		return g, nil
	}
	if err := hs.h.Preload(pyheap.SavedAll); err != nil {
		if gf == nil {
			return nil, fmt.Errorf("%s: %w", hs.proc.Path(), err)
		}
		if err := hs.retakeCensus(gf, err); err != nil {
			return nil, err
		}
	}
	// The tree reads no object: the core's pages (all of them, mapped
	// for the census) leave the process until the answer reads the few it
	// needs (a 1.2 GB core: 1.2 GB of its peak memory).
	step := time.Now()
	hs.proc.Evict()
	if err := hs.restoreSaved(gf, true, pyheap.SavedReverse); err != nil {
		if gf == nil {
			return nil, fmt.Errorf("%s: %w", hs.proc.Path(), err)
		}
		return nil, err
	}
	traceStep("tree: census restored, its arrays given back", &step)
	held := int64(0)
	if hs.index == nil {
		held = int64(hs.h.Len()) * censusBytesPerObject // --no-index: beside the census's arrays
	}
	if err := checkTreeMemory(hs.h.Len(), hs.h.Stats.Edges, hs.index != nil, held); err != nil {
		return nil, fmt.Errorf("%s: %w", hs.proc.Path(), err)
	}
	g, reach, err := hs.computeTree()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hs.proc.Path(), err)
	}
	step = time.Now()
	err = hs.saveTree(g, reach)
	traceStep("tree: saved", &step)
	if err != nil {
		hs.warnings = append(hs.warnings, fmt.Sprintf("dominator tree not saved (%v): the next command computes it again", err))
	}
	return g, nil
}

// computeTree computes the dominator tree of hs's census, its child
// lists, types and the set of objects the named roots reach. A census
// restored from its saved index (leakGraphFor replaces a census just taken
// by the heap restored from the index it saved, and gives its arrays
// back: restoreSaved) is computed from the mapped index in little memory
// (reports.LeakGraph.ComputeTreeLean: on bigheap, 36 bytes per object at
// most, against 91 beside the census's arrays), the index's pages dropped
// from the process as each step is done with them: the page cache keeps
// them.
func (hs *heapSession) computeTree() (*reports.LeakGraph, []uint64, error) {
	step := time.Now()
	if hs.index == nil {
		// No saved index (--no-index, a cache that cannot be written).
		g := reports.NewLeakTypes(hs.h)
		if err := g.ComputeTree(); err != nil {
			return nil, nil, err
		}
		reach := hs.h.NamedRootReach()
		hs.h.SetNamedRootReach(reach)
		traceStep("tree: dominators", &step)
		return g, reach, nil
	}
	g := &reports.LeakGraph{H: hs.h}
	reach, err := g.ComputeTreeLean(func(s string) {
		// The reverse index and types read to build the out-edges, then
		// the reverse index read as predecessors: not read again before
		// the answer, which reads few of their pages.
		if s != "search" {
			hs.index.Evict()
		}
		traceStep("tree: "+s, &step)
	})
	if err != nil {
		return nil, nil, err
	}
	hs.index.Evict() // the sizes
	traceStep("tree: retained sizes", &step)
	hs.h.SetNamedRootReach(reach)
	g.Tree.Children(dominators.Root)
	traceStep("tree: child lists", &step)
	g.AddTypes()
	hs.index.Evict()
	traceStep("tree: types", &step)
	return g, reach, nil
}

// restoreSaved replaces a census just taken and saved (hs.index nil, a
// cache) by the heap restored from its saved index, with the census's
// statistics (its answers say how the census was taken, as before), and
// gives the census's own arrays back (census.Heap.Release): the
// dominator tree reads the mapped index, whose pages it can drop, instead
// of the arrays (about 21 bytes per object) it no longer needs. If the index
// cannot be loaded, the census stays as it is; if a part of it is found
// damaged once the census is given back, the census is taken again (gf's
// flags) with a warning, as for a damaged index (without flags, the
// damage is the error). reuse: the caller's
// arrays will reuse the census's memory (package bigarray: cheaper than
// fresh memory on our VMs), so it is kept until they are made; else it is
// given back at once. keep: the parts of the index the caller reads
// next, whose pages are left in memory.
func (hs *heapSession) restoreSaved(gf *globalFlags, reuse bool, keep pyheap.SavedParts) error {
	if hs.index != nil || hs.cache == nil {
		return nil
	}
	x, err := hs.cache.Load(hs.key, pyheap.HeapIndexSchema)
	if err != nil {
		return nil
	}
	h, err := hs.rt.LoadHeap(x)
	if err != nil {
		x.Close()
		return nil
	}
	h.Stats = hs.h.Stats
	taken := hs.h
	hs.h, hs.index = h, x
	taken.Release()
	if !reuse {
		bigarray.Trim()
	}
	// Each part is checked (read whole) before the answer uses it, as a
	// warm command's are, and its pages dropped after (all of them at
	// once would cost 21 bytes per object again), but for those the
	// caller reads next (keep), checked last: touching a page again costs
	// a fault.
	parts := []pyheap.SavedParts{pyheap.SavedAddrs, pyheap.SavedSizes, pyheap.SavedReverse, pyheap.SavedForward}
	slices.SortStableFunc(parts, func(a, b pyheap.SavedParts) int {
		return cmp.Compare(min(a&keep, 1), min(b&keep, 1))
	})
	x.Evict()
	for _, part := range parts {
		err := h.Preload(part)
		if part&keep == 0 {
			x.Evict()
		}
		if err != nil {
			if gf == nil {
				return err
			}
			return hs.retakeCensus(gf, err)
		}
	}
	return nil
}

// openLeakHeap opens the heap of a leak command's core reading only the
// parts of a saved census it needs (leakGraphFor reads the rest if it
// must compute the dominator tree).
func (gf *globalFlags) openLeakHeap(path string, needs leakNeeds) (*heapSession, error) {
	return gf.openHeapFor(path, needs.census)
}

// retakeCensus replaces a restored census one of whose parts is damaged
// (why) by a census taken again, and saved again.
func (hs *heapSession) retakeCensus(gf *globalFlags, why error) error {
	if hs.index != nil {
		hs.index.Close()
		os.Remove(hs.index.Path())
		hs.index = nil
	}
	hs.h = nil
	warnings, err := gf.heapOf(hs, hs.proc.Path(), pyheap.SavedAll, nil)
	if err != nil {
		return fmt.Errorf("%s: heap census: %w", hs.proc.Path(), err)
	}
	hs.warnings = append(append(hs.warnings, fmt.Sprintf("%v; the census was taken again", why)), warnings...)
	return nil
}

// censusFingerprint is the fingerprint of the census index hs's census was
// restored from or saved to; false when it has none.
func (hs *heapSession) censusFingerprint() (string, bool) {
	if hs.index != nil {
		fp := hs.index.Fingerprint()
		return fmt.Sprintf("%x", fp), true
	}
	if hs.cache == nil {
		return "", false
	}
	x, err := hs.cache.Load(hs.key, pyheap.HeapIndexSchema)
	if err != nil {
		return "", false
	}
	defer x.Close()
	fp := x.Fingerprint()
	return fmt.Sprintf("%x", fp), true
}

// savedTree restores the leak graph of hs's census with its saved
// dominator tree. A tree that cannot be used (damaged,
// of another census) is removed and computed again, with a warning when it
// was damaged.
func (hs *heapSession) savedTree(needs leakNeeds) (*reports.LeakGraph, bool) {
	if hs.cache == nil {
		return nil, false
	}
	fp, ok := hs.censusFingerprint()
	if !ok {
		return nil, false
	}
	var g *reports.LeakGraph
	x, ok := hs.loadSide(domIndexSchema, "dominator tree", "computed again", func(x *indexfile.Index) (err error) {
		g, err = restoreTree(x, fp, hs.h, needs)
		return err
	})
	if !ok {
		return nil, false
	}
	hs.extra = append(hs.extra, x)
	return g, true
}

func restoreTree(x *indexfile.Index, fp string, h *pyheap.Heap, needs leakNeeds) (*reports.LeakGraph, error) {
	objects := h.Len()
	meta, err := readSideMeta[domMeta](x, fp)
	if err != nil {
		return nil, err
	}
	if meta.Objects != objects {
		return nil, fmt.Errorf("%d objects, the census has %d", meta.Objects, objects)
	}
	if !x.Has("count") {
		return nil, errors.New("no retained sizes")
	}
	// The immediate dominators are not read: every question of the leak
	// commands is answered by the retained sizes and the child lists.
	var arrays [3][]uint32
	names := []string{"count", "retained_lo", "retained_hi"}
	if meta.TotalRetained < dominators.NoHighHalves {
		names = names[:2] // the high halves are all 0: not read
	}
	for i, name := range names {
		if arrays[i], err = indexfile.Get[uint32](x, name); err != nil {
			return nil, err
		}
	}
	tree, err := dominators.RestorePart(objects, arrays[0], arrays[1], arrays[2], meta.TotalRetained, meta.Stats)
	if err != nil {
		return nil, err
	}
	// Sums are saved with the types' largest objects (saveTree), whose
	// addresses name their types.
	hasSums := x.Has("type_sums_shallow") && x.Has("type_tops_addrs")
	if needs.typeSums && !hasSums {
		needs.children, needs.types = true, true // to compute them
	}
	if needs.children {
		off, err := indexfile.Get[uint32](x, "child_off")
		if err != nil {
			return nil, err
		}
		kids, err := indexfile.Get[uint32](x, "children")
		if err != nil {
			return nil, err
		}
		// Trusted: checked by an earlier process, the file unchanged.
		checked := x.Trusted("child_off") && x.Trusted("children")
		if err := tree.RestoreChildren(off, kids, checked); err != nil {
			return nil, err
		}
	}
	g := &reports.LeakGraph{H: h, Tree: tree}
	if needs.census&pyheap.SavedSizes != 0 {
		g.Sizes = h.Sizes()
	}
	if x.Has("largest_shallow") { // trees saved before 2026-12-03 have none
		largest, err := indexfile.Get[uint32](x, "largest_shallow")
		if err != nil {
			return nil, err
		}
		if err := checkBelow(largest, uint32(objects)); err != nil {
			return nil, fmt.Errorf("largest shallow sizes: %w", err)
		}
		if len(largest) > reports.SavedLargest {
			return nil, fmt.Errorf("%d largest shallow sizes, at most %d are saved", len(largest), reports.SavedLargest)
		}
		g.LargestShallow = largest
	}
	if x.Has("type_tops_addrs") { // trees saved before 2026-12-03 have none
		tt, err := restoreTypeTops(x, objects)
		if err != nil {
			return nil, err
		}
		if needs.typeSums && hasSums {
			if err := restoreTypeSums(x, tt, h, objects, meta.TotalRetained); err != nil {
				return nil, err
			}
		}
		g.TypeTops = tt
	}
	if needs.types || (needs.groups && !censusTypes(h, g)) {
		// Numbered from the census's own types, as when the tree was
		// computed (reports.LeakGraph.AddTypes: 70 ms on 21 M objects,
		// where saving the numbering cost 84 MB to write).
		g.AddTypes()
	}
	reach, err := indexfile.Get[uint64](x, "root_reach")
	if err != nil {
		return nil, err
	}
	if !h.SetNamedRootReach(reach) {
		return nil, fmt.Errorf("%d words of root reach for %d objects", len(reach), objects)
	}
	return g, nil
}

// restoreTypeTops reads each type's count and largest objects
// (reports.TypeTops), checked.
func restoreTypeTops(x *indexfile.Index, objects int) (*reports.TypeTops, error) {
	tt := &reports.TypeTops{}
	var err error
	if tt.Addrs, err = indexfile.Get[uint64](x, "type_tops_addrs"); err != nil {
		return nil, err
	}
	for name, dst := range map[string]*[]uint32{"type_tops_off": &tt.Off, "type_tops_nodes": &tt.Nodes, "type_tops_counts": &tt.Counts} {
		if *dst, err = indexfile.Get[uint32](x, name); err != nil {
			return nil, err
		}
	}
	if err := tt.Check(objects); err != nil {
		return nil, fmt.Errorf("largest objects per type: %w", err)
	}
	return tt, nil
}

// restoreTypeSums reads top --by type's saved sums into tt (restored by
// restoreTypeTops), checked, and names its types by the census's.
func restoreTypeSums(x *indexfile.Index, tt *reports.TypeTops, h *pyheap.Heap, objects int, totalRetained uint64) error {
	s := &reports.TypeTopsSums{}
	var err error
	for name, dst := range map[string]*[]uint64{"type_sums_shallow": &s.Shallow, "type_sums_retained": &s.Retained, "type_sums_objects": &s.Objects} {
		if *dst, err = indexfile.Get[uint64](x, name); err != nil {
			return err
		}
	}
	if s.Counted, err = indexfile.Get[uint32](x, "type_sums_counted"); err != nil {
		return err
	}
	tt.Sums = s
	if err := tt.CheckSums(objects, totalRetained); err != nil {
		return fmt.Errorf("sums per type: %w", err)
	}
	_, types := h.TypeIndexes()
	if types == nil {
		return errOtherCensus
	}
	return tt.Resolve(types)
}

// censusTypes gives g the census's type per object and type table, when
// the table lists each type once (else false: two indexes of one type
// would count it as two).
func censusTypes(h *pyheap.Heap, g *reports.LeakGraph) bool {
	typeOf, types := h.TypeIndexes()
	if typeOf == nil || len(typeOf) != h.Len() {
		return false
	}
	seen := make(map[*pyheap.Type]bool, len(types))
	for _, t := range types {
		if seen[t] {
			return false
		}
		seen[t] = true
	}
	g.TypeOf, g.Types = typeOf, types
	return true
}

// checkBelow checks that every value of v is below n.
func checkBelow(v []uint32, n uint32) error {
	for i, x := range v {
		if x >= n {
			return fmt.Errorf("%d at %d, want below %d", x, i, n)
		}
	}
	return nil
}

// saveTree saves g's dominator tree beside hs's census index, when it has
// one. The leak graph's type numbering is not saved: it is made again from
// the census's types when a command needs it (restoreTree).
func (hs *heapSession) saveTree(g *reports.LeakGraph, reach []uint64) error {
	t := g.Tree
	if hs.cache == nil {
		return nil
	}
	if typeOf, _ := hs.h.TypeIndexes(); typeOf == nil {
		return nil // a census not laid out as saved
	}
	fp, ok := hs.censusFingerprint()
	if !ok {
		return nil // no census index (not saved): nothing to stand beside
	}
	meta, err := json.Marshal(domMeta{Census: fp, Objects: hs.h.Len(), TotalRetained: t.TotalRetained, Stats: t.Stats})
	if err != nil {
		return err
	}
	b := indexfile.NewBuilder("dominator tree of " + absPath(hs.proc.Path()))
	// The immediate dominators are not saved: no command reads them from
	// a saved tree (restoreTree), and they were 4 bytes per object to write.
	_, count, lo, hi := t.Arrays()
	if count != nil {
		indexfile.Add(b, "count", count)
		indexfile.Add(b, "retained_lo", lo)
		if t.TotalRetained >= dominators.NoHighHalves {
			// Below, every high half is 0: not written, not read
			// (restoreTree).
			indexfile.Add(b, "retained_hi", hi)
		}
	}
	off, kids := t.ChildArrays()
	indexfile.Add(b, "child_off", off)
	indexfile.Add(b, "children", kids)
	step := time.Now()
	indexfile.Add(b, "largest_shallow", reports.LargestShallow(hs.h.Sizes()))
	tt := reports.NewTypeTops(g)
	traceStep("tree: largest objects (by size, per type), sums per type", &step)
	if tt != nil {
		indexfile.Add(b, "type_tops_addrs", tt.Addrs)
		indexfile.Add(b, "type_tops_off", tt.Off)
		indexfile.Add(b, "type_tops_nodes", tt.Nodes)
		indexfile.Add(b, "type_tops_counts", tt.Counts)
		indexfile.Add(b, "type_sums_shallow", tt.Sums.Shallow)
		indexfile.Add(b, "type_sums_counted", tt.Sums.Counted)
		indexfile.Add(b, "type_sums_retained", tt.Sums.Retained)
		indexfile.Add(b, "type_sums_objects", tt.Sums.Objects)
	}
	indexfile.Add(b, "root_reach", reach)
	indexfile.Add(b, "meta", meta)
	saved, err := hs.cache.Save(hs.key, domIndexSchema, b)
	if err != nil {
		return err
	}
	indexTrace("saved %s", saved)
	return nil
}
