package reports

import (
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/internal/faultgroup"
	"github.com/pycoroner/pycoroner/pyheap"
)

// TopObject is one of the biggest objects.
type TopObject struct {
	Address         string   `json:"address"`
	Type            string   `json:"type"`
	ShallowSize     uint64   `json:"shallow_size"`
	RetainedSize    uint64   `json:"retained_size"`
	RetainedObjects uint32   `json:"retained_objects"`
	Path            *RefPath `json:"path"` // null: no named root reaches it
}

// TopType is one type's instances summed. By retained size, only the
// instances no other instance of the type dominates count (a linked
// list's nodes are not counted once per node above them).
type TopType struct {
	Type            string `json:"type"` // tp_name
	Module          string `json:"module"`
	Count           int    `json:"count"`        // instances
	Counted         int    `json:"counted"`      // instances summed (not dominated by another instance)
	ShallowSize     uint64 `json:"shallow_size"` // of every instance
	RetainedSize    uint64 `json:"retained_size"`
	RetainedObjects uint64 `json:"retained_objects"`
	addr            uint64 // of its type object: the last tie-breaker
}

// Top is the answer of `top`: the objects (or types) with the largest
// retained (or shallow) size.
type Top struct {
	Retained bool
	ByType   bool
	Objects  []TopObject
	Types    []TopType
	Total    int // objects or types before --top
	heapSize uint64
}

// JSON is what --json prints: the objects or the types.
func (t *Top) JSON() any {
	if t.ByType {
		return t.Types
	}
	return t.Objects
}

// BuildTop lists the top biggest objects (or types, byType) by retained
// size (retained) or shallow size; top 0 lists all types (objects are
// always bounded: 0 means 25).
func BuildTop(g *LeakGraph, retained, byType bool, top int) *Top {
	out := &Top{Retained: retained, ByType: byType, heapSize: g.HeapSize()}
	if byType {
		out.Types = topTypes(g, retained)
		out.Total = len(out.Types)
		if top > 0 && len(out.Types) > top {
			out.Types = out.Types[:top]
		}
		return out
	}
	if top <= 0 {
		top = 25
	}
	out.Total = g.H.Len()
	out.Objects = []TopObject{}
	paths := newPathLabeller(g.H)
	for _, u := range topObjects(g, retained, top) {
		id := pyheap.ObjectID(u)
		o := TopObject{Address: hexAddr(g.H.Addr(id)), Type: g.Type(dominators.Node(u)).ShortName(),
			ShallowSize: uint64(g.Sizes[u]), RetainedSize: g.Tree.Retained(dominators.Node(u)), RetainedObjects: g.Tree.Count[u]}
		o.Path = paths.rootPath(id)
		out.Objects = append(out.Objects, o)
	}
	return out
}

// topObjects is the top objects by retained or shallow size, largest
// first (ties: the smaller id first). By retained size the dominator tree
// is walked from its root, biggest first (dominators.Tree.Largest), which
// meets few nodes; by shallow size, or when that walk declines, every
// object is looked at.
func topObjects(g *LeakGraph, retained bool, top int) []int {
	if !retained {
		if top <= len(g.LargestShallow) {
			out := make([]int, top)
			for i, u := range g.LargestShallow[:top] {
				out[i] = int(u)
			}
			return out
		}
		return largestValues(g.Sizes, top)
	}
	if nodes, ok := g.Tree.Largest(top); ok {
		out := make([]int, len(nodes))
		for i, u := range nodes {
			out[i] = int(u)
		}
		return out
	}
	return biggest(g.H.Len(), top, func(u int) uint64 { return g.Tree.Retained(dominators.Node(u)) })
}

// SavedLargest is how many of the objects with the largest shallow sizes
// a saved dominator tree lists (LargestShallow), for `top` to read
// instead of every size: more than --top asks for but in a few scripts.
const SavedLargest = 1024

// LargestShallow lists the objects with the largest shallow sizes, largest
// first (ties: the smaller id first), SavedLargest of them at most: what
// `top` lists, to be saved.
func LargestShallow(sizes []uint32) []uint32 {
	ids := largestValues(sizes, SavedLargest)
	out := make([]uint32, len(ids))
	for i, u := range ids {
		out[i] = uint32(u)
	}
	return out
}

