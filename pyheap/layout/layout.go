// Package layout owns the memory layout of CPython's internal structures,
// one table per minor version. Every number in a Layout comes from a
// machine source: the DWARF of a CPython build (struct member offsets, sizes,
// bit-fields and enum values) or a tiny C program compiled against that
// version's installed headers (macros and inline pointer arithmetic). The
// committed tables in tables_gen.go are written by ./gen; at run time a
// binary that carries DWARF can be resolved directly with FromDWARF.
//
// A field that does not exist in a version holds -1 (see Missing).
package layout

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Missing marks a field or constant that a CPython version does not have.
const Missing = -1

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
	Source  string // where the numbers came from, for `info` and docs

	// Debug maps a `dbg` tag (a member of _Py_DebugOffsets, 3.13+) to that
	// member's offset within _Py_DebugOffsets. At run time the process's
	// own copy of _Py_DebugOffsets then supplies the field's value.
	Debug map[string]int64

	// Runtime and interpreter.
	RuntimeInterpretersHead int64 `py:"off:pyruntimestate:interpreters.head" dbg:"runtime_state.interpreters_head"`
	RuntimeInterpretersMain int64 `py:"off:pyruntimestate:interpreters.main"`
	RuntimeMainThread       int64 `py:"off:pyruntimestate:main_thread"`
	RuntimeGILLastHolder    int64 `py:"off:pyruntimestate:ceval.gil.last_holder"`
	RuntimeGILLocked        int64 `py:"off:pyruntimestate:ceval.gil.locked"`
	RuntimeTstateCurrent    int64 `py:"off:pyruntimestate:gilstate.tstate_current"`
	RuntimeGC               int64 `py:"off:pyruntimestate:gc"`

	InterpNext       int64 `py:"off:_is:next" dbg:"interpreter_state.next"`
	InterpTstateHead int64 `py:"off:_is:tstate_head|off:_is:threads.head" dbg:"interpreter_state.threads_head"`
	InterpID         int64 `py:"off:_is:id" dbg:"interpreter_state.id"`
	InterpModules    int64 `py:"off:_is:modules|off:_is:imports.modules" dbg:"interpreter_state.imports_modules"`
	InterpSysdict    int64 `py:"off:_is:sysdict" dbg:"interpreter_state.sysdict"`
	InterpBuiltins   int64 `py:"off:_is:builtins" dbg:"interpreter_state.builtins"`
	InterpGIL        int64 `py:"off:_is:ceval.gil"` // pointer, 3.12+
	InterpGC         int64 `py:"off:_is:gc" dbg:"interpreter_state.gc"`
	GILLastHolder    int64 `py:"off:_gil_runtime_state:last_holder"`
	GILLocked        int64 `py:"off:_gil_runtime_state:locked"`

	// Garbage collector (the census in later work).
	GCGenerations    int64 `py:"off:_gc_runtime_state:generations"`
	GCPermanent      int64 `py:"off:_gc_runtime_state:permanent_generation"`
	GCCollecting     int64 `py:"off:_gc_runtime_state:collecting" dbg:"gc.collecting"`
	GCGenerationSize int64 `py:"size:gc_generation"`
	GCGenerationHead int64 `py:"off:gc_generation:head"`
	GCHeadSize       int64 `py:"size:PyGC_Head"`

	// Thread state.
	TstateNext           int64 `py:"off:_ts:next" dbg:"thread_state.next"`
	TstatePrev           int64 `py:"off:_ts:prev" dbg:"thread_state.prev"`
	TstateInterp         int64 `py:"off:_ts:interp" dbg:"thread_state.interp"`
	TstateFrame          int64 `py:"off:_ts:frame"`  // PyFrameObject*, 3.8-3.10
	TstateCframe         int64 `py:"off:_ts:cframe"` // _PyCFrame*, 3.11-3.12
	CframeCurrentFrame   int64 `py:"off:_PyCFrame:current_frame"`
	TstateCurrentFrame   int64 `py:"off:_ts:current_frame" dbg:"thread_state.current_frame"` // 3.13
	TstateThreadID       int64 `py:"off:_ts:thread_id" dbg:"thread_state.thread_id"`
	TstateNativeThreadID int64 `py:"off:_ts:native_thread_id" dbg:"thread_state.native_thread_id"`
	TstateExcInfo        int64 `py:"off:_ts:exc_info"`
	TstateDict           int64 `py:"off:_ts:dict"`
	ErrStackExcType      int64 `py:"off:_err_stackitem:exc_type"`
	ErrStackExcValue     int64 `py:"off:_err_stackitem:exc_value"`
	ErrStackPrevious     int64 `py:"off:_err_stackitem:previous_item"`

	// Frame objects (the whole frame in 3.8-3.10; a wrapper from 3.11).
	FrameBack       int64 `py:"off:_frame:f_back"`
	FrameCode       int64 `py:"off:_frame:f_code"`
	FrameLasti      int64 `py:"off:_frame:f_lasti"`
	FrameLineno     int64 `py:"off:_frame:f_lineno"`
	FrameLocalsDict int64 `py:"off:_frame:f_locals"` // 3.8-3.10
	FrameLocalsplus int64 `py:"off:_frame:f_localsplus"`
	FrameFrame      int64 `py:"off:_frame:f_frame"` // _PyInterpreterFrame*, 3.11+

	// Interpreter frames, 3.11+.
	IFrameCode            int64 `py:"off:_PyInterpreterFrame:f_code|off:_PyInterpreterFrame:f_executable" dbg:"interpreter_frame.executable"`
	IFramePrevious        int64 `py:"off:_PyInterpreterFrame:previous" dbg:"interpreter_frame.previous"`
	IFrameFunc            int64 `py:"off:_PyInterpreterFrame:f_func|off:_PyInterpreterFrame:f_funcobj"`
	IFrameGlobals         int64 `py:"off:_PyInterpreterFrame:f_globals"`
	IFrameLocals          int64 `py:"off:_PyInterpreterFrame:f_locals"`
	IFrameFrameObj        int64 `py:"off:_PyInterpreterFrame:frame_obj"`
	IFrameInstr           int64 `py:"off:_PyInterpreterFrame:prev_instr|off:_PyInterpreterFrame:instr_ptr" dbg:"interpreter_frame.instr_ptr"`
	IFrameStacktop        int64 `py:"off:_PyInterpreterFrame:stacktop"`
	IFrameOwner           int64 `py:"off:_PyInterpreterFrame:owner" dbg:"interpreter_frame.owner"`
	IFrameIsEntry         int64 `py:"off:_PyInterpreterFrame:is_entry"`
	IFrameLocalsplus      int64 `py:"off:_PyInterpreterFrame:localsplus" dbg:"interpreter_frame.localsplus"`
	FrameOwnedByThread    int64 `py:"enum:FRAME_OWNED_BY_THREAD"`
	FrameOwnedByGenerator int64 `py:"enum:FRAME_OWNED_BY_GENERATOR"`
	FrameOwnedByCStack    int64 `py:"enum:FRAME_OWNED_BY_CSTACK"`

	// Code objects.
	CodeArgcount        int64 `py:"off:PyCodeObject:co_argcount" dbg:"code_object.argcount"`
	CodeNlocals         int64 `py:"off:PyCodeObject:co_nlocals"`
	CodeFlags           int64 `py:"off:PyCodeObject:co_flags"`
	CodeFirstlineno     int64 `py:"off:PyCodeObject:co_firstlineno" dbg:"code_object.firstlineno"`
	CodeCode            int64 `py:"off:PyCodeObject:co_code"` // bytes, 3.8-3.10
	CodeVarnames        int64 `py:"off:PyCodeObject:co_varnames"`
	CodeCellvars        int64 `py:"off:PyCodeObject:co_cellvars"`
	CodeFreevars        int64 `py:"off:PyCodeObject:co_freevars"`
	CodeFilename        int64 `py:"off:PyCodeObject:co_filename" dbg:"code_object.filename"`
	CodeName            int64 `py:"off:PyCodeObject:co_name" dbg:"code_object.name"`
	CodeQualname        int64 `py:"off:PyCodeObject:co_qualname" dbg:"code_object.qualname"`
	CodeLnotab          int64 `py:"off:PyCodeObject:co_lnotab"`                                // 3.8-3.9
	CodeLinetable       int64 `py:"off:PyCodeObject:co_linetable" dbg:"code_object.linetable"` // 3.10+
	CodeLocalsplusNames int64 `py:"off:PyCodeObject:co_localsplusnames" dbg:"code_object.localsplusnames"`
	CodeLocalsplusKinds int64 `py:"off:PyCodeObject:co_localspluskinds" dbg:"code_object.localspluskinds"`
	CodeNlocalsplus     int64 `py:"off:PyCodeObject:co_nlocalsplus"`
	CodeAdaptive        int64 `py:"off:PyCodeObject:co_code_adaptive" dbg:"code_object.co_code_adaptive"` // 3.11+
	CodeFirstTraceable  int64 `py:"off:PyCodeObject:_co_firsttraceable"`                                  // 3.11-3.12
	CoOptimized         int64 `py:"c:CO_OPTIMIZED"`
	CoFastLocal         int64 `py:"c:CO_FAST_LOCAL"`
	CoFastCell          int64 `py:"c:CO_FAST_CELL"`
	CoFastFree          int64 `py:"c:CO_FAST_FREE"`

	// Generators and coroutines.
	GenFrame  int64 `py:"off:PyGenObject:gi_frame"`  // 3.8-3.10
	GenIFrame int64 `py:"off:PyGenObject:gi_iframe"` // 3.11+
	GenCode   int64 `py:"off:PyGenObject:gi_code"`

	// Objects and types.
	ObRefcnt           int64 `py:"off:_object:ob_refcnt"`
	ObType             int64 `py:"off:_object:ob_type" dbg:"pyobject.ob_type"`
	ObSize             int64 `py:"off:PyVarObject:ob_size"`
	TypeName           int64 `py:"off:_typeobject:tp_name" dbg:"type_object.tp_name"`
	TypeBasicsize      int64 `py:"off:_typeobject:tp_basicsize"`
	TypeItemsize       int64 `py:"off:_typeobject:tp_itemsize"`
	TypeFlags          int64 `py:"off:_typeobject:tp_flags" dbg:"type_object.tp_flags"`
	TypeWeaklistoffset int64 `py:"off:_typeobject:tp_weaklistoffset"`
	TypeDictoffset     int64 `py:"off:_typeobject:tp_dictoffset"`
	TypeBase           int64 `py:"off:_typeobject:tp_base"`
	TypeDict           int64 `py:"off:_typeobject:tp_dict"`
	TypeMro            int64 `py:"off:_typeobject:tp_mro"`
	TypeBases          int64 `py:"off:_typeobject:tp_bases"`
	HeapTypeName       int64 `py:"off:_heaptypeobject:ht_name"`
	HeapTypeQualname   int64 `py:"off:_heaptypeobject:ht_qualname"`
	HeapTypeCachedKeys int64 `py:"off:_heaptypeobject:ht_cached_keys"`
	HeapTypeModule     int64 `py:"off:_heaptypeobject:ht_module"`

	TPFlagsHeapType        int64 `py:"c:Py_TPFLAGS_HEAPTYPE"`
	TPFlagsReady           int64 `py:"c:Py_TPFLAGS_READY"`
	TPFlagsHaveGC          int64 `py:"c:Py_TPFLAGS_HAVE_GC"`
	TPFlagsManagedDict     int64 `py:"c:Py_TPFLAGS_MANAGED_DICT"`
	TPFlagsInlineValues    int64 `py:"c:Py_TPFLAGS_INLINE_VALUES"`
	TPFlagsLongSubclass    int64 `py:"c:Py_TPFLAGS_LONG_SUBCLASS"`
	TPFlagsListSubclass    int64 `py:"c:Py_TPFLAGS_LIST_SUBCLASS"`
	TPFlagsTupleSubclass   int64 `py:"c:Py_TPFLAGS_TUPLE_SUBCLASS"`
	TPFlagsBytesSubclass   int64 `py:"c:Py_TPFLAGS_BYTES_SUBCLASS"`
	TPFlagsUnicodeSubclass int64 `py:"c:Py_TPFLAGS_UNICODE_SUBCLASS"`
	TPFlagsDictSubclass    int64 `py:"c:Py_TPFLAGS_DICT_SUBCLASS"`
	TPFlagsBaseExcSubclass int64 `py:"c:Py_TPFLAGS_BASE_EXC_SUBCLASS"`
	TPFlagsTypeSubclass    int64 `py:"c:Py_TPFLAGS_TYPE_SUBCLASS"`

	// Where a managed __dict__ (3.11+) and its values live, relative to the object.
	ManagedDictOffset   int64 `py:"c:MANAGED_DICT_OFFSET"`
	ManagedValuesOffset int64 `py:"c:MANAGED_VALUES_OFFSET"`

	// str.
	ASCIISize           int64 `py:"size:PyASCIIObject" dbg:"unicode_object.asciiobject_size"`
	CompactUnicodeSize  int64 `py:"size:PyCompactUnicodeObject"`
	UnicodeLength       int64 `py:"off:PyASCIIObject:length" dbg:"unicode_object.length"`
	UnicodeState        int64 `py:"off:PyASCIIObject:state" dbg:"unicode_object.state"`
	UnicodeKindShift    int64 `py:"bitoff:PyASCIIObject:state.kind"`
	UnicodeKindBits     int64 `py:"bitsize:PyASCIIObject:state.kind"`
	UnicodeCompactShift int64 `py:"bitoff:PyASCIIObject:state.compact"`
	UnicodeASCIIShift   int64 `py:"bitoff:PyASCIIObject:state.ascii"`
	UnicodeReadyShift   int64 `py:"bitoff:PyASCIIObject:state.ready"`
	UnicodeDataAny      int64 `py:"off:PyUnicodeObject:data"`

	// int, float, bytes.
	LongDigits      int64 `py:"off:_longobject:ob_digit|off:_longobject:long_value.ob_digit" dbg:"long_object.ob_digit"`
	LongTag         int64 `py:"off:_longobject:long_value.lv_tag" dbg:"long_object.lv_tag"` // 3.12+
	LongShift       int64 `py:"c:PyLong_SHIFT"`
	LongDigitSize   int64 `py:"size:digit"`
	LongNonSizeBits int64 `py:"c:_PyLong_NON_SIZE_BITS"`
	FloatValue      int64 `py:"off:PyFloatObject:ob_fval" dbg:"float_object.ob_fval"`
	BytesData       int64 `py:"off:PyBytesObject:ob_sval" dbg:"bytes_object.ob_sval"`

	// list, tuple, dict, set.
	ListItems              int64 `py:"off:PyListObject:ob_item" dbg:"list_object.ob_item"`
	ListAllocated          int64 `py:"off:PyListObject:allocated"`
	TupleItems             int64 `py:"off:PyTupleObject:ob_item" dbg:"tuple_object.ob_item"`
	DictUsed               int64 `py:"off:PyDictObject:ma_used"`
	DictKeys               int64 `py:"off:PyDictObject:ma_keys" dbg:"dict_object.ma_keys"`
	DictVersionTag         int64 `py:"off:PyDictObject:ma_version_tag"`
	DictValues             int64 `py:"off:PyDictObject:ma_values" dbg:"dict_object.ma_values"`
	DictKeysSize           int64 `py:"off:_dictkeysobject:dk_size"` // 3.8-3.10
	DictKeysStructSize     int64 `py:"size:_dictkeysobject"`
	DictKeysRefcnt         int64 `py:"off:_dictkeysobject:dk_refcnt"`
	DictKeysUsable         int64 `py:"off:_dictkeysobject:dk_usable"`
	DictKeysLog2Size       int64 `py:"off:_dictkeysobject:dk_log2_size"` // 3.11+
	DictKeysLog2IndexBytes int64 `py:"off:_dictkeysobject:dk_log2_index_bytes"`
	DictKeysKind           int64 `py:"off:_dictkeysobject:dk_kind"`
	DictKeysNentries       int64 `py:"off:_dictkeysobject:dk_nentries"`
	DictKeysIndices        int64 `py:"off:_dictkeysobject:dk_indices"`
	DictKeysKindGeneral    int64 `py:"enum:DICT_KEYS_GENERAL"`
	DictKeyEntrySize       int64 `py:"size:PyDictKeyEntry"`
	DictKeyEntryKey        int64 `py:"off:PyDictKeyEntry:me_key"`
	DictKeyEntryValue      int64 `py:"off:PyDictKeyEntry:me_value"`
	DictUnicodeEntrySize   int64 `py:"size:PyDictUnicodeEntry"`
	DictUnicodeEntryKey    int64 `py:"off:PyDictUnicodeEntry:me_key"`
	DictUnicodeEntryValue  int64 `py:"off:PyDictUnicodeEntry:me_value"`
	DictValuesValues       int64 `py:"off:_dictvalues:values"`
	DictValuesValid        int64 `py:"off:_dictvalues:valid"` // 3.13
	SetUsed                int64 `py:"off:PySetObject:used"`
	SetMask                int64 `py:"off:PySetObject:mask"`
	SetTable               int64 `py:"off:PySetObject:table"`
	SetEntrySize           int64 `py:"size:setentry"`
	SetEntryKey            int64 `py:"off:setentry:key"`

	// Other object kinds that the stack view decodes.
	ModuleDict   int64 `py:"off:PyModuleObject:md_dict"`
	ModuleName   int64 `py:"off:PyModuleObject:md_name"`
	FuncCode     int64 `py:"off:PyFunctionObject:func_code"`
	FuncGlobals  int64 `py:"off:PyFunctionObject:func_globals"`
	FuncName     int64 `py:"off:PyFunctionObject:func_name"`
	FuncQualname int64 `py:"off:PyFunctionObject:func_qualname"`
	FuncClosure  int64 `py:"off:PyFunctionObject:func_closure"`
	CellRef      int64 `py:"off:PyCellObject:ob_ref"`
	ExcArgs      int64 `py:"off:PyBaseExceptionObject:args"`
	ExcTraceback int64 `py:"off:PyBaseExceptionObject:traceback"`
	ExcContext   int64 `py:"off:PyBaseExceptionObject:context"`
	ExcCause     int64 `py:"off:PyBaseExceptionObject:cause"`
	ExcBaseSize  int64 `py:"size:PyBaseExceptionObject"`
	ExcDict      int64 `py:"off:PyBaseExceptionObject:dict"`
	ExcNotes     int64 `py:"off:PyBaseExceptionObject:notes"` // 3.11+

	// More members that the heap walkers follow, as tp_traverse does.
	FuncDefaults       int64 `py:"off:PyFunctionObject:func_defaults"`
	FuncKwdefaults     int64 `py:"off:PyFunctionObject:func_kwdefaults"`
	FuncDoc            int64 `py:"off:PyFunctionObject:func_doc"`
	FuncDict           int64 `py:"off:PyFunctionObject:func_dict"`
	FuncModule         int64 `py:"off:PyFunctionObject:func_module"`
	FuncAnnotations    int64 `py:"off:PyFunctionObject:func_annotations"`
	CodeConsts         int64 `py:"off:PyCodeObject:co_consts"`
	CodeNames          int64 `py:"off:PyCodeObject:co_names"`
	CodeExceptionTable int64 `py:"off:PyCodeObject:co_exceptiontable"`
	MethodFunc         int64 `py:"off:PyMethodObject:im_func"`
	MethodSelf         int64 `py:"off:PyMethodObject:im_self"`
	CFunctionSelf      int64 `py:"off:PyCFunctionObject:m_self"`
	CFunctionModule    int64 `py:"off:PyCFunctionObject:m_module"`
	TracebackNext      int64 `py:"off:_traceback:tb_next"`
	TracebackFrame     int64 `py:"off:_traceback:tb_frame"`
	WeakrefObject      int64 `py:"off:_PyWeakReference:wr_object"`
	WeakrefCallback    int64 `py:"off:_PyWeakReference:wr_callback"`
	MemberDescrMember  int64 `py:"off:PyMemberDescrObject:d_member"`
	DescrType          int64 `py:"off:PyDescrObject:d_type"`
	DescrName          int64 `py:"off:PyDescrObject:d_name"`
	DescrQualname      int64 `py:"off:PyDescrObject:d_qualname"`
	MemberDefName      int64 `py:"off:PyMemberDef:name"`
	MemberDefType      int64 `py:"off:PyMemberDef:type"`
	MemberDefOffset    int64 `py:"off:PyMemberDef:offset"`
	TObject            int64 `py:"c:T_OBJECT"`
	TObjectEx          int64 `py:"c:T_OBJECT_EX"`
	FrameBuiltins      int64 `py:"off:_frame:f_builtins"`
	FrameGlobals       int64 `py:"off:_frame:f_globals"`
	FrameTrace         int64 `py:"off:_frame:f_trace"`
	FrameValuestack    int64 `py:"off:_frame:f_valuestack"`
	FrameStacktop      int64 `py:"off:_frame:f_stacktop"`    // 3.8-3.9
	FrameStackdepth    int64 `py:"off:_frame:f_stackdepth"`  // 3.10
	FrameData          int64 `py:"off:_frame:_f_frame_data"` // 3.11+: the frame lives here once its owner returned
	IFrameBuiltins     int64 `py:"off:_PyInterpreterFrame:f_builtins"`
	GenFrameState      int64 `py:"off:PyGenObject:gi_frame_state"` // 3.11+
	GenName            int64 `py:"off:PyGenObject:gi_name"`
	GenQualname        int64 `py:"off:PyGenObject:gi_qualname"`
	FrameStateCleared  int64 `py:"enum:FRAME_CLEARED"`
	FrameStateCreated  int64 `py:"enum:FRAME_CREATED"`
	HeapTypeSlots      int64 `py:"off:_heaptypeobject:ht_slots"`
	TypeSubclasses     int64 `py:"off:_typeobject:tp_subclasses"`
}

// ForVersion returns the committed table for a minor version such as "3.11".
func ForVersion(minor string) (*Layout, error) {
	l, ok := tables[minor]
	if !ok {
		return nil, fmt.Errorf("no layout table for CPython %s (tables exist for %s); a build with DWARF debug info can still be read", minor, Versions())
	}
	c := *l
	return &c, nil
}

// Versions lists the minor versions that have a committed table.
func Versions() []string {
	out := make([]string, 0, len(tables))
	for v := range tables {
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
