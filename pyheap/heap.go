package pyheap

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/pycoroner/pycoroner/pyheap/census"
)

// The census and the graph questions live in package census, which knows
// no CPython; pyheap is its model (censusModel, censusReader below) and
// names its results for callers of pyheap.
type (
	TooBigError = census.TooBigError
	ObjectID    = census.ObjectID
	Edge        = census.Edge
	HeapStats   = census.Stats
)

// Heap is the census of every live object reachable in the image (see
// census.Heap), with the runtime it was taken of.
type Heap struct {
	*census.Heap[*Type]
	r *Runtime
	// conservModules: ConservativeModules, once found or restored.
	conservModules map[*Type]ConservativeTotal
}

// Runtime is the runtime the census read.
func (h *Heap) Runtime() *Runtime { return h.r }

// HeapOptions tune a census.
type HeapOptions struct {
	// Progress, when set, is called now and then with the objects found.
	Progress func(objects int)
	// MaxObjects, when positive, bounds the census (census.Options):
	// past it BuildHeap fails with a *TooBigError.
	MaxObjects int
	// Workers, when positive, is how many goroutines split the census
	// whatever the heap's size; zero lets the census choose.
	Workers int
}

// BuildHeap takes the census.
func (r *Runtime) BuildHeap(opts HeapOptions) (*Heap, error) {
	// Names of types that must come from memory are looked up once, now:
	// renaming types while workers read them would race.
	r.fallbackName(0)
	h, err := census.Build[*Type](censusModel{r}, census.Options{Progress: opts.Progress, Workers: opts.Workers, MaxObjects: opts.MaxObjects})
	if err != nil {
		return nil, err
	}
	heap := &Heap{Heap: h, r: r}
	if err := heap.checkGC(); err != nil {
		return nil, err
	}
	return heap, nil
}

// censusModel is the census's view of a runtime.
type censusModel struct{ r *Runtime }

func (m censusModel) Ranges() [][2]uint64 {
	var ranges [][2]uint64
	for _, s := range m.r.m.img.Segments() {
		if s.Filesz > 0 {
			ranges = append(ranges, [2]uint64{s.Vaddr, s.Vaddr + s.Filesz})
		}
	}
	return ranges
}

// Seed reports the objects of every interpreter's GC lists, then the named
// roots, and the objects that 3.11+ interpreter frames (not objects) refer
// to.
func (m censusModel) Seed(gc func(addr uint64)) (census.Seeds, error) {
	r := m.r
	var seeds census.Seeds
	interps, err := r.Interpreters()
	if err != nil && len(interps) == 0 {
		return seeds, err
	}
	for _, in := range interps {
		collecting, lists := r.gcLists(in, gc)
		seeds.GCCollecting = seeds.GCCollecting || collecting
		for _, l := range lists {
			if l.Broken != "" {
				seeds.Incomplete = append(seeds.Incomplete, fmt.Sprintf("the GC's %s list is broken (%s): objects after the break were not walked", l.Name, l.Broken))
			}
		}
	}
	var iframes []uint64
	seeds.Roots, iframes = r.roots(interps)
	var interned []uint64
	for _, root := range seeds.Roots {
		if root.Kind == RootInterned {
			interned = append(interned, root.Addr)
		}
	}
	r.interned.Store(&interned)
	for _, fr := range iframes {
		r.walkIFrame(fr, false, func(target uint64, _ Ref, _ bool) { seeds.Hidden = append(seeds.Hidden, target) })
	}
	return seeds, nil
}

func (m censusModel) NewReader() census.Reader[*Type] { return &censusReader{r: m.r.NewReader()} }

// censusReader answers the census's questions about single objects.
type censusReader struct{ r *Runtime }

func (cr *censusReader) TypeOf(addr uint64) (*Type, uint64, error) {
	t, err := cr.r.TypeOf(addr)
	if err != nil {
		return nil, 0, err
	}
	return t, t.Addr, nil
}

