// Package layout owns the memory layout of CPython's internal structures,
// one table per minor version. Every number in a Layout comes from a
// machine source: the DWARF of a CPython build (struct member offsets, sizes,
// bit-fields and enum values) or a tiny C program compiled against that
// version's installed headers (macros and inline pointer arithmetic). The
// committed tables in tables_gen.go are written by ./gen; at run time a
// binary that carries DWARF can be resolved directly with FromDWARF.
//
// A field that does not exist in a version holds -1 (see Missing). Struct
// member offsets have their own type, Offset, which knows whether the
// member exists: Offset.Add of a missing member gives NoField, an address
// no read succeeds at, instead of a wild read one byte before the object.
// Type flags have the type Flag, whose In is false when the version lacks
// the flag. Questions that depend on the version are named methods of
// Layout (HasInterpreterFrames, HasLongTag, ...), and Minor is the minor
// version as an integer, so no caller compares version strings.
package layout

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Missing marks a field or constant that a CPython version does not have.
const Missing = -1

// Offset is the byte offset of a struct member, or Missing.
type Offset int64

// NoField is what Offset.Add gives for a member the version does not have:
// a non-canonical x86-64 address (bits 48-63 are not copies of bit 47), so
// no mapping holds it, and small sums onto it stay recognisable. Readers
// test IsNoField to say "not in this version" rather than "unreadable".
const NoField uint64 = 0xdead << 48

// IsNoField reports whether addr was computed from a missing member.
func IsNoField(addr uint64) bool { return addr>>48 == 0xdead }

// Has reports whether the member exists in this version.
func (o Offset) Has() bool { return o >= 0 }

// Add is the address of the member in the struct at base, or NoField when
// the version has no such member.
func (o Offset) Add(base uint64) uint64 {
	if o < 0 {
		return NoField
	}
	return base + uint64(o)
}

// Flag is a Py_TPFLAGS_* bit, or Missing.
type Flag int64

// In reports whether flags has the bit; always false for a flag the
// version does not have.
func (f Flag) In(flags uint64) bool { return f > 0 && flags&uint64(f) != 0 }

// Has reports whether the version defines the flag.
func (f Flag) Has() bool { return f > 0 }