// largestValues is biggest over vals itself, in parts one per CPU (21 M
// sizes: tens of ms through a key function on one): each part keeps its
// own top k, and the top of their union, in the same total order, is the
// top of all.
func largestValues(vals []uint32, k int) []int {
	parts := 1
	if len(vals) >= 1<<20 {
		parts = runtime.GOMAXPROCS(0)
	}
	perPart := make([][]int, parts)
	var wg faultgroup.Group // the arrays may be a saved file's mapping
	for p := range parts {
		lo, hi := len(vals)*p/parts, len(vals)*(p+1)/parts
		wg.Go(func() {
			h := &minHeap{key: func(u int) uint64 { return uint64(vals[u]) }}
			least := uint32(0)
			for i := lo; i < hi; i++ {
				v := vals[i]
				if h.Len() < k {
					heap.Push(h, i)
					least = vals[h.ids[0]]
				} else if v > least {
					h.ids[0] = i
					heap.Fix(h, 0)
					least = vals[h.ids[0]]
				}
			}
			perPart[p] = h.ids
		})
	}
	wg.Wait()
	var all []int
	for _, ids := range perPart {
		all = append(all, ids...)
	}
	slices.SortFunc(all, func(a, b int) int {
		if c := cmp.Compare(vals[b], vals[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return all[:min(k, len(all))]
}

// topTypes sums each type's instances; by retained size, only those no
// instance of their type dominates (dominators.Tree.SumByType). A saved
// tree's sums are read when it has them (TypeTops.topTypes).
func topTypes(g *LeakGraph, retained bool) []TopType {
	rows, ok := g.TypeTops.topTypes(g.H.Runtime())
	if !ok {
		rows = make([]TopType, len(g.Types))
		rt := g.H.Runtime()
		for i, t := range g.Types {
			rows[i] = TopType{Type: t.Name, Module: rt.TypeModule(t), addr: t.Addr}
		}
		for u, ti := range g.TypeOf {
			rows[ti].Count++
			rows[ti].ShallowSize += uint64(g.Sizes[u])
		}
		sums := g.typeSums()
		for i := range rows {
			rows[i].Counted, rows[i].RetainedSize, rows[i].RetainedObjects = sums.Counted[i], sums.Retained[i], sums.Objects[i]
		}
	}
	// A total order (the type object's address last): the rows do not
	// depend on how the types were numbered.
	slices.SortFunc(rows, func(a, b TopType) int {
		ka, kb := a.ShallowSize, b.ShallowSize
		if retained {
			ka, kb = a.RetainedSize, b.RetainedSize
		}
		if c := cmp.Compare(kb, ka); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Module, b.Module); c != 0 {
			return c
		}
		return cmp.Compare(a.addr, b.addr)
	})
	return rows
}

// biggest returns the k of [0, n) with the largest key, largest first
// (ties: the smaller index first), keeping a heap of k.
func biggest(n, k int, key func(int) uint64) []int {
	h := &minHeap{key: key}
	// The least kept key is remembered: one call of key per object (tens
	// of millions), not two.
	var least uint64
	for i := 0; i < n; i++ {
		if h.Len() < k {
			heap.Push(h, i)
			least = key(h.ids[0])
		} else if ki := key(i); ki > least {
			h.ids[0] = i
			heap.Fix(h, 0)
			least = key(h.ids[0])
		}
	}
	out := h.ids
	slices.SortFunc(out, func(a, b int) int {
		if c := cmp.Compare(key(b), key(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return out
}

type minHeap struct {
	ids []int
	key func(int) uint64
}

func (h *minHeap) Len() int { return len(h.ids) }
func (h *minHeap) Less(i, j int) bool {
	ki, kj := h.key(h.ids[i]), h.key(h.ids[j])
	if ki != kj {
		return ki < kj
	}
	return h.ids[i] > h.ids[j]
}
func (h *minHeap) Swap(i, j int) { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *minHeap) Push(x any)    { h.ids = append(h.ids, x.(int)) }
func (h *minHeap) Pop() any {
	x := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return x
}

// WriteText prints the table.
func (t *Top) WriteText(w io.Writer) error {
	what := "shallow"
	if t.Retained {
		what = "retained"
	}
	if t.ByType {
		rows := make([][]string, 0, len(t.Types))
		for _, r := range t.Types {
			rows = append(rows, []string{r.Type, r.Module, strconv.Itoa(r.Count), byteSize(int64(r.ShallowSize)),
				byteSize(int64(r.RetainedSize)), strconv.Itoa(r.Counted)})
		}
		if err := table(w, []string{"type", "module", "count", "shallow", "retained", "counted"}, rows); err != nil {
			return err
		}
		fmt.Fprintf(w, "types by %s size; retained sums the instances no other instance of the type dominates (counted)\n", what)
		if len(t.Types) < t.Total {
			fmt.Fprintf(w, "the top %d of %d types shown (--top 0 shows all)\n", len(t.Types), t.Total)
		}
		return nil
	}
	rows := make([][]string, 0, len(t.Objects))
	for _, o := range t.Objects {
		path := "(no named root reaches it)"
		if o.Path != nil {
			path = PathText(*o.Path)
		}
		rows = append(rows, []string{byteSize(int64(o.RetainedSize)), percent(o.RetainedSize, t.heapSize), byteSize(int64(o.ShallowSize)), o.Type, path})
	}
	if err := table(w, []string{"retained", "share", "shallow", "type", "path from a root"}, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "the %d objects with the largest %s size, of %d (heap: %s)\n", len(t.Objects), what, t.Total, byteSize(int64(t.heapSize)))
	return err
}