func (cr *censusReader) Refs(obj uint64, t *Type, emit func(target uint64, via Ref, conservative bool)) {
	if t.Kind == KindOther && cr.walkPlain(obj, t, emit) {
		return
	}
	if t.Kind == KindDict {
		if in := cr.r.interned.Load(); in != nil && slices.Contains(*in, obj) {
			cr.r.walkInterned(obj, emit)
			return
		}
	}
	walkObject(cr.r, obj, t, emit)
}

// walkInterned walks a dict of interned strings as the references it
// owns: an immortal interned str is the dict's for good, a mortal one is
// held without a counted reference (it dies with its last real owner,
// and leaves the dict then). Counted as references, the mortal ones made
// the dict, a named root, share every interned str a leaking container
// holds (sys.intern'd ids) and so took them out of its retained size.
func (r *Runtime) walkInterned(obj uint64, emit emitFunc) {
	r.walkDict(obj, false, func(target uint64, via Ref, conservative bool) {
		if !r.mortalInterned(target) {
			emit(target, via, conservative)
		}
	})
}

// mortalInterned reports whether addr is a str interned as mortal.
func (r *Runtime) mortalInterned(addr uint64) bool {
	L := r.L
	if L.InternedMortal <= 0 || L.UnicodeInternedBits <= 0 {
		return false
	}
	t, err := r.TypeOf(addr)
	if err != nil || t.Kind != KindStr {
		return false
	}
	state, err := r.m.u32(L.UnicodeState.Add(addr))
	if err != nil {
		return false
	}
	return int64(state>>uint(L.UnicodeInternedShift)&(1<<uint(L.UnicodeInternedBits)-1)) == L.InternedMortal
}

// walkPlain is walkInstance for the commonest object of all, an instance
// whose references are just its attributes, without the labelling: it
// reports false, having done nothing, for every other object.
func (cr *censusReader) walkPlain(obj uint64, t *Type, emit emitFunc) bool {
	r := cr.r
	if !r.typeWalkOf(t).plain {
		return false
	}
	dict, keys, values, err := r.instanceDict(obj, t)
	if err != nil || (dict == 0 && keys == 0) {
		return true
	}
	if dict != 0 {
		emit(dict, Ref{}, false)
		return true
	}
	r.eachKeysItem(keys, values, func(_, v uint64) bool {
		emit(v, Ref{}, false)
		return true
	})
	return true
}

// AppendRefs is Refs for the commonest objects of a heap, appending the
// targets to dst instead of calling back once per reference: plain
// instances (walkPlain), tuples and lists (walkObject). Same targets, same
// order; ok is false, dst untouched, for every other object.
func (cr *censusReader) AppendRefs(obj uint64, t *Type, dst []uint64) ([]uint64, bool) {
	r := cr.r
	switch t.Kind {
	case KindNone, KindBool, KindInt, KindFloat, KindStr, KindBytes:
		return dst, true
	case KindTuple, KindList:
		n, err := r.varSize(obj)
		if err != nil || n <= 0 || n > maxDictEntries {
			return dst, true
		}
		base := r.L.TupleItems.Add(obj)
		if t.Kind == KindList {
			if base = r.ptrField(obj, r.L.ListItems); base == 0 {
				return dst, true
			}
		}
		raw, err := r.m.bytes(base, int(n)*8)
		if err != nil {
			return dst, true
		}
		for j := 0; j < int(n); j++ {
			if it := le64(raw[8*j:]); it != 0 {
				dst = append(dst, it)
			}
		}
		return dst, true
	case KindOther:
		if !r.typeWalkOf(t).plain {
			return dst, false
		}
		dict, keys, values, err := r.instanceDict(obj, t)
		switch {
		case err != nil || (dict == 0 && keys == 0):
			return dst, true
		case dict != 0:
			return append(dst, dict), true
		}
		return r.appendKeysValues(keys, values, dst), true
	}
	return dst, false
}

