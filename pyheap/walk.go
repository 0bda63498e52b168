package pyheap

import (
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/census"
	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// emitFunc receives one reference from an object. via says how the object
// refers to target (item 3, the value of key 'payload', attribute
// payload); names that cost a read (a key's repr, an attribute's name)
// are filled only when labels were asked for. conservative marks a word
// that merely looks like a pointer to an object (types pycoroner has no
// walker for).
type emitFunc func(target uint64, via Ref, conservative bool)

// Ref says how an object holds a reference (census.Ref: a kind and a name,
// index or offset; String is the label people read).
type Ref = census.Ref

// The kinds of reference (census.RefKind), for callers of pyheap.
const (
	RefUnknown   = census.RefUnknown
	RefItem      = census.RefItem
	RefKey       = census.RefKey
	RefKeyItself = census.RefKeyItself
	RefElement   = census.RefElement
	RefAttribute = census.RefAttribute
	RefSlot      = census.RefSlot
	RefField     = census.RefField
	RefLocal     = census.RefLocal
	RefStack     = census.RefStack
	RefWord      = census.RefWord
)

// fieldRef is the reference of a struct member named name.
func fieldRef(name string) Ref { return Ref{Kind: census.RefField, Name: name} }

// slotMember is one __slots__ entry (or C member) holding an object.
type slotMember struct {
	offset int64
	name   string
	// afterItems: the member lies past the object's variable-size items
	// (3.15, a subclass of tuple): offset counts from their end.
	afterItems bool
}

// field is a pointer member that a walker follows, and its label.
type field struct {
	off layout.Offset
	via string
}

// typeWalk is how instances of one type are walked, worked out once per
// type (typeWalkOf) from its kind, its name, its nearest static base and
// the layout: walkRefs then runs its steps in order.
type typeWalk struct {
	// kind walks a type the model classifies (a container, a frame): its
	// own walker, or its pointer members (fields), and nothing else.
	kind   walker
	seq    Kind // KindTuple or KindList when kind walks its items, and nothing else
	fields []field
	leaf   bool // int, str, ...: no references but the type
	// Otherwise an instance: the walker of its builtin base (a subclass
	// of list still holds items) and that base's members (an
	// exception's), the walker registered for its C type (walkers.go),
	// then the __dict__, the __slots__ members, and a conservative scan
	// of the words no walker accounts for.
	base       walker
	baseFields []field
	special    walker
	slots      []slotMember // member descriptors of T_OBJECT(_EX) fields, from the MRO
	slotNames  map[int64]string
	afterItems bool  // a slot lies past the variable-size items (3.15): walkInstance shifts the words past the base
	solidKind  Kind  // the kind of the nearest static base with a walker
	solidSize  int64 // bytes of the object that the walkers above cover
	weaklist   int64
	conservOK  bool // scan the remaining words conservatively
	// plain: an instance of a class without __slots__ or a builtin base
	// with references, whose only references are its attributes (see
	// censusReader.walkPlain)
	plain bool
	std   *stdWalk // a standard-library C type's generated layout (walk_stdlib.go)
}

// walker reports the references an object holds, as tp_traverse visits
// them; labels asks for the names that cost a read (see emitFunc).
type walker func(r *Runtime, obj uint64, labels bool, emit emitFunc)

// ptrField reads a pointer member; 0 when the version lacks it or it is unreadable.
func (r *Runtime) ptrField(obj uint64, off layout.Offset) uint64 {
	if !off.Has() {
		return 0
	}
	p, err := r.m.ptr(off.Add(obj))
	if err != nil {
		return 0
	}
	return p
}

// emitFields emits the non-NULL pointer members of obj.
func (r *Runtime) emitFields(obj uint64, fields []field, labels bool, emit emitFunc) {
	for _, f := range fields {
		if p := r.ptrField(obj, f.off); p != 0 {
			emit(p, fieldRef(f.via), false)
		}
	}
}

// walkRefs reports every reference obj holds, as its type's tp_traverse
// would visit them, plus obj's type.
func (r *Runtime) walkRefs(obj uint64, t *Type, labels bool, emit emitFunc) {
	if labels {
		// The census keeps the type edge implicitly (Heap.TypeObject).
		emit(t.Addr, fieldRef("__class__"), false)
	}
	tw := r.typeWalkOf(t)
	switch {
	case tw.leaf:
	case tw.kind != nil:
		tw.kind(r, obj, labels, emit)
	case tw.fields != nil:
		r.emitFields(obj, tw.fields, labels, emit)
	default:
		r.walkInstance(obj, t, tw, labels, emit)
	}
}

// kindWalk is how the kinds the model classifies are walked: their own
// walker, or their pointer members.
func (r *Runtime) kindWalk(t *Type, tw *typeWalk) bool {
	L := r.L
	switch t.Kind {
	case KindNone, KindBool, KindInt, KindFloat, KindStr, KindBytes:
		tw.leaf = true
	case KindTuple:
		tw.kind, tw.seq = walkTuple, KindTuple
	case KindList:
		tw.kind, tw.seq = walkList, KindList
	case KindDict:
		tw.kind = (*Runtime).walkDict
	case KindSet, KindFrozenSet:
		tw.kind = (*Runtime).walkSet
	case KindFrame:
		tw.kind = (*Runtime).walkFrameObject
	case KindModule:
		tw.kind = walkModule // __dict__, and the C state: walk_stdlib.go
	case KindFunction:
		tw.fields = []field{{L.FuncCode, "__code__"}, {L.FuncGlobals, "__globals__"}, {L.FuncDefaults, "__defaults__"},
			{L.FuncKwdefaults, "__kwdefaults__"}, {L.FuncClosure, "__closure__"}, {L.FuncDoc, "__doc__"},
			{L.FuncName, "__name__"}, {L.FuncQualname, "__qualname__"}, {L.FuncDict, "__dict__"},
			{L.FuncModule, "__module__"}, {L.FuncAnnotations, "__annotations__"}, {L.FuncBuiltins, "__builtins__"},
			{L.FuncTypeparams, "__type_params__"}, {L.FuncAnnotate, "__annotate__"}}
		tw.fields = append(tw.fields, r.stdExtraFields(t, tw.fields)...) // func_builtins, ...: walk_stdlib.go
	case KindCode:
		tw.fields = []field{{L.CodeConsts, "co_consts"}, {L.CodeNames, "co_names"}, {L.CodeVarnames, "co_varnames"},
			{L.CodeCellvars, "co_cellvars"}, {L.CodeFreevars, "co_freevars"}, {L.CodeLocalsplusNames, "co_localsplusnames"},
			{L.CodeLocalsplusKinds, "co_localspluskinds"}, {L.CodeFilename, "co_filename"}, {L.CodeName, "co_name"},
			{L.CodeQualname, "co_qualname"}, {L.CodeLnotab, "co_lnotab"}, {L.CodeLinetable, "co_linetable"},
			{L.CodeCode, "co_code"}, {L.CodeExceptionTable, "co_exceptiontable"}}
	case KindCell:
		tw.fields = []field{{L.CellRef, "cell contents"}}
	case KindType:
		tw.kind = walkTypeObject // by the object's own flags: walk_stdlib.go
	default:
		return false
	}
	return true
}

// baseWalk is the walker of an instance's builtin base kind.
func baseWalk(k Kind) walker {
	switch k {
	case KindTuple:
		return walkTuple
	case KindList:
		return walkList
	case KindDict:
		return (*Runtime).walkDict
	case KindSet, KindFrozenSet:
		return (*Runtime).walkSet
	}
	return nil
}

func walkTuple(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	r.walkSeq(obj, KindTuple, labels, emit)
}
func walkList(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	r.walkSeq(obj, KindList, labels, emit)
}

func (r *Runtime) walkSeq(obj uint64, kind Kind, labels bool, emit emitFunc) {
	r.eachSeqItem(obj, kind, func(i int, it uint64) {
		emit(it, Ref{Kind: census.RefItem, Index: int64(i)}, false)
	})
}

func (r *Runtime) walkDict(obj uint64, labels bool, emit emitFunc) {
	r.eachDictItem(obj, func(k, v uint64) bool {
		kl := ""
		if labels {
			kl = r.keyLabel(k)
		}
		emit(k, Ref{Kind: census.RefKeyItself, Name: kl}, false)
		emit(v, Ref{Kind: census.RefKey, Name: kl}, false)
		return true
	})
}

// keyLabel renders a dict key for a "via" label.
func (r *Runtime) keyLabel(key uint64) string {
	s := r.reprOf(key, 0)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func (r *Runtime) walkSet(obj uint64, labels bool, emit emitFunc) {
	items, _, err := r.SetItems(obj, maxDictEntries)
	if err != nil {
		return
	}
	for _, it := range items {
		emit(it, Ref{Kind: census.RefElement}, false)
	}
}

// walkFrameObject follows a frame object: 3.8-3.10 frames hold everything;
// from 3.11 a frame object owns its interpreter frame only once the
// function has returned or the generator finished.
func (r *Runtime) walkFrameObject(f uint64, labels bool, emit emitFunc) {
	L := r.L
	r.emitFields(f, []field{{L.FrameBack, "f_back"}, {L.FrameTrace, "f_trace"}}, labels, emit)
	if L.FrameCode.Has() { // 3.8-3.10
		r.emitFields(f, []field{{L.FrameCode, "f_code"}, {L.FrameBuiltins, "f_builtins"}, {L.FrameGlobals, "f_globals"}, {L.FrameLocalsDict, "f_locals"}}, labels, emit)
		code := r.ptrField(f, L.FrameCode)
		ci := r.code(code)
		n := len(ci.names)
		if stack := r.oldStackDepth(f); stack > 0 {
			n += stack
		}
		r.walkLocalsplus(L.FrameLocalsplus.Add(f), ci, n, labels, emit)
		return
	}
	iframe := r.ptrField(f, L.FrameFrame)
	if iframe == L.FrameData.Add(f) {
		r.walkIFrame(iframe, labels, emit)
	}
}

// oldStackDepth is the number of value-stack slots in use (3.8-3.10).
func (r *Runtime) oldStackDepth(f uint64) int {
	L := r.L
	if L.FrameStackdepth.Has() {
		d, err := r.m.i32(L.FrameStackdepth.Add(f))
		if err != nil || d < 0 || d > 1<<16 {
			return 0
		}
		return int(d)
	}
	top := r.ptrField(f, L.FrameStacktop)
	base := r.ptrField(f, L.FrameValuestack)
	if top == 0 || base == 0 || top < base || top-base > 8<<16 {
		return 0
	}
	return int((top - base) / 8)
}

// walkLocalsplus emits n slots of a fast-locals array (locals, cells, then
// the value stack).
func (r *Runtime) walkLocalsplus(base uint64, ci *codeInfo, n int, labels bool, emit emitFunc) {
	if n <= 0 || n > 1<<16 {
		return
	}
	vals, _, err := r.words(base, n, int64(n))
	if err != nil {
		return
	}
	for i, v := range vals {
		if v = r.untag(v); v == 0 {
			continue
		}
		if i < len(ci.names) {
			emit(v, Ref{Kind: census.RefLocal, Name: ci.names[i]}, false)
		} else {
			emit(v, Ref{Kind: census.RefStack, Index: int64(i - len(ci.names))}, false)
		}
	}
}

// walkIFrame follows an interpreter frame (3.11+), as _PyFrame_Traverse.
func (r *Runtime) walkIFrame(fr uint64, labels bool, emit emitFunc) {
	L := r.L
	// f_code and f_func are _PyStackRef in 3.14+: tagged.
	code := r.untag(r.ptrField(fr, L.IFrameCode))
	for _, f := range []field{{L.IFrameCode, "f_code"}, {L.IFrameFunc, "f_func"}} {
		if p := r.untag(r.ptrField(fr, f.off)); p != 0 {
			emit(p, fieldRef(f.via), false)
		}
	}
	r.emitFields(fr, []field{{L.IFrameGlobals, "f_globals"},
		{L.IFrameBuiltins, "f_builtins"}, {L.IFrameLocals, "f_locals"}, {L.IFrameFrameObj, "frame object"}}, labels, emit)
	if code == 0 {
		return
	}
	ci := r.code(code)
	var top int32
	if L.IFrameStackpointer.Has() {
		// 3.14+: a pointer to the first free slot.
		sp, err := r.m.ptr(L.IFrameStackpointer.Add(fr))
		base := L.IFrameLocalsplus.Add(fr)
		if err != nil || sp < base || sp-base > 8<<16 {
			return
		}
		top = int32((sp - base) / 8)
	} else {
		var err error
		if top, err = r.m.i32(L.IFrameStacktop.Add(fr)); err != nil || top < 0 {
			return
		}
	}
	r.walkLocalsplus(L.IFrameLocalsplus.Add(fr), ci, int(top), labels, emit)
}

// walkInstance covers everything else: the builtin base's walker (a
// subclass of list still holds items), the registered walker of its C
// type, the __dict__, __slots__ members, and a conservative scan of the
// words no walker accounts for.
func (r *Runtime) walkInstance(obj uint64, t *Type, tw *typeWalk, labels bool, emit emitFunc) {
	if tw.base != nil {
		tw.base(r, obj, labels, emit)
	}
	if tw.baseFields != nil {
		r.emitFields(obj, tw.baseFields, labels, emit)
	}
	if tw.special != nil {
		tw.special(r, obj, labels, emit)
	}
	if tw.std != nil {
		r.walkStd(obj, t, tw.std, labels, emit) // walk_stdlib.go
	}
	// __dict__, wherever this version keeps it.
	dict, keys, values, _ := r.instanceDict(obj, t)
	dictSlot := int64(-1)
	if dict != 0 {
		// An exception's dict is one of BaseException's own fields,
		// emitted above with them: not twice.
		if tw.solidKind != KindException || !r.L.ExcDict.Has() || t.Dictoffset != int64(r.L.ExcDict) {
			emit(dict, fieldRef("__dict__"), false)
		}
		r.walkInlineValues(obj, t, labels, emit) // 3.13, walk_stdlib.go
		if t.Dictoffset > 0 {
			dictSlot = t.Dictoffset
		}
	} else if keys != 0 { // values stored without a dict object (3.11+)
		r.eachKeysItem(keys, values, func(k, v uint64) bool {
			name := ""
			if labels {
				name = r.attrName(k)
			}
			emit(v, Ref{Kind: census.RefAttribute, Name: name}, false)
			return true
		})
	}
	// Words past the builtin base: named slots, else conservative.
	end := t.Basicsize
	if end > 1<<16 {
		return
	}
	slotName := tw.slotNames
	shift := int64(0)
	if tw.afterItems {
		// 3.15: the words past the base follow the items.
		var ok bool
		if shift, ok = r.itemsSize(obj, t); !ok {
			return
		}
	}
	for off := tw.solidSize; off+8 <= end; off += 8 {
		if off == dictSlot || off == tw.weaklist || off < 16 {
			continue
		}
		p := r.ptrField(obj, layout.Offset(off+shift))
		if p == 0 {
			continue
		}
		if name, ok := slotName[off]; ok {
			emit(p, Ref{Kind: census.RefSlot, Name: name}, false)
		} else if tw.conservOK && p%8 == 0 {
			emit(p, Ref{Kind: census.RefWord, Offset: off}, true)
		}
	}
}

// itemsSize is the bytes of an object's variable-size items
// (Py_SIZE × tp_itemsize), what a slot placed after them is shifted by.
func (r *Runtime) itemsSize(obj uint64, t *Type) (int64, bool) {
	n, err := r.varSize(obj)
	if err != nil || n < 0 || n > 1<<32 || t.Itemsize <= 0 || t.Itemsize > 1<<10 {
		return 0, false
	}
	return n * t.Itemsize, true
}

// slotOffset is where slot s lies in obj.
func (r *Runtime) slotOffset(obj uint64, t *Type, s slotMember) (int64, bool) {
	if !s.afterItems {
		return s.offset, true
	}
	shift, ok := r.itemsSize(obj, t)
	return s.offset + shift, ok
}

func (r *Runtime) attrName(key uint64) string {
	if s, err := r.StrValue(key); err == nil {
		return s
	}
	return r.keyLabel(key)
}

// typeWalkOf works out, once per type, how its instances are walked.
func (r *Runtime) typeWalkOf(t *Type) *typeWalk {
	if tw := t.walk.Load(); tw != nil {
		return tw
	}
	tw := r.computeTypeWalk(t)
	if !t.walk.CompareAndSwap(nil, tw) {
		return t.walk.Load() // another census worker was first
	}
	return tw
}

func (r *Runtime) computeTypeWalk(t *Type) *typeWalk {
	L := r.L
	tw := &typeWalk{solidSize: 16, weaklist: -1, conservOK: true}
	if r.kindWalk(t, tw) {
		return tw
	}
	if wl, err := r.m.i64(L.TypeWeaklistoffset.Add(t.Addr)); err == nil && wl > 0 {
		tw.weaklist = wl
	}
	if w, ok := walkers[t.Name]; ok && !t.Heap(r) {
		// A registered walker covers the C struct: nothing of it is
		// scanned conservatively.
		tw.special, tw.conservOK = w, false
	}
	if sw, ok := sizedWalkers[t.Name]; ok && !t.Heap(r) {
		if n := sw.size(L); n > 0 && t.Basicsize == n {
			tw.special, tw.conservOK = sw.w, false
		}
	}
	if t.Kind == KindException {
		// The walker covers BaseException's fields: the scan starts after them.
		tw.solidKind, tw.solidSize = KindException, L.ExcBaseSize
	}
	// The nearest static base: its kind decides the builtin part.
	base := t
	for i := 0; i < 64 && base != nil && base.Heap(r); i++ {
		bp := r.ptrField(base.Addr, L.TypeBase)
		if bp == 0 {
			base = nil
			break
		}
		b, err := r.typeAt(bp)
		if err != nil {
			base = nil
			break
		}
		base = b
	}
	if base != nil && base != t {
		switch base.Kind {
		case KindTuple, KindList, KindDict, KindSet, KindFrozenSet, KindException:
			tw.solidKind = base.Kind
		}
		if base.Name != "object" && base.Basicsize > tw.solidSize {
			tw.solidSize = base.Basicsize
		}
	}
	tw.base = baseWalk(tw.solidKind)
	if tw.solidKind == KindException {
		tw.baseFields = []field{{L.ExcArgs, "args"}, {L.ExcTraceback, "__traceback__"}, {L.ExcContext, "__context__"},
			{L.ExcCause, "__cause__"}, {L.ExcDict, "__dict__"}, {L.ExcNotes, "__notes__"}}
		if end := int64(L.ExcGroupExcs) + 8; L.ExcGroupExcs.Has() && L.ExcGroupMsg.Has() && t.Basicsize >= end && r.derivesFrom(t, "BaseExceptionGroup") {
			// Its sub-exceptions are held by this tuple alone once the
			// sequence given to the constructor is gone.
			tw.baseFields = append(tw.baseFields, field{L.ExcGroupMsg, "message"}, field{L.ExcGroupExcs, "exceptions"})
			tw.solidSize = max(tw.solidSize, end)
		}
	}
	if t.Heap(r) {
		tw.slots = r.slotMembers(t)
	}
	tw.slotNames = map[int64]string{}
	for _, s := range tw.slots {
		tw.slotNames[s.offset] = s.name
		tw.afterItems = tw.afterItems || s.afterItems
	}
	r.stdTypeWalk(t, tw) // walk_stdlib.go
	if tw.std == nil && tw.special == nil && base != nil && base != t {
		// A class derived from a C type that has a registered walker
		// and no generated layout here (weakref's subclasses, KeyedRef
		// and WeakMethod, on 3.14+): the base's walker covers its
		// struct, and the class's own words are its slots.
		if w, ok := walkers[base.Name]; ok {
			tw.special, tw.conservOK = w, false
		}
	}
	tw.plain = tw.std == nil && t.Kind == KindOther && tw.solidKind == KindOther && tw.special == nil
	for off := tw.solidSize; tw.plain && off+8 <= t.Basicsize; off += 8 {
		if off != t.Dictoffset && off != tw.weaklist && off >= 16 {
			tw.plain = false // a word walkInstance would follow or scan
		}
	}
	return tw
}

// derivesFrom reports whether t or one of its bases (tp_base, up to 64)
// is the static type named name.
func (r *Runtime) derivesFrom(t *Type, name string) bool {
	for i := 0; i < 64 && t != nil; i++ {
		if t.Name == name && !t.Heap(r) {
			return true
		}
		bp := r.ptrField(t.Addr, r.L.TypeBase)
		if bp == 0 {
			return false
		}
		b, err := r.typeAt(bp)
		if err != nil {
			return false
		}
		t = b
	}
	return false
}

// slotMembers collects T_OBJECT(_EX) member descriptors along the MRO.
func (r *Runtime) slotMembers(t *Type) []slotMember {
	L := r.L
	mro := r.ptrField(t.Addr, L.TypeMro)
	if mro == 0 {
		return nil
	}
	types, _, err := r.SeqItems(mro, KindTuple, 64)
	if err != nil {
		return nil
	}
	var out []slotMember
	for _, tp := range types {
		dict := r.ptrField(tp, L.TypeDict)
		if dict == 0 {
			continue
		}
		items, _, err := r.DictItems(dict, 4096)
		if err != nil {
			continue
		}
		for _, it := range items {
			vt, err := r.TypeOf(it.Value)
			if err != nil || vt.Name != "member_descriptor" {
				continue
			}
			def := r.ptrField(it.Value, L.MemberDescrMember)
			if def == 0 {
				continue
			}
			typ, err1 := r.m.i32(L.MemberDefType.Add(def))
			off, err2 := r.m.i64(L.MemberDefOffset.Add(def))
			if err1 != nil || err2 != nil || (int64(typ) != L.TObject && int64(typ) != L.TObjectEx) || off < 16 {
				continue
			}
			after := false
			if L.MemberAfterItems.Has() && L.MemberDefFlags.Has() {
				if flags, err := r.m.i32(L.MemberDefFlags.Add(def)); err == nil {
					after = L.MemberAfterItems.In(uint64(uint32(flags)))
				}
			}
			out = append(out, slotMember{offset: off, name: strings.TrimSpace(r.attrName(it.Key)), afterItems: after})
		}
	}
	return out
}
