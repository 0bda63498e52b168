package pyheap

import (
	"fmt"
	"strings"
)

// The census finds what no root reaches (unreachable cycles, a leak before
// the collector runs) only through the collector's own lists. A layout
// that misplaces the GC state, or a damaged one, makes those lists empty
// or short, and the census would silently miss everything they hold. So
// the census checks itself: every list must close back at its head with
// consistent back links, and every object the census found whose GC
// header says it is tracked must have been on one of the lists walked.

// GCList is one collector list as the census walked it.
type GCList struct {
	Name   string `json:"name"`   // "generation 0", "permanent generation"
	Walked int    `json:"walked"` // objects on it
	Broken string `json:"broken"` // how the list is broken; "" when it closes at its head
}

// gcListNames names the lists gcLists walks, in order.
var gcListNames = []string{"generation 0", "generation 1", "generation 2", "permanent generation"}

// walkGCList visits every object of the list whose PyGC_Head sentinel is
// at head, checking each link: the list must come back to head, and each
// element's back link must name the element before it.
func (r *Runtime) walkGCList(name string, head uint64, visit func(obj uint64)) GCList {
	L := r.L
	out := GCList{Name: name}
	prev := head
	p, err := r.m.ptr(head)
	for {
		switch {
		case err != nil:
			out.Broken = fmt.Sprintf("unreadable link after %d objects: %v", out.Walked, err)
			return out
		case p == 0:
			out.Broken = fmt.Sprintf("NULL link after %d objects", out.Walked)
			return out
		case out.Walked >= maxGCList:
			out.Broken = fmt.Sprintf("more than %d objects (the list loops?)", maxGCList)
			return out
		}
		p &^= 3 // the low bits of _gc_next are flags in some versions
		if p == head {
			return out
		}
		if p%8 != 0 {
			out.Broken = fmt.Sprintf("misaligned link 0x%x after %d objects", p, out.Walked)
			return out
		}
		// _gc_prev holds flags in its low bits (_PyGC_PREV_SHIFT).
		back, err2 := r.m.u64(p + 8)
		if err2 != nil || back&^7 != prev&^7 {
			out.Broken = fmt.Sprintf("object %d's back link is 0x%x, not 0x%x", out.Walked, back, prev)
			return out
		}
		visit(p + uint64(L.GCHeadSize))
		out.Walked++
		prev = p
		p, err = r.m.ptr(p)
	}
}

// checkGC compares what the census found with what the collector's
// lists hold, after the census: tracked objects on none of the lists
// (counted while the census visited them: censusReader.Tracked) make the
// census incomplete, and nothing on the lists of a non-empty heap is an
// error.
func (h *Heap) checkGC() error { return h.r.checkGC(&h.Stats) }

func (r *Runtime) checkGC(st *HeapStats) error {
	L := r.L
	if L.GCHeadSize <= 0 || st.GCCollecting {
		return nil
	}
	if st.GCTracked == 0 && st.Objects > 0 {
		why := ""
		if len(st.Incomplete) > 0 {
			why = " (" + strings.Join(st.Incomplete, "; ") + ")"
		}
		return fmt.Errorf("the census found %d objects but none on the garbage collector's lists%s: the GC state is damaged or this build's layout misplaces it; refusing a census that would silently miss every object only the collector reaches", st.Objects, why)
	}
	if n := st.GCUnlisted; n > 0 {
		st.Incomplete = append(st.Incomplete, fmt.Sprintf("%d objects are tracked by the GC (their GC header links them into a list) but were on none of the lists walked: the GC state is damaged or misread, and objects that only the GC's lists reach (unreachable cycles) are missing from this census", n))
	}
	return nil
}

// linkedGCHead reports whether the PyGC_Head at gc is in a list: its
// next link is an aligned pointer to a node whose back link names gc
// (memory before an object that has no GC header fails this).
func (r *Runtime) linkedGCHead(gc uint64) bool {
	next, err := r.m.u64(gc)
	if err != nil || next == 0 {
		return false
	}
	next &^= 3
	if next%8 != 0 {
		return false
	}
	back, err := r.m.u64(next + 8)
	return err == nil && back&^7 == gc
}

// typeFlags reads tp_flags of the type object at addr.
func (r *Runtime) typeFlags(addr uint64) uint64 {
	f, err := r.m.u64(r.L.TypeFlags.Add(addr))
	if err != nil {
		return 0
	}
	return f
}