// appendKeysValues appends the values eachKeysItem would report.
func (r *Runtime) appendKeysValues(keys, values uint64, dst []uint64) []uint64 {
	if values == 0 {
		r.eachKeysItem(keys, 0, func(_, v uint64) bool {
			dst = append(dst, v)
			return true
		})
		return dst
	}
	kt := r.lastKeys
	if keys != r.lastKeysAt {
		var err error
		if kt, err = r.readKeys(keys); err != nil {
			return dst
		}
		r.lastKeys, r.lastKeysAt = kt, keys
	}
	const chunk = 512
	for start := int64(0); start < kt.nentries; start += chunk {
		n := min(kt.nentries-start, chunk)
		raw, err := r.m.bytes(kt.entries+uint64(start)*kt.entrySz, int(uint64(n)*kt.entrySz))
		if err != nil {
			return dst
		}
		vals, err := r.m.bytes(values+uint64(start)*8, int(n)*8)
		if err != nil {
			return dst
		}
		for i := int64(0); i < n; i++ {
			k := le64(raw[uint64(i)*kt.entrySz+kt.keyOff:])
			if v := le64(vals[8*i:]); k != 0 && v != 0 {
				dst = append(dst, v)
			}
		}
	}
	return dst
}

func (cr *censusReader) Labelled(obj uint64, t *Type, emit func(target uint64, via Ref, conservative bool)) {
	cr.r.walkRefs(obj, t, true, emit)
}

// LabelledAmong is Labelled less the references to targets f does not
// have: a tuple's or list's items are compared with f in place, without
// a call each (finding one record in a list of 3 M was a call per item,
// two through the callbacks).
func (cr *censusReader) LabelledAmong(obj uint64, t *Type, f *census.AddrFilter, emit func(target uint64, via Ref, conservative bool)) {
	r := cr.r
	tw := r.typeWalkOf(t)
	if tw.seq != KindTuple && tw.seq != KindList {
		r.walkRefs(obj, t, true, func(target uint64, via Ref, conservative bool) {
			if f.MayHave(target) {
				emit(target, via, conservative)
			}
		})
		return
	}
	if f.MayHave(t.Addr) {
		emit(t.Addr, fieldRef("__class__"), false) // as walkRefs does
	}
	raw, err := r.seqItems(obj, tw.seq)
	if err != nil {
		return
	}
	for i := 0; i < len(raw)/8; i++ {
		if it := binary.LittleEndian.Uint64(raw[8*i:]); it != 0 && f.MayHave(it) {
			emit(it, Ref{Kind: census.RefItem, Index: int64(i)}, false)
		}
	}
}

func (cr *censusReader) Size(obj uint64, t *Type) int64 { return cr.r.shallowSize(obj, t) }

// GCType: objects of the type have a GC header.
func (cr *censusReader) GCType(t *Type) bool {
	L := cr.r.L
	return L.GCHeadSize > 0 && L.TPFlagsHaveGC.In(t.Flags)
}

// Tracked: obj's GC header links it into a list (a static type object,
// whatever its type's flags say, has no GC header).
func (cr *censusReader) Tracked(obj uint64, t *Type) bool {
	r, L := cr.r, cr.r.L
	if t.Kind == KindType && !L.TPFlagsHeapType.In(r.typeFlags(obj)) {
		return false
	}
	return r.linkedGCHead(obj - uint64(L.GCHeadSize))
}

// gcLists reports every object on an interpreter's GC generation lists,
// whether the collector was running, and each list as walked.
func (r *Runtime) gcLists(in Interp, add func(addr uint64)) (collecting bool, lists []GCList) {
	L := r.L
	var gc uint64
	switch {
	case L.InterpGC.Has():
		gc = L.InterpGC.Add(in.Addr)
	case L.RuntimeGC.Has():
		gc = L.RuntimeGC.Add(r.Addr)
	default:
		return false, nil
	}
	if coll, err := r.m.i32(L.GCCollecting.Add(gc)); err == nil && coll != 0 {
		collecting = true
	}
	var heads []uint64
	for g := 0; g < 3; g++ {
		heads = append(heads, L.GCGenerationHead.Add(L.GCGenerations.Add(gc)+uint64(g)*uint64(L.GCGenerationSize)))
	}
	if L.GCPermanent.Has() {
		heads = append(heads, L.GCGenerationHead.Add(L.GCPermanent.Add(gc)))
	}
	for i, head := range heads {
		lists = append(lists, r.walkGCList(gcListNames[i], head, add))
	}
	return collecting, lists
}

// maxGCList bounds the walk of one GC list of an untrusted image.
const maxGCList = 1 << 28