// Layout is the set of offsets, sizes and constants pycoroner needs for one
// CPython build. The `py` tag names where each value comes from:
//
//	off:STRUCT:PATH      byte offset of PATH (dot-separated, through nested structs) in STRUCT
//	size:TYPE            size of a struct or typedef
//	bitoff:STRUCT:PATH   bit offset of a bit-field, counted from the start of its storage unit
//	bitsize:STRUCT:PATH  width of a bit-field
//	enum:NAME            value of an enumerator
//	c:EXPR               printed by the C probe compiled against the version's headers
//
// Alternatives are separated by '|' and tried in order, so one field can
// name the member it had in each version.
type Layout struct {
	Version string // minor version, "3.11"
	Minor   int    // the same as a number, 11 (so no caller parses Version)
	Source  string // where the numbers came from, for `info` and docs

	// Debug maps a `dbg` tag (a member of _Py_DebugOffsets, 3.13+) to that
	// member's offset within _Py_DebugOffsets. At run time the process's
	// own copy of _Py_DebugOffsets then supplies the field's value.
	Debug map[string]int64

	// Runtime and interpreter.
	RuntimeInterpretersHead Offset `py:"off:pyruntimestate:interpreters.head" dbg:"runtime_state.interpreters_head"`
	RuntimeInterpretersMain Offset `py:"off:pyruntimestate:interpreters.main"`
	RuntimeMainThread       Offset `py:"off:pyruntimestate:main_thread"`
	RuntimeGILLastHolder    Offset `py:"off:pyruntimestate:ceval.gil.last_holder"`
	RuntimeGILLocked        Offset `py:"off:pyruntimestate:ceval.gil.locked"`
	RuntimeTstateCurrent    Offset `py:"off:pyruntimestate:gilstate.tstate_current"`
	RuntimeGC               Offset `py:"off:pyruntimestate:gc"`
	// The dict of interned strings (sys.intern): the runtime's in 3.12,
	// each interpreter's from 3.13; before 3.12 a static variable of
	// unicodeobject.c, found by its symbol.
	RuntimeInternedStrings Offset `py:"off:pyruntimestate:cached_objects.interned_strings"`

	InterpNext            Offset `py:"off:_is:next" dbg:"interpreter_state.next"`
	InterpTstateHead      Offset `py:"off:_is:tstate_head|off:_is:threads.head" dbg:"interpreter_state.threads_head"`
	InterpID              Offset `py:"off:_is:id" dbg:"interpreter_state.id"`
	InterpModules         Offset `py:"off:_is:modules|off:_is:imports.modules" dbg:"interpreter_state.imports_modules"`
	InterpSysdict         Offset `py:"off:_is:sysdict" dbg:"interpreter_state.sysdict"`
	InterpBuiltins        Offset `py:"off:_is:builtins" dbg:"interpreter_state.builtins"`
	InterpInternedStrings Offset `py:"off:_is:cached_objects.interned_strings"`
	InterpGIL             Offset `py:"off:_is:ceval.gil"` // pointer, 3.12+
	InterpGC              Offset `py:"off:_is:gc" dbg:"interpreter_state.gc"`
	GILLastHolder         Offset `py:"off:_gil_runtime_state:last_holder"`
	GILLocked             Offset `py:"off:_gil_runtime_state:locked"`

	// Garbage collector (the census in later work).
	GCGenerations    Offset `py:"off:_gc_runtime_state:generations"`
	GCPermanent      Offset `py:"off:_gc_runtime_state:permanent_generation"`
	GCCollecting     Offset `py:"off:_gc_runtime_state:collecting" dbg:"gc.collecting"`
	GCGenerationSize int64  `py:"size:gc_generation"`
	GCGenerationHead Offset `py:"off:gc_generation:head"`
	GCHeadSize       int64  `py:"size:PyGC_Head"`

	// Thread state.
	TstateNext           Offset `py:"off:_ts:next" dbg:"thread_state.next"`
	TstatePrev           Offset `py:"off:_ts:prev" dbg:"thread_state.prev"`
	TstateInterp         Offset `py:"off:_ts:interp" dbg:"thread_state.interp"`
	TstateFrame          Offset `py:"off:_ts:frame"`  // PyFrameObject*, 3.8-3.10
	TstateCframe         Offset `py:"off:_ts:cframe"` // _PyCFrame*, 3.11-3.12
	CframeCurrentFrame   Offset `py:"off:_PyCFrame:current_frame"`
	TstateCurrentFrame   Offset `py:"off:_ts:current_frame" dbg:"thread_state.current_frame"` // 3.13
	TstateThreadID       Offset `py:"off:_ts:thread_id" dbg:"thread_state.thread_id"`
	TstateNativeThreadID Offset `py:"off:_ts:native_thread_id" dbg:"thread_state.native_thread_id"`
	TstateExcInfo        Offset `py:"off:_ts:exc_info"`
	TstateDict           Offset `py:"off:_ts:dict"`
	ErrStackExcType      Offset `py:"off:_err_stackitem:exc_type"`
	ErrStackExcValue     Offset `py:"off:_err_stackitem:exc_value"`
	ErrStackPrevious     Offset `py:"off:_err_stackitem:previous_item"`

	// Frame objects (the whole frame in 3.8-3.10; a wrapper from 3.11).
	FrameBack       Offset `py:"off:_frame:f_back"`
	FrameCode       Offset `py:"off:_frame:f_code"`
	FrameLasti      Offset `py:"off:_frame:f_lasti"`
	FrameLineno     Offset `py:"off:_frame:f_lineno"`
	FrameLocalsDict Offset `py:"off:_frame:f_locals"` // 3.8-3.10
	FrameLocalsplus Offset `py:"off:_frame:f_localsplus"`
	FrameFrame      Offset `py:"off:_frame:f_frame"` // _PyInterpreterFrame*, 3.11+

	// Interpreter frames, 3.11+.
	IFrameCode            Offset `py:"off:_PyInterpreterFrame:f_code|off:_PyInterpreterFrame:f_executable" dbg:"interpreter_frame.executable"`
	IFramePrevious        Offset `py:"off:_PyInterpreterFrame:previous" dbg:"interpreter_frame.previous"`
	IFrameFunc            Offset `py:"off:_PyInterpreterFrame:f_func|off:_PyInterpreterFrame:f_funcobj"`
	IFrameGlobals         Offset `py:"off:_PyInterpreterFrame:f_globals"`
	IFrameLocals          Offset `py:"off:_PyInterpreterFrame:f_locals"`
	IFrameFrameObj        Offset `py:"off:_PyInterpreterFrame:frame_obj"`
	IFrameInstr           Offset `py:"off:_PyInterpreterFrame:prev_instr|off:_PyInterpreterFrame:instr_ptr" dbg:"interpreter_frame.instr_ptr"`
	IFrameStacktop        Offset `py:"off:_PyInterpreterFrame:stacktop"`
	IFrameOwner           Offset `py:"off:_PyInterpreterFrame:owner" dbg:"interpreter_frame.owner"`
	IFrameIsEntry         Offset `py:"off:_PyInterpreterFrame:is_entry"`
	IFrameLocalsplus      Offset `py:"off:_PyInterpreterFrame:localsplus" dbg:"interpreter_frame.localsplus"`
	FrameOwnedByThread    int64  `py:"enum:FRAME_OWNED_BY_THREAD"`
	FrameOwnedByGenerator int64  `py:"enum:FRAME_OWNED_BY_GENERATOR"`
	FrameOwnedByCStack    int64  `py:"enum:FRAME_OWNED_BY_CSTACK"`

	// Code objects.
	CodeArgcount        Offset `py:"off:PyCodeObject:co_argcount" dbg:"code_object.argcount"`
	CodeNlocals         Offset `py:"off:PyCodeObject:co_nlocals"`
	CodeFlags           Offset `py:"off:PyCodeObject:co_flags"`
	CodeFirstlineno     Offset `py:"off:PyCodeObject:co_firstlineno" dbg:"code_object.firstlineno"`
	CodeCode            Offset `py:"off:PyCodeObject:co_code"` // bytes, 3.8-3.10
	CodeVarnames        Offset `py:"off:PyCodeObject:co_varnames"`
	CodeCellvars        Offset `py:"off:PyCodeObject:co_cellvars"`
	CodeFreevars        Offset `py:"off:PyCodeObject:co_freevars"`
	CodeFilename        Offset `py:"off:PyCodeObject:co_filename" dbg:"code_object.filename"`
	CodeName            Offset `py:"off:PyCodeObject:co_name" dbg:"code_object.name"`
	CodeQualname        Offset `py:"off:PyCodeObject:co_qualname" dbg:"code_object.qualname"`
	CodeLnotab          Offset `py:"off:PyCodeObject:co_lnotab"`                                // 3.8-3.9
	CodeLinetable       Offset `py:"off:PyCodeObject:co_linetable" dbg:"code_object.linetable"` // 3.10+
	CodeLocalsplusNames Offset `py:"off:PyCodeObject:co_localsplusnames" dbg:"code_object.localsplusnames"`
	CodeLocalsplusKinds Offset `py:"off:PyCodeObject:co_localspluskinds" dbg:"code_object.localspluskinds"`
	CodeNlocalsplus     Offset `py:"off:PyCodeObject:co_nlocalsplus"`
	CodeAdaptive        Offset `py:"off:PyCodeObject:co_code_adaptive" dbg:"code_object.co_code_adaptive"` // 3.11+
	CodeFirstTraceable  Offset `py:"off:PyCodeObject:_co_firsttraceable"`                                  // 3.11-3.12
	CoOptimized         int64  `py:"c:CO_OPTIMIZED"`
	CoFastLocal         int64  `py:"c:CO_FAST_LOCAL"`
	CoFastCell          int64  `py:"c:CO_FAST_CELL"`
	CoFastFree          int64  `py:"c:CO_FAST_FREE"`

	// Generators and coroutines.
	GenFrame  Offset `py:"off:PyGenObject:gi_frame"`  // 3.8-3.10
	GenIFrame Offset `py:"off:PyGenObject:gi_iframe"` // 3.11+
	GenCode   Offset `py:"off:PyGenObject:gi_code"`

	// Objects and types.
	ObRefcnt           Offset `py:"off:_object:ob_refcnt"`
	ObType             Offset `py:"off:_object:ob_type" dbg:"pyobject.ob_type"`
	ObSize             Offset `py:"off:PyVarObject:ob_size"`
	TypeName           Offset `py:"off:_typeobject:tp_name" dbg:"type_object.tp_name"`
	TypeBasicsize      Offset `py:"off:_typeobject:tp_basicsize"`
	TypeItemsize       Offset `py:"off:_typeobject:tp_itemsize"`
	TypeFlags          Offset `py:"off:_typeobject:tp_flags" dbg:"type_object.tp_flags"`
	TypeWeaklistoffset Offset `py:"off:_typeobject:tp_weaklistoffset"`
	TypeDictoffset     Offset `py:"off:_typeobject:tp_dictoffset"`
	TypeBase           Offset `py:"off:_typeobject:tp_base"`
	TypeDict           Offset `py:"off:_typeobject:tp_dict"`
	TypeMro            Offset `py:"off:_typeobject:tp_mro"`
	TypeBases          Offset `py:"off:_typeobject:tp_bases"`
	HeapTypeName       Offset `py:"off:_heaptypeobject:ht_name"`
	HeapTypeQualname   Offset `py:"off:_heaptypeobject:ht_qualname"`
	HeapTypeCachedKeys Offset `py:"off:_heaptypeobject:ht_cached_keys"`
	HeapTypeModule     Offset `py:"off:_heaptypeobject:ht_module"`

	TPFlagsHeapType    Flag `py:"c:Py_TPFLAGS_HEAPTYPE"`
	TPFlagsReady       Flag `py:"c:Py_TPFLAGS_READY"`
	TPFlagsHaveGC      Flag `py:"c:Py_TPFLAGS_HAVE_GC"`
	TPFlagsManagedDict Flag `py:"c:Py_TPFLAGS_MANAGED_DICT"`
	// 3.12+: either managed flag gives an instance two words before its
	// header (Py_TPFLAGS_PREHEADER), which sys.getsizeof counts.
	TPFlagsManagedWeakref  Flag `py:"c:Py_TPFLAGS_MANAGED_WEAKREF"`
	TPFlagsInlineValues    Flag `py:"c:Py_TPFLAGS_INLINE_VALUES"`
	TPFlagsLongSubclass    Flag `py:"c:Py_TPFLAGS_LONG_SUBCLASS"`
	TPFlagsListSubclass    Flag `py:"c:Py_TPFLAGS_LIST_SUBCLASS"`
	TPFlagsTupleSubclass   Flag `py:"c:Py_TPFLAGS_TUPLE_SUBCLASS"`
	TPFlagsBytesSubclass   Flag `py:"c:Py_TPFLAGS_BYTES_SUBCLASS"`
	TPFlagsUnicodeSubclass Flag `py:"c:Py_TPFLAGS_UNICODE_SUBCLASS"`
	TPFlagsDictSubclass    Flag `py:"c:Py_TPFLAGS_DICT_SUBCLASS"`
	TPFlagsBaseExcSubclass Flag `py:"c:Py_TPFLAGS_BASE_EXC_SUBCLASS"`
	TPFlagsTypeSubclass    Flag `py:"c:Py_TPFLAGS_TYPE_SUBCLASS"`

	// Where a managed __dict__ (3.11+) and its values live, relative to the object.
	ManagedDictOffset   int64 `py:"c:MANAGED_DICT_OFFSET"`
	ManagedValuesOffset int64 `py:"c:MANAGED_VALUES_OFFSET"`

	// str.
	ASCIISize           int64  `py:"size:PyASCIIObject" dbg:"unicode_object.asciiobject_size"`
	CompactUnicodeSize  int64  `py:"size:PyCompactUnicodeObject"`
	UnicodeLength       Offset `py:"off:PyASCIIObject:length" dbg:"unicode_object.length"`
	UnicodeState        Offset `py:"off:PyASCIIObject:state" dbg:"unicode_object.state"`
	UnicodeKindShift    int64  `py:"bitoff:PyASCIIObject:state.kind"`
	UnicodeKindBits     int64  `py:"bitsize:PyASCIIObject:state.kind"`
	UnicodeCompactShift int64  `py:"bitoff:PyASCIIObject:state.compact"`
	UnicodeASCIIShift   int64  `py:"bitoff:PyASCIIObject:state.ascii"`
	UnicodeReadyShift   int64  `py:"bitoff:PyASCIIObject:state.ready"`
	// An interned str's state: its dict of interned strings holds a
	// mortal one without owning it (the dict's references are not
	// counted), an immortal one for good.
	UnicodeInternedShift int64  `py:"bitoff:PyASCIIObject:state.interned"`
	UnicodeInternedBits  int64  `py:"bitsize:PyASCIIObject:state.interned"`
	InternedMortal       int64  `py:"c:SSTATE_INTERNED_MORTAL"`
	UnicodeDataAny       Offset `py:"off:PyUnicodeObject:data"`

	// int, float, bytes.
	LongDigits      Offset `py:"off:_longobject:ob_digit|off:_longobject:long_value.ob_digit" dbg:"long_object.ob_digit"`
	LongTag         Offset `py:"off:_longobject:long_value.lv_tag" dbg:"long_object.lv_tag"` // 3.12+
	LongShift       int64  `py:"c:PyLong_SHIFT"`
	LongDigitSize   int64  `py:"size:digit"`
	LongNonSizeBits int64  `py:"c:_PyLong_NON_SIZE_BITS"`
	FloatValue      Offset `py:"off:PyFloatObject:ob_fval" dbg:"float_object.ob_fval"`
	BytesData       Offset `py:"off:PyBytesObject:ob_sval" dbg:"bytes_object.ob_sval"`

	// list, tuple, dict, set.
	ListItems              Offset `py:"off:PyListObject:ob_item" dbg:"list_object.ob_item"`
	ListAllocated          Offset `py:"off:PyListObject:allocated"`
	TupleItems             Offset `py:"off:PyTupleObject:ob_item" dbg:"tuple_object.ob_item"`
	DictUsed               Offset `py:"off:PyDictObject:ma_used"`
	DictKeys               Offset `py:"off:PyDictObject:ma_keys" dbg:"dict_object.ma_keys"`
	DictVersionTag         Offset `py:"off:PyDictObject:ma_version_tag"`
	DictValues             Offset `py:"off:PyDictObject:ma_values" dbg:"dict_object.ma_values"`
	DictKeysSize           Offset `py:"off:_dictkeysobject:dk_size"` // 3.8-3.10
	DictKeysStructSize     int64  `py:"size:_dictkeysobject"`
	DictKeysRefcnt         Offset `py:"off:_dictkeysobject:dk_refcnt"`
	DictKeysUsable         Offset `py:"off:_dictkeysobject:dk_usable"`
	DictKeysLog2Size       Offset `py:"off:_dictkeysobject:dk_log2_size"` // 3.11+
	DictKeysLog2IndexBytes Offset `py:"off:_dictkeysobject:dk_log2_index_bytes"`
	DictKeysKind           Offset `py:"off:_dictkeysobject:dk_kind"`
	DictKeysNentries       Offset `py:"off:_dictkeysobject:dk_nentries"`
	DictKeysIndices        Offset `py:"off:_dictkeysobject:dk_indices"`
	DictKeysKindGeneral    int64  `py:"enum:DICT_KEYS_GENERAL"`
	DictKeyEntrySize       int64  `py:"size:PyDictKeyEntry"`
	DictKeyEntryKey        Offset `py:"off:PyDictKeyEntry:me_key"`
	DictKeyEntryValue      Offset `py:"off:PyDictKeyEntry:me_value"`
	DictUnicodeEntrySize   int64  `py:"size:PyDictUnicodeEntry"`
	DictUnicodeEntryKey    Offset `py:"off:PyDictUnicodeEntry:me_key"`
	DictUnicodeEntryValue  Offset `py:"off:PyDictUnicodeEntry:me_value"`
	DictValuesValues       Offset `py:"off:_dictvalues:values"`
	DictValuesValid        Offset `py:"off:_dictvalues:valid"` // 3.13
	SetUsed                Offset `py:"off:PySetObject:used"`
	SetMask                Offset `py:"off:PySetObject:mask"`
	SetTable               Offset `py:"off:PySetObject:table"`
	SetEntrySize           int64  `py:"size:setentry"`
	SetEntryKey            Offset `py:"off:setentry:key"`

	// Other object kinds that the stack view decodes.
	ModuleDict         Offset `py:"off:PyModuleObject:md_dict"`
	ModuleName         Offset `py:"off:PyModuleObject:md_name"`
	FuncCode           Offset `py:"off:PyFunctionObject:func_code"`
	FuncGlobals        Offset `py:"off:PyFunctionObject:func_globals"`
	FuncName           Offset `py:"off:PyFunctionObject:func_name"`
	FuncQualname       Offset `py:"off:PyFunctionObject:func_qualname"`
	FuncClosure        Offset `py:"off:PyFunctionObject:func_closure"`
	CellRef            Offset `py:"off:PyCellObject:ob_ref"`
	ExcArgs            Offset `py:"off:PyBaseExceptionObject:args"`
	ExcTraceback       Offset `py:"off:PyBaseExceptionObject:traceback"`
	ExcContext         Offset `py:"off:PyBaseExceptionObject:context"`
	ExcCause           Offset `py:"off:PyBaseExceptionObject:cause"`
	ExcSuppressContext Offset `py:"off:PyBaseExceptionObject:suppress_context"` // a char: raise ... from ... sets it
	ExcBaseSize        int64  `py:"size:PyBaseExceptionObject"`
	ExcDict            Offset `py:"off:PyBaseExceptionObject:dict"`
	ExcNotes           Offset `py:"off:PyBaseExceptionObject:notes"` // 3.11+
	// An exception group's message and its tuple of sub-exceptions
	// (3.11+): beyond BaseException's fields, so walked only for the
	// types that derive from BaseExceptionGroup.
	ExcGroupMsg  Offset `py:"off:PyBaseExceptionGroupObject:msg"`
	ExcGroupExcs Offset `py:"off:PyBaseExceptionGroupObject:excs"`

	// 3.15's lazy-import placeholders. The struct is private to
	// Objects/lazyimportobject.c: the generator declares it for the probe
	// (gen/private.go), and pycoroner walks it only when the type's
	// tp_basicsize is LazyImportSize.
	LazyImportBuiltins Offset `py:"off:PyLazyImportObject:lz_builtins"`
	LazyImportFrom     Offset `py:"off:PyLazyImportObject:lz_from"`
	LazyImportAttr     Offset `py:"off:PyLazyImportObject:lz_attr"`
	LazyImportCode     Offset `py:"off:PyLazyImportObject:lz_code"`
	LazyImportSize     int64  `py:"size:PyLazyImportObject"`

	// More members that the heap walkers follow, as tp_traverse does.
	FuncDefaults    Offset `py:"off:PyFunctionObject:func_defaults"`
	FuncKwdefaults  Offset `py:"off:PyFunctionObject:func_kwdefaults"`
	FuncDoc         Offset `py:"off:PyFunctionObject:func_doc"`
	FuncDict        Offset `py:"off:PyFunctionObject:func_dict"`
	FuncModule      Offset `py:"off:PyFunctionObject:func_module"`
	FuncAnnotations Offset `py:"off:PyFunctionObject:func_annotations"`
	FuncBuiltins    Offset `py:"off:PyFunctionObject:func_builtins"`   // 3.10+
	FuncTypeparams  Offset `py:"off:PyFunctionObject:func_typeparams"` // 3.12+
	FuncAnnotate    Offset `py:"off:PyFunctionObject:func_annotate"`   // 3.14+
	CMethodClass    Offset `py:"off:PyCMethodObject:mm_class"`         // 3.9+, builtin_method (METH_METHOD)
	// A module's C state, which its m_traverse visits: its size is the
	// definition's m_size, or (3.15+, modules made without a definition
	// possible) the module's own md_state_size.
	ModuleDef          Offset `py:"off:PyModuleObject:md_def"`
	ModuleState        Offset `py:"off:PyModuleObject:md_state"`
	ModuleStateSize    Offset `py:"off:PyModuleObject:md_state_size"`
	ModuleDefMSize     Offset `py:"off:PyModuleDef:m_size"`
	CodeConsts         Offset `py:"off:PyCodeObject:co_consts"`
	CodeNames          Offset `py:"off:PyCodeObject:co_names"`
	CodeExceptionTable Offset `py:"off:PyCodeObject:co_exceptiontable"`
	MethodFunc         Offset `py:"off:PyMethodObject:im_func"`
	MethodSelf         Offset `py:"off:PyMethodObject:im_self"`
	CFunctionSelf      Offset `py:"off:PyCFunctionObject:m_self"`
	CFunctionModule    Offset `py:"off:PyCFunctionObject:m_module"`
	CFunctionML        Offset `py:"off:PyCFunctionObject:m_ml"` // the PyMethodDef: a builtin's name (reprs)
	MethodDefName      Offset `py:"off:PyMethodDef:ml_name"`
	TracebackNext      Offset `py:"off:_traceback:tb_next"`
	TracebackFrame     Offset `py:"off:_traceback:tb_frame"`
	TracebackLasti     Offset `py:"off:_traceback:tb_lasti"`  // bytes into the code, every version
	TracebackLineno    Offset `py:"off:_traceback:tb_lineno"` // -1 until asked for, from 3.11
	WeakrefObject      Offset `py:"off:_PyWeakReference:wr_object"`
	WeakrefCallback    Offset `py:"off:_PyWeakReference:wr_callback"`
	MemberDescrMember  Offset `py:"off:PyMemberDescrObject:d_member"`
	DescrType          Offset `py:"off:PyDescrObject:d_type"`
	DescrName          Offset `py:"off:PyDescrObject:d_name"`
	DescrQualname      Offset `py:"off:PyDescrObject:d_qualname"`
	MemberDefName      Offset `py:"off:PyMemberDef:name"`
	MemberDefType      Offset `py:"off:PyMemberDef:type"`
	MemberDefOffset    Offset `py:"off:PyMemberDef:offset"`
	MemberDefFlags     Offset `py:"off:PyMemberDef:flags"`
	// 3.15: a __slots__ member of a subclass of a variable-size type
	// (tuple) lies after the items: its offset counts from their end.
	MemberAfterItems Flag   `py:"c:_Py_AFTER_ITEMS"`
	TObject          int64  `py:"c:T_OBJECT"`
	TObjectEx        int64  `py:"c:T_OBJECT_EX"`
	FrameBuiltins    Offset `py:"off:_frame:f_builtins"`
	FrameGlobals     Offset `py:"off:_frame:f_globals"`
	FrameTrace       Offset `py:"off:_frame:f_trace"`
	FrameValuestack  Offset `py:"off:_frame:f_valuestack"`
	FrameStacktop    Offset `py:"off:_frame:f_stacktop"`    // 3.8-3.9
	FrameStackdepth  Offset `py:"off:_frame:f_stackdepth"`  // 3.10
	FrameData        Offset `py:"off:_frame:_f_frame_data"` // 3.11+: the frame lives here once its owner returned
	IFrameBuiltins   Offset `py:"off:_PyInterpreterFrame:f_builtins"`
	GenFrameState    Offset `py:"off:PyGenObject:gi_frame_state"` // 3.11+
	GenName          Offset `py:"off:PyGenObject:gi_name"`
	// The exception state a suspended generator saved, which gen_traverse
	// visits (exc_type and exc_traceback before 3.11).
	GenExcType        Offset `py:"off:PyGenObject:gi_exc_state.exc_type"`
	GenExcValue       Offset `py:"off:PyGenObject:gi_exc_state.exc_value"`
	GenExcTraceback   Offset `py:"off:PyGenObject:gi_exc_state.exc_traceback"`
	GenQualname       Offset `py:"off:PyGenObject:gi_qualname"`
	FrameStateCleared int64  `py:"enum:FRAME_CLEARED"`
	FrameStateCreated int64  `py:"enum:FRAME_CREATED"`
	// gi_frame is None from here on (FRAME_STATE_FINISHED), 3.11+: reprs
	FrameStateCompleted int64  `py:"enum:FRAME_COMPLETED"`
	HeapTypeSlots       Offset `py:"off:_heaptypeobject:ht_slots"`
	TypeSubclasses      Offset `py:"off:_typeobject:tp_subclasses"`

	// 3.14+: frames hold _PyStackRef values, whose low Py_TAG_BITS are
	// tags (deferred or immortal references; Py_INT_TAG marks a tagged
	// int, no object). Missing before 3.14: frames hold plain pointers.
	StackRefTagBits         int64  `py:"c:Py_TAG_BITS"`
	StackRefIntTag          int64  `py:"c:Py_INT_TAG"`
	IFrameStackpointer      Offset `py:"off:_PyInterpreterFrame:stackpointer"` // 3.14+, replaces stacktop
	FrameOwnedByInterpreter int64  `py:"enum:FRAME_OWNED_BY_INTERPRETER"`      // 3.14+: the interpreter's entry frames
}

