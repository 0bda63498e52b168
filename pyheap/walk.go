package pyheap

import (
	"fmt"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// emitFunc receives one reference from an object. via says how the object
// refers to target ("item 3", "key 'payload'", "attribute payload") and is
// "" unless labels were asked for; conservative marks a word that merely
// looks like a pointer to an object (types pycoroner has no walker for).
type emitFunc func(target uint64, via string, conservative bool)

// slotMember is one __slots__ entry (or C member) holding an object.
type slotMember struct {
	offset int64
	name   string
}

// typeWalk is what the walkers cache per type.
type typeWalk struct {
	slots       []slotMember // member descriptors of T_OBJECT(_EX) fields, from the MRO
	slotNames   map[int64]string
	solidKind   Kind  // the kind of the nearest static base with a walker
	solidSize   int64 // bytes of the object that solidKind's walker covers
	weaklist    int64
	conservOK   bool // scan the remaining words conservatively
	isWeakref   bool
	isMethod    bool
	isCFunc     bool
	isGen       bool
	isTraceback bool
	isDescr     bool // method, classmethod, member, getset or wrapper descriptor
	// plain: an instance of a class without __slots__ or a builtin base
	// with references, whose only references are its attributes (see
	// census.walkPlain)
	plain bool
}

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

// walkRefs reports every reference obj holds, as its type's tp_traverse
// would visit them, plus obj's type.
func (r *Runtime) walkRefs(obj uint64, t *Type, labels bool, emit emitFunc) {
	L := r.L
	lbl := func(s string) string {
		if labels {
			return s
		}
		return ""
	}
	one := func(off layout.Offset, via string) {
		if p := r.ptrField(obj, off); p != 0 {
			emit(p, lbl(via), false)
		}
	}
	if labels {
		// The census keeps the type edge implicitly (Heap.TypeObject).
		emit(t.Addr, "__class__", false)
	}
	switch t.Kind {
	case KindNone, KindBool, KindInt, KindFloat, KindStr, KindBytes:
		return
	case KindTuple, KindList:
		r.walkSeq(obj, t.Kind, labels, emit)
		return
	case KindDict:
		r.walkDict(obj, labels, emit)
		return
	case KindSet, KindFrozenSet:
		r.walkSet(obj, labels, emit)
		return
	case KindModule:
		one(L.ModuleDict, "__dict__")
		return
	case KindFunction:
		one(L.FuncCode, "__code__")
		one(L.FuncGlobals, "__globals__")
		one(L.FuncDefaults, "__defaults__")
		one(L.FuncKwdefaults, "__kwdefaults__")
		one(L.FuncClosure, "__closure__")
		one(L.FuncDoc, "__doc__")
		one(L.FuncName, "__name__")
		one(L.FuncQualname, "__qualname__")
		one(L.FuncDict, "__dict__")
		one(L.FuncModule, "__module__")
		one(L.FuncAnnotations, "__annotations__")
		return
	case KindCode:
		for _, f := range []struct {
			off layout.Offset
			via string
		}{{L.CodeConsts, "co_consts"}, {L.CodeNames, "co_names"}, {L.CodeVarnames, "co_varnames"},
			{L.CodeCellvars, "co_cellvars"}, {L.CodeFreevars, "co_freevars"}, {L.CodeLocalsplusNames, "co_localsplusnames"},
			{L.CodeLocalsplusKinds, "co_localspluskinds"}, {L.CodeFilename, "co_filename"}, {L.CodeName, "co_name"},
			{L.CodeQualname, "co_qualname"}, {L.CodeLnotab, "co_lnotab"}, {L.CodeLinetable, "co_linetable"},
			{L.CodeCode, "co_code"}, {L.CodeExceptionTable, "co_exceptiontable"}} {
			one(f.off, f.via)
		}
		return
	case KindCell:
		one(L.CellRef, "cell contents")
		return
	case KindType:
		one(L.TypeDict, "__dict__")
		one(L.TypeBases, "__bases__")
		one(L.TypeMro, "__mro__")
		one(L.TypeBase, "__base__")
		if L.TPFlagsHeapType.In(t.Flags) {
			one(L.HeapTypeName, "__name__")
			one(L.HeapTypeQualname, "__qualname__")
			one(L.HeapTypeSlots, "__slots__")
			one(L.HeapTypeModule, "__module__ (ht_module)")
		}
		return
	case KindFrame:
		r.walkFrameObject(obj, labels, emit)
		return
	}
	r.walkInstance(obj, t, labels, emit)
}

func (r *Runtime) walkSeq(obj uint64, kind Kind, labels bool, emit emitFunc) {
	r.eachSeqItem(obj, kind, func(i int, it uint64) {
		via := ""
		if labels {
			via = fmt.Sprintf("item %d", i)
		}
		emit(it, via, false)
	})
}

func (r *Runtime) walkDict(obj uint64, labels bool, emit emitFunc) {
	r.eachDictItem(obj, func(k, v uint64) bool {
		kv, vv := "", ""
		if labels {
			kl := r.keyLabel(k)
			kv, vv = "key "+kl+" (the key itself)", "key "+kl
		}
		emit(k, kv, false)
		emit(v, vv, false)
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
	via := ""
	if labels {
		via = "element"
	}
	for _, it := range items {
		emit(it, via, false)
	}
}

// walkFrameObject follows a frame object: 3.8-3.10 frames hold everything;
// from 3.11 a frame object owns its interpreter frame only once the
// function has returned or the generator finished.
func (r *Runtime) walkFrameObject(f uint64, labels bool, emit emitFunc) {
	L := r.L
	lbl := func(s string) string {
		if labels {
			return s
		}
		return ""
	}
	if p := r.ptrField(f, L.FrameBack); p != 0 {
		emit(p, lbl("f_back"), false)
	}
	if p := r.ptrField(f, L.FrameTrace); p != 0 {
		emit(p, lbl("f_trace"), false)
	}
	if L.FrameCode.Has() { // 3.8-3.10
		for _, fl := range []struct {
			off layout.Offset
			via string
		}{{L.FrameCode, "f_code"}, {L.FrameBuiltins, "f_builtins"}, {L.FrameGlobals, "f_globals"}, {L.FrameLocalsDict, "f_locals"}} {
			if p := r.ptrField(f, fl.off); p != 0 {
				emit(p, lbl(fl.via), false)
			}
		}
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
		via := ""
		if labels {
			if i < len(ci.names) {
				via = "local " + ci.names[i]
			} else {
				via = fmt.Sprintf("value stack slot %d", i-len(ci.names))
			}
		}
		emit(v, via, false)
	}
}

// walkIFrame follows an interpreter frame (3.11+), as _PyFrame_Traverse.
func (r *Runtime) walkIFrame(fr uint64, labels bool, emit emitFunc) {
	L := r.L
	lbl := func(s string) string {
		if labels {
			return s
		}
		return ""
	}
	code := r.untag(r.ptrField(fr, L.IFrameCode))
	for _, fl := range []struct {
		off layout.Offset
		via string
	}{{L.IFrameCode, "f_code"}, {L.IFrameFunc, "f_func"}, {L.IFrameGlobals, "f_globals"}, {L.IFrameBuiltins, "f_builtins"}, {L.IFrameLocals, "f_locals"}, {L.IFrameFrameObj, "frame object"}} {
		if p := r.untag(r.ptrField(fr, fl.off)); p != 0 { // f_code and f_func are _PyStackRef in 3.14+
			emit(p, lbl(fl.via), false)
		}
	}
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
// subclass of list still holds items), the __dict__, __slots__ members,
// and a conservative scan of the words no walker accounts for.
func (r *Runtime) walkInstance(obj uint64, t *Type, labels bool, emit emitFunc) {
	L := r.L
	tw := r.typeWalkOf(t)
	lbl := func(s string) string {
		if labels {
			return s
		}
		return ""
	}
	switch tw.solidKind {
	case KindTuple, KindList:
		r.walkSeq(obj, tw.solidKind, labels, emit)
	case KindDict:
		r.walkDict(obj, labels, emit)
	case KindSet, KindFrozenSet:
		r.walkSet(obj, labels, emit)
	case KindException:
		for _, f := range []struct {
			off layout.Offset
			via string
		}{{L.ExcArgs, "args"}, {L.ExcTraceback, "__traceback__"}, {L.ExcContext, "__context__"}, {L.ExcCause, "__cause__"}, {L.ExcDict, "__dict__"}, {L.ExcNotes, "__notes__"}} {
			if p := r.ptrField(obj, f.off); p != 0 {
				emit(p, lbl(f.via), false)
			}
		}
	}
	switch {
	case tw.isWeakref:
		if p := r.ptrField(obj, L.WeakrefCallback); p != 0 {
			emit(p, lbl("weakref callback"), false)
		}
		return // the referent is not a strong reference
	case tw.isMethod:
		if p := r.ptrField(obj, L.MethodFunc); p != 0 {
			emit(p, lbl("__func__"), false)
		}
		if p := r.ptrField(obj, L.MethodSelf); p != 0 {
			emit(p, lbl("__self__"), false)
		}
		return
	case tw.isCFunc:
		if p := r.ptrField(obj, L.CFunctionSelf); p != 0 {
			emit(p, lbl("__self__"), false)
		}
		if p := r.ptrField(obj, L.CFunctionModule); p != 0 {
			emit(p, lbl("__module__"), false)
		}
		return
	case tw.isTraceback:
		if p := r.ptrField(obj, L.TracebackNext); p != 0 {
			emit(p, lbl("tb_next"), false)
		}
		if p := r.ptrField(obj, L.TracebackFrame); p != 0 {
			emit(p, lbl("tb_frame"), false)
		}
		return
	case tw.isGen:
		r.walkGenerator(obj, labels, emit)
		return
	case tw.isDescr:
		for _, f := range []struct {
			off layout.Offset
			via string
		}{{L.DescrType, "__objclass__"}, {L.DescrName, "__name__"}, {L.DescrQualname, "__qualname__"}} {
			if p := r.ptrField(obj, f.off); p != 0 {
				emit(p, lbl(f.via), false)
			}
		}
		return
	}
	// __dict__, wherever this version keeps it.
	dict, keys, values, _ := r.instanceDict(obj, t)
	dictSlot := int64(-1)
	if dict != 0 {
		emit(dict, lbl("__dict__"), false)
		if t.Dictoffset > 0 {
			dictSlot = t.Dictoffset
		}
	} else if keys != 0 { // values stored without a dict object (3.11+)
		r.eachKeysItem(keys, values, func(k, v uint64) bool {
			via := ""
			if labels {
				via = "attribute " + r.attrName(k)
			}
			emit(v, via, false)
			return true
		})
	}
	// Words past the builtin base: named slots, else conservative.
	end := t.Basicsize
	if end > 1<<16 {
		return
	}
	slotName := tw.slotNames
	for off := tw.solidSize; off+8 <= end; off += 8 {
		if off == dictSlot || off == tw.weaklist || off < 16 {
			continue
		}
		p := r.ptrField(obj, layout.Offset(off))
		if p == 0 {
			continue
		}
		if name, ok := slotName[off]; ok {
			emit(p, lbl("attribute "+name+" (slot)"), false)
		} else if tw.conservOK && p%8 == 0 {
			via := ""
			if labels {
				via = fmt.Sprintf("word at +0x%x", off)
			}
			emit(p, via, true)
		}
	}
}

// walkGenerator follows a generator, coroutine or async generator.
func (r *Runtime) walkGenerator(g uint64, labels bool, emit emitFunc) {
	L := r.L
	lbl := func(s string) string {
		if labels {
			return s
		}
		return ""
	}
	for _, f := range []struct {
		off layout.Offset
		via string
	}{{L.GenName, "__name__"}, {L.GenQualname, "__qualname__"}, {L.GenCode, "gi_code"}, {L.GenFrame, "gi_frame"}} {
		if p := r.ptrField(g, f.off); p != 0 {
			emit(p, lbl(f.via), false)
		}
	}
	if !L.GenIFrame.Has() {
		return
	}
	state, err := r.m.u8(L.GenFrameState.Add(g))
	if err != nil || int64(int8(state)) >= L.FrameStateCleared {
		return
	}
	r.walkIFrame(L.GenIFrame.Add(g), labels, emit)
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
	if wl, err := r.m.i64(L.TypeWeaklistoffset.Add(t.Addr)); err == nil && wl > 0 {
		tw.weaklist = wl
	}
	switch t.Name {
	case "weakref", "weakref.ReferenceType", "weakproxy", "weakcallableproxy", "weakref.ProxyType", "weakref.CallableProxyType":
		tw.isWeakref = true
	case "method":
		tw.isMethod = true
	case "builtin_function_or_method", "builtin_method":
		tw.isCFunc = true
	case "traceback":
		tw.isTraceback = true
	case "generator", "coroutine", "async_generator":
		tw.isGen = true
	case "method_descriptor", "classmethod_descriptor", "member_descriptor", "getset_descriptor", "wrapper_descriptor":
		// Their other fields point to C structures (PyMethodDef, ...).
		tw.isDescr = !t.Heap(r) && L.DescrType.Has()
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
	if t.Heap(r) {
		tw.slots = r.slotMembers(t)
	}
	tw.slotNames = map[int64]string{}
	for _, s := range tw.slots {
		tw.slotNames[s.offset] = s.name
	}
	tw.plain = t.Kind == KindOther && tw.solidKind == KindOther && !tw.isWeakref && !tw.isMethod && !tw.isCFunc && !tw.isGen && !tw.isTraceback && !tw.isDescr
	for off := tw.solidSize; tw.plain && off+8 <= t.Basicsize; off += 8 {
		if off != t.Dictoffset && off != tw.weaklist && off >= 16 {
			tw.plain = false // a word walkInstance would follow or scan
		}
	}
	return tw
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
			out = append(out, slotMember{offset: off, name: strings.TrimSpace(r.attrName(it.Key))})
		}
	}
	return out
}
