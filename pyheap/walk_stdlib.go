package pyheap

import (
	"strings"
	"sync"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// The standard library's C types are walked from their generated layouts
// (layout.StdTypes): every object pointer of the struct, then what the
// type keeps outside it (a deque's blocks, an lru_cache's linked list, an
// Element's children, a HAMT node's array). A type is walked this way only
// when its tp_basicsize agrees with the generated struct, so a build whose
// module differs from the one the table came from (Debian's 3.11 against
// pyenv's) falls back to the conservative scan instead of misreading.

// stdWalk is how instances of one type are walked from a generated layout.
type stdWalk struct {
	st   *layout.StdType
	name string // the type (the type itself or a base) the layout belongs to
	// the dict slot the generic walker already follows (tp_dictoffset)
	dictOff layout.Offset
}

var stdTablesByVersion sync.Map // version -> map[string]*layout.StdType

// stdTypes are the layouts of the build's exact release when a table of
// its own exists (a distribution's stripped build), else its minor's.
func (r *Runtime) stdTypes() map[string]*layout.StdType {
	v := r.Version
	if v == "" {
		v = r.L.Version
	}
	if m, ok := stdTablesByVersion.Load(v); ok {
		return m.(map[string]*layout.StdType)
	}
	m := layout.StdTypesFor(v)
	stdTablesByVersion.Store(v, m)
	return m
}

// stdLayoutFits checks a type's size against its generated struct.
func stdLayoutFits(t *Type, st *layout.StdType) bool {
	if t.Itemsize == 0 {
		return t.Basicsize == st.Size
	}
	// A variable-size struct ends in a one-element array the items replace.
	return t.Basicsize <= st.Size && st.Size-t.Basicsize <= 16
}

// stdTypeWalk completes tw for a standard-library C type, or a class
// derived from one: the nearest type along tp_base with a generated
// layout gives the walker. A static type derived from a builtin container
// (defaultdict, OrderedDict, struct sequences) also walks that container.
func (r *Runtime) stdTypeWalk(t *Type, tw *typeWalk) {
	tables := r.stdTypes()
	cur := t
	foundBuiltin := tw.solidKind != KindOther
	for i := 0; i < 64 && cur != nil; i++ {
		if tw.std == nil && tables != nil {
			// A core type's name has no dot ("property", "map"): a
			// class statement can reuse it, so only a static type counts.
			// weakref itself keeps its registered walker (its callback
			// only), and so does builtin_method (mm_class included).
			if st := tables[cur.Name]; st != nil && stdLayoutFits(cur, st) && (strings.Contains(cur.Name, ".") || !cur.Heap(r)) && !(cur == t && tw.special != nil && (st.Struct == "_PyWeakReference" || st.Struct == "PyCMethodObject")) {
				tw.std = &stdWalk{st: st, name: cur.Name, dictOff: layout.Offset(t.Dictoffset)}
				size := st.Size
				if cur.Itemsize > 0 {
					size = cur.Basicsize
				}
				if size > tw.solidSize {
					tw.solidSize = size
				}
			}
		}
		if !foundBuiltin && cur != t {
			switch cur.Kind {
			case KindInt, KindBytes:
				// Past the header are digits or bytes, never pointers
				// (and a subclass of a variable-size type has no slots).
				tw.conservOK = false
				foundBuiltin = true
			case KindTuple, KindList, KindDict, KindSet, KindFrozenSet, KindType:
				tw.solidKind = cur.Kind
				foundBuiltin = true
				if cur.Basicsize > tw.solidSize {
					tw.solidSize = cur.Basicsize
				}
			}
		}
		bp := r.ptrField(cur.Addr, r.L.TypeBase)
		if bp == 0 {
			break
		}
		if tw.solidKind == KindTuple && t.Heap(r) {
			tw.conservOK = false // past the header are the items, which walkSeq follows
		}
		next, err := r.typeAt(bp)
		if err != nil {
			break
		}
		cur = next
	}
	if tw.base == nil {
		if tw.solidKind == KindType {
			tw.base = walkTypeObject
		} else {
			tw.base = baseWalk(tw.solidKind)
		}
	}
}

// walkStd emits the references of a standard-library C object.
func (r *Runtime) walkStd(obj uint64, t *Type, sw *stdWalk, labels bool, emit emitFunc) {
	st := sw.st
	for _, m := range st.Refs {
		if m.Offset == sw.dictOff {
			continue // walkInstance follows the __dict__ slot
		}
		if p := r.ptrField(obj, m.Offset); p != 0 {
			emit(p, fieldRef(m.Name), false)
		}
	}
	for _, m := range st.Tagged {
		if p := r.ptrField(obj, m.Offset) &^ 1; p != 0 {
			emit(p, fieldRef(m.Name), false)
		}
	}
	switch st.Special {
	case "deque":
		r.eachDequeItem(obj, st, func(i int, it uint64) bool {
			emit(it, Ref{Kind: RefItem, Index: int64(i)}, false)
			return true
		})
	case "lru":
		r.eachLRULink(obj, st, func(key, result uint64) bool {
			if key != 0 {
				emit(key, fieldRef("cache key"), false)
			}
			if result != 0 {
				emit(result, fieldRef("cached result"), false)
			}
			return true
		})
	case "teedata":
		n, err := r.m.i32(st.Offset("numread").Add(obj))
		if err != nil || n < 0 || int64(n) > st.Value("len:values") {
			return
		}
		r.emitArray(obj+uint64(st.Offset("values")), int(n), emit)
	case "varitems": // HAMT bitmap and collision nodes: ob_size slots
		n, err := r.varSize(obj)
		if err != nil || n < 0 || n > 1<<16 {
			return
		}
		for _, f := range []string{"b_array", "c_array"} {
			if off := st.Offset(f); off.Has() {
				r.emitArray(off.Add(obj), int(n), emit)
			}
		}
	case "tzinfo":
		if has, err := r.m.u8(st.Offset("hastzinfo").Add(obj)); err == nil && has != 0 {
			if p := r.ptrField(obj, st.Offset("tzinfo")); p != 0 {
				emit(p, fieldRef("tzinfo"), false)
			}
		}
	case "ringbuf": // 3.13 SimpleQueue: num_items from get_idx, wrapping at items_cap
		if !st.Offset("buf.items").Has() {
			return // a list before 3.13, among the members
		}
		get, err1 := r.m.i64(st.Offset("buf.get_idx").Add(obj))
		capacity, err2 := r.m.i64(st.Offset("buf.items_cap").Add(obj))
		n, err3 := r.m.i64(st.Offset("buf.num_items").Add(obj))
		items := r.ptrField(obj, st.Offset("buf.items"))
		if err1 != nil || err2 != nil || err3 != nil || items == 0 || capacity <= 0 || capacity > 1<<24 || n < 0 || n > capacity || get < 0 || get >= capacity {
			return
		}
		all, _, err := r.words(items, int(capacity), capacity)
		if err != nil {
			return
		}
		for i := int64(0); i < n; i++ {
			if p := all[(get+i)%capacity]; p != 0 {
				emit(p, Ref{Kind: RefItem, Index: i}, false)
			}
		}
	case "sqlitecache": // sqlite3.Cache (3.8-3.10): its nodes, from first
		next := st.Offset("pysqlite_Node:next")
		if !next.Has() {
			return
		}
		p := r.ptrField(obj, st.Offset("first"))
		for i := int64(0); p != 0 && i < maxFreeList; i++ {
			emit(p, Ref{Kind: RefItem, Index: i}, false)
			p = r.ptrField(p, next)
		}
	case "hamtarray":
		r.emitArray(obj+uint64(st.Offset("a_array")), int(st.Value("len:a_array")), emit)
	case "element":
		r.eachElementChild(obj, st, func(attrib bool, i int, child uint64) bool {
			if attrib {
				emit(child, fieldRef("attrib"), false)
			} else {
				emit(child, Ref{Kind: RefItem, Index: int64(i)}, false) // child i
			}
			return true
		})
	}
}

// emitArray emits the non-NULL pointers of an array of n objects, as
// items by their index.
func (r *Runtime) emitArray(base uint64, n int, emit emitFunc) {
	if n <= 0 || n > 1<<20 {
		return
	}
	raw, err := r.m.bytes(base, 8*n)
	if err != nil {
		return
	}
	for i := 0; i < n; i++ {
		if p := le64(raw[8*i:]); p != 0 {
			emit(p, Ref{Kind: RefItem, Index: int64(i)}, false)
		}
	}
}

// eachDequeItem calls fn with each item of a deque, left to right: the
// items live in a chain of blocks, from leftindex in the first block.
func (r *Runtime) eachDequeItem(obj uint64, st *layout.StdType, fn func(i int, item uint64) bool) {
	n, err := r.varSize(obj)
	if err != nil || n <= 0 || n > maxDictEntries {
		return
	}
	blockLen := st.Value("len:BLOCK:data")
	dataOff, linkOff := st.Offset("BLOCK:data"), st.Offset("BLOCK:rightlink")
	b := r.ptrField(obj, st.Offset("leftblock"))
	i, err := r.m.i64(st.Offset("leftindex").Add(obj))
	if err != nil || b == 0 || i < 0 || i >= blockLen || blockLen <= 0 || dataOff < 0 || linkOff < 0 {
		return
	}
	var raw []byte
	for k := 0; int64(k) < n; k++ {
		if i == blockLen {
			if b = r.ptrField(b, linkOff); b == 0 {
				return
			}
			i, raw = 0, nil
		}
		if raw == nil {
			if raw, err = r.m.bytes(b+uint64(dataOff), int(8*blockLen)); err != nil {
				return
			}
		}
		if it := le64(raw[8*i:]); it != 0 && !fn(k, it) {
			return
		}
		i++
	}
}

// eachLRULink calls fn with the key and result of each entry of an
// lru_cache wrapper's linked list (bounded caches; an unbounded one keeps
// its results in the cache dict only).
func (r *Runtime) eachLRULink(obj uint64, st *layout.StdType, fn func(key, result uint64) bool) {
	next, key, res := st.Offset("lru_list_elem:next"), st.Offset("lru_list_elem:key"), st.Offset("lru_list_elem:result")
	if next < 0 || key < 0 || res < 0 {
		return
	}
	// Each link is also a value of the cache dict: a list longer than the
	// dict is damaged (or a cycle), so stop there.
	limit := int64(0)
	for _, m := range st.Refs {
		if m.Name == "cache" {
			if cache := r.ptrField(obj, m.Offset); cache != 0 {
				limit, _ = r.m.i64(r.L.DictUsed.Add(cache))
			}
		}
	}
	if limit <= 0 || limit > maxDictEntries {
		return
	}
	link := r.ptrField(obj, st.Offset("root.next"))
	for n := int64(0); link != 0 && link != obj && n < limit; n++ {
		if !fn(r.ptrField(link, key), r.ptrField(link, res)) {
			return
		}
		link = r.ptrField(link, next)
	}
}

// eachElementChild calls fn with an Element's attrib dict (attrib=true)
// and then its children, from the extra struct.
func (r *Runtime) eachElementChild(obj uint64, st *layout.StdType, fn func(attrib bool, i int, child uint64) bool) {
	extra := r.ptrField(obj, st.Offset("extra"))
	if extra == 0 {
		return
	}
	if a := r.ptrField(extra, st.Offset("ElementObjectExtra:attrib")); a != 0 && !fn(true, 0, a) {
		return
	}
	n, err := r.m.i64(st.Offset("ElementObjectExtra:length").Add(extra))
	children := r.ptrField(extra, st.Offset("ElementObjectExtra:children"))
	if err != nil || n <= 0 || n > 1<<24 || children == 0 {
		return
	}
	vals, _, err := r.words(children, int(n), n)
	if err != nil {
		return
	}
	for i, c := range vals {
		if c != 0 && !fn(false, i, c) {
			return
		}
	}
}

// walkTypeFields follows a type object's references as type_traverse
// does; the heap-type members when the object itself is a heap type.
func (r *Runtime) walkTypeFields(obj uint64, labels bool, emit emitFunc) {
	L := r.L
	one := func(off layout.Offset, via string) {
		if p := r.ptrField(obj, off); p != 0 {
			emit(p, fieldRef(via), false)
		}
	}
	one(L.TypeDict, "__dict__")
	one(L.TypeBases, "__bases__")
	one(L.TypeMro, "__mro__")
	one(L.TypeBase, "__base__")
	if flags, err := r.m.u64(L.TypeFlags.Add(obj)); err == nil && L.TPFlagsHeapType.In(flags) {
		one(L.HeapTypeName, "__name__")
		one(L.HeapTypeQualname, "__qualname__")
		one(L.HeapTypeSlots, "__slots__")
		one(L.HeapTypeModule, "__module__ (ht_module)")
	}
}

// walkTypeObject follows a type object as type_traverse does, the
// heap-type members when the object itself is a heap type (the flags of
// its metatype say nothing about that).
func walkTypeObject(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	r.walkTypeFields(obj, labels, emit)
}

// stdExtraFields are the object members of a core kind's struct that its
// fixed list (known) leaves out, from the generated layout: a function's
// func_builtins (3.10+) and func_typeparams (3.12+).
func (r *Runtime) stdExtraFields(t *Type, known []field) []field {
	st := r.stdTypes()[t.Name]
	if st == nil || !stdLayoutFits(t, st) {
		return nil
	}
	var out []field
members:
	for _, m := range st.Refs {
		for _, k := range known {
			if m.Offset == k.off {
				continue members
			}
		}
		out = append(out, field{m.Offset, m.Name})
	}
	return out
}

// walkModule follows a module's __dict__ and scans its C state: the
// module's m_traverse would visit what the state holds, and it cannot be
// run on a core, so the state's words are followed conservatively.
func walkModule(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	if p := r.ptrField(obj, r.L.ModuleDict); p != 0 {
		emit(p, fieldRef("__dict__"), false)
	}
	state, size := r.moduleState(obj)
	if size <= 0 {
		return
	}
	if st := r.moduleStateLayout(obj, size); st != nil {
		r.walkModuleState(state, st, emit)
		return
	}
	raw, err := r.m.bytes(state, int(size)&^7)
	if err != nil {
		return
	}
	for off := 0; off+8 <= len(raw); off += 8 {
		if p := le64(raw[off:]); p != 0 && p%8 == 0 {
			// Past the module object's own end: say where the word is.
			emit(p, Ref{Kind: RefWord, Offset: int64(off), Name: "its C state"}, true)
		}
	}
}

// visitsManagedDictFirst reports whether the build's
// PyObject_VisitManagedDict visits an instance's __dict__ whenever it has
// one, and its inline values only when it has none (CPython gh-130327).
// The fix was merged into the 3.13 and 3.14 branches on 2026-03-02, after
// 3.13.12 and 3.14.3; the 3.15 series has it from its start. No struct
// tells the two behaviours apart, so the exact version decides (sys.hexversion,
// else Py_Version); docs/limits.md says which builds were checked.
func (r *Runtime) visitsManagedDictFirst() bool {
	hex := r.HexVersion
	if hex == 0 {
		hex = r.claimedHex
	}
	minor, patch := hex>>16&0xff, hex>>8&0xff
	switch {
	case minor == 13:
		return patch > 12
	case minor == 14:
		return patch > 3
	}
	return minor > 14
}

// moduleStateLayout is the generated layout of a module's C state
// ("module NAME" in layout.StdSpecs), nil when there is none or its size
// is not the state's.
func (r *Runtime) moduleStateLayout(obj uint64, size int64) *layout.StdType {
	tables := r.stdTypes()
	if tables == nil {
		return nil
	}
	name, err := r.strField(obj, r.L.ModuleName)
	if err != nil {
		return nil
	}
	st := tables["module "+name]
	if st == nil || st.Size != size {
		return nil
	}
	return st
}

// maxFreeList bounds a free list followed through a module's state.
const maxFreeList = 1 << 12

// walkModuleState follows the object members of a module's C state, as
// its m_traverse visits them, and what the state heads: _asyncio's free
// list of FutureIter objects (3.12-3.13), linked through their future
// member.
func (r *Runtime) walkModuleState(state uint64, st *layout.StdType, emit emitFunc) {
	for _, m := range st.Refs {
		if p := r.ptrField(state, m.Offset); p != 0 {
			emit(p, fieldRef(m.Name), false)
		}
	}
	switch st.Special {
	case "fi_freelist":
		r.walkFutureIterFreeList(state, st, emit)
	case "deccondmap":
		// Arrays of DecCondMap, each up to an entry whose name is NULL.
		size, name, ex := st.Value("size:DecCondMap"), st.Offset("DecCondMap:name"), st.Offset("DecCondMap:ex")
		if size <= 0 || !name.Has() || !ex.Has() {
			return
		}
		for _, arr := range []string{"signal_map", "cond_map"} {
			base := r.ptrField(state, st.Offset(arr))
			for i := uint64(0); base != 0 && i < 64; i++ {
				entry := base + i*uint64(size)
				if r.ptrField(entry, name) == 0 {
					break
				}
				if p := r.ptrField(entry, ex); p != 0 {
					emit(p, fieldRef(arr+" exception"), false)
				}
			}
		}
	}
}

// walkFutureIterFreeList follows _asyncio's free list of FutureIter
// objects (3.12-3.13): dead objects kept for reuse, which its m_traverse
// visits.
func (r *Runtime) walkFutureIterFreeList(state uint64, st *layout.StdType, emit emitFunc) {
	next := st.Offset("futureiterobject:future")
	if !next.Has() {
		return
	}
	limit := int64(maxFreeList)
	if n, err := r.m.i64(st.Offset("fi_freelist_len").Add(state)); err == nil && n >= 0 && n < limit {
		limit = n
	}
	p := r.ptrField(state, st.Offset("fi_freelist"))
	for i := int64(0); p != 0 && i < limit; i++ {
		emit(p, fieldRef("fi_freelist (free FutureIter objects)"), false)
		p = r.ptrField(p, next)
	}
}

// moduleState is where a module's C state is and its size in bytes (0
// when it has none): the size is the definition's m_size, or from 3.15
// the module's own md_state_size (a module need not have a definition).
func (r *Runtime) moduleState(obj uint64) (uint64, int64) {
	L := r.L
	state := r.ptrField(obj, L.ModuleState)
	if state == 0 {
		return 0, 0
	}
	var size int64
	var err error
	if L.ModuleStateSize.Has() {
		size, err = r.m.i64(L.ModuleStateSize.Add(obj))
	} else {
		def := r.ptrField(obj, L.ModuleDef)
		if def == 0 {
			return 0, 0
		}
		size, err = r.m.i64(L.ModuleDefMSize.Add(def))
	}
	if err != nil || size <= 0 || size > 1<<16 {
		return 0, 0
	}
	return state, size
}

// walkInlineValues: on 3.13 an instance whose __dict__ was asked for
// keeps its attribute values inline for as long as they stay valid, and
// the dict shares them; the collector then visits the values from the
// instance, so pycoroner reports them from there too (besides the dict).
// Releases with the fix of gh-130327 visit the dict instead (which
// visits the values): then the instance reports its dict only.
func (r *Runtime) walkInlineValues(obj uint64, t *Type, labels bool, emit emitFunc) {
	L := r.L
	if !L.TPFlagsInlineValues.In(t.Flags) || !L.DictValuesValid.Has() || r.visitsManagedDictFirst() {
		return
	}
	values := obj + uint64(t.Basicsize)
	if valid, err := r.m.u8(L.DictValuesValid.Add(values)); err != nil || valid == 0 {
		return
	}
	keys := r.ptrField(t.Addr, L.HeapTypeCachedKeys)
	if keys == 0 {
		return
	}
	if L.DictValuesValues.Has() {
		values = L.DictValuesValues.Add(values)
	}
	r.eachKeysItem(keys, values, func(k, v uint64) bool {
		name := ""
		if labels {
			name = r.attrName(k)
		}
		emit(v, Ref{Kind: RefAttribute, Name: name}, false)
		return true
	})
}