// Feature checks: what a version has, named, so that callers do not test
// the presence of an unrelated-looking field or compare version strings.

// HasInterpreterFrames: frames live in _PyInterpreterFrame (3.11+), and
// frame objects only wrap them.
func (l *Layout) HasInterpreterFrames() bool { return l.IFrameCode.Has() }

// HasLongTag: int objects keep sign and size in lv_tag (3.12+), not ob_size.
func (l *Layout) HasLongTag() bool { return l.LongTag.Has() }

// HasManagedDict: instances may keep __dict__ before the object header
// (Py_TPFLAGS_MANAGED_DICT, 3.11+).
func (l *Layout) HasManagedDict() bool { return l.TPFlagsManagedDict.Has() }

// HasInlineValues: instance attribute values live inside the object
// (Py_TPFLAGS_INLINE_VALUES, 3.13+).
func (l *Layout) HasInlineValues() bool { return l.TPFlagsInlineValues.Has() }

// HasManagedValuesPointer: a managed instance points to its values array
// from a slot of its own before its header (3.11: MANAGED_VALUES_OFFSET
// differs from MANAGED_DICT_OFFSET).
func (l *Layout) HasManagedValuesPointer() bool {
	return l.ManagedValuesOffset != Missing && l.ManagedValuesOffset != l.ManagedDictOffset
}

// TaggedManagedDictSlot: one slot before the header holds either the
// dict or, tagged with its low bit, the values array (3.12: the two
// offsets are the same).
func (l *Layout) TaggedManagedDictSlot() bool {
	return l.ManagedValuesOffset != Missing && l.ManagedValuesOffset == l.ManagedDictOffset
}

// HasLog2DictKeys: dict keys record their size as log2 (3.11+), rather
// than as dk_size (3.8-3.10).
func (l *Layout) HasLog2DictKeys() bool { return l.DictKeysLog2Size.Has() }

// HasUnicodeReady: str has the "ready" bit of legacy strings (before 3.12).
func (l *Layout) HasUnicodeReady() bool { return l.UnicodeReadyShift >= 0 }

// ForVersion returns the committed table for a minor version such as "3.11".
func ForVersion(minor string) (*Layout, error) {
	l, ok := tables()[minor]
	if !ok {
		return nil, fmt.Errorf("no layout table for CPython %s (tables exist for %s); a build with DWARF debug info can still be read", minor, Versions())
	}
	c := *l
	return &c, nil
}

// Versions lists the minor versions that have a committed table.
func Versions() []string {
	out := make([]string, 0, len(tables()))
	for v := range tables() {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return minorNumber(out[i]) < minorNumber(out[j]) })
	return out
}

func minorNumber(v string) int {
	_, m, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(m)
	return n
}
