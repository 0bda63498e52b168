package pyheap

import (
	"fmt"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/layout"
	"github.com/pycoroner/pycoroner/pyheap/linetable"
)

// Frame is one Python frame of a thread, innermost first in a stack.
type Frame struct {
	Addr      uint64 // PyFrameObject (3.8-3.10) or _PyInterpreterFrame (3.11+)
	Code      uint64
	Function  string // co_name
	Qualname  string // co_qualname (3.11+), else empty
	Filename  string
	Line      int // 0 when unknown
	FirstLine int
	Locals    []Local
	Err       error // what could not be read of this frame
	// LocalsAreGlobals is set when the frame's locals are its globals (a
	// module body): Locals then lists every global of the module.
	LocalsAreGlobals bool
	// Namespace is the dict Locals were read from (f_locals of a module
	// or class body), 0 for a function's fast locals. Such a "local" is
	// that dict's reference, not the frame's: refs lists the dict.
	Namespace uint64
	// Entry marks the outermost frame one call of the C evaluation loop
	// (_PyEval_EvalFrameDefault) ran: before 3.11 every frame; from 3.11
	// the frame CPython marks is_entry (3.11) or the one just inside a
	// C-stack entry frame (3.12+). Native stacks are merged by it.
	Entry bool

	cstack bool // a C-stack entry frame (3.12+), never returned
}

// Local is one argument or local variable with its value (cells already
// dereferenced, unbound names left out).
type Local struct {
	Name  string
	Value uint64
}

// codeInfo is what a frame needs of its code object, cached per code.
type codeInfo struct {
	name, qualname, filename string
	firstLine                int
	table                    []byte // co_lnotab or co_linetable
	names                    []string
	kinds                    []byte // co_localspluskinds (3.11+); nil before
	cellStart                int    // 3.8-3.10: index of the first cell/free variable
	flags                    uint32
	bytecode                 uint64 // 3.11+: address of the first code unit
	firstTraceable           int64
	err                      error
}

// Frames walks a thread's frame chain, innermost first.
func (r *Runtime) Frames(ts ThreadState) ([]Frame, error) {
	if !r.L.HasInterpreterFrames() {
		return r.framesOld(ts)
	}
	return r.framesNew(ts)
}

// framesOld walks PyFrameObjects (3.8-3.10).
func (r *Runtime) framesOld(ts ThreadState) ([]Frame, error) {
	L := r.L
	var out []Frame
	seen := map[uint64]bool{}
	f, err := r.m.ptr(L.TstateFrame.Add(ts.Addr))
	for err == nil && f != 0 {
		if seen[f] || len(out) >= maxFrames {
			return out, fmt.Errorf("frame chain loops or exceeds %d frames at 0x%x", maxFrames, f)
		}
		seen[f] = true
		fr := Frame{Addr: f, Entry: true}
		if code, err := r.m.ptr(L.FrameCode.Add(f)); err != nil {
			fr.Err = fmt.Errorf("frame 0x%x code: %w", f, err)
		} else {
			fr.Code = code
			ci := r.code(code)
			r.fillFrame(&fr, ci)
			if lasti, err := r.m.i32(L.FrameLasti.Add(f)); err == nil && ci.err == nil {
				off := int(lasti)
				if r.L.Minor >= 10 {
					off *= 2
				}
				fr.Line = lineAt(r.L.Minor, ci, off)
			}
			if ci.err == nil {
				fr.Locals, fr.Namespace, fr.Err = r.frameLocals(L.FrameLocalsplus.Add(f), L.FrameLocalsDict.Add(f), ci)
				fr.LocalsAreGlobals = r.sameDict(L.FrameLocalsDict, L.FrameGlobals, f)
			}
		}
		out = append(out, fr)
		f, err = r.m.ptr(L.FrameBack.Add(f))
	}
	if err != nil {
		return out, fmt.Errorf("frame chain: %w", err)
	}
	return out, nil
}

// framesNew walks _PyInterpreterFrames (3.11+), skipping the C-stack shim
// frames and frames that have not started running, as CPython's own
// f_back does.
func (r *Runtime) framesNew(ts ThreadState) ([]Frame, error) {
	L := r.L
	var cur uint64
	var err error
	if L.TstateCurrentFrame.Has() {
		cur, err = r.m.ptr(L.TstateCurrentFrame.Add(ts.Addr))
	} else {
		var cframe uint64
		if cframe, err = r.m.ptr(L.TstateCframe.Add(ts.Addr)); err == nil && cframe != 0 {
			cur, err = r.m.ptr(L.CframeCurrentFrame.Add(cframe))
		}
	}
	var out []Frame
	seen := map[uint64]bool{}
	for steps := 0; err == nil && cur != 0; steps++ {
		if seen[cur] || steps >= maxFrames {
			return out, fmt.Errorf("frame chain loops or exceeds %d frames at 0x%x", maxFrames, cur)
		}
		seen[cur] = true
		fr, keep := r.interpFrame(cur)
		if keep {
			out = append(out, fr)
		} else if fr.cstack && len(out) > 0 {
			out[len(out)-1].Entry = true
		}
		cur, err = r.m.ptr(L.IFramePrevious.Add(cur))
	}
	if err != nil {
		return out, fmt.Errorf("frame chain: %w", err)
	}
	return out, nil
}

func (r *Runtime) interpFrame(cur uint64) (Frame, bool) {
	L := r.L
	fr := Frame{Addr: cur}
	owner, err := r.m.u8(L.IFrameOwner.Add(cur))
	if err != nil {
		fr.Err = fmt.Errorf("frame 0x%x: %w", cur, err)
		return fr, true
	}
	if (L.FrameOwnedByCStack >= 0 && int64(owner) == L.FrameOwnedByCStack) ||
		(L.FrameOwnedByInterpreter >= 0 && int64(owner) == L.FrameOwnedByInterpreter) {
		// A shim the C stack owns (3.14+: the interpreter's own entry frame).
		fr.cstack = true
		return fr, false
	}
	if L.IFrameIsEntry.Has() {
		if e, err := r.m.u8(L.IFrameIsEntry.Add(cur)); err == nil && e != 0 {
			fr.Entry = true
		}
	}
	code, err := r.m.ptr(L.IFrameCode.Add(cur))
	if err != nil {
		fr.Err = fmt.Errorf("frame 0x%x code: %w", cur, err)
		return fr, true
	}
	code = r.untag(code) // a _PyStackRef in 3.14+
	if code == 0 {
		if prev, err := r.m.ptr(L.IFramePrevious.Add(cur)); err == nil && prev == 0 {
			// The zeroed frame some builds keep at the bottom of every
			// thread's chain (Debian's 3.13.18, 3.15's base_frame): no
			// code ran there.
			return fr, false
		}
	}
	isCode, err := r.executesCode(code)
	if err != nil {
		// Say so rather than drop the frame: a reader must see that a
		// frame was there.
		fr.Err = fmt.Errorf("frame 0x%x: code object 0x%x: %w", cur, code, err)
		return fr, true
	}
	if !isCode {
		return fr, false // 3.13 shim frames execute no code object
	}
	fr.Code = code
	ci := r.code(code)
	r.fillFrame(&fr, ci)
	if ci.err != nil {
		return fr, true
	}
	instr, err := r.m.ptr(L.IFrameInstr.Add(cur))
	if err != nil {
		fr.Err = fmt.Errorf("frame 0x%x instruction pointer: %w", cur, err)
		return fr, true
	}
	if int64(owner) != L.FrameOwnedByGenerator && ci.firstTraceable >= 0 &&
		int64(instr) < int64(ci.bytecode)+ci.firstTraceable*2 {
		return fr, false // not started yet: CPython hides it too
	}
	fr.Line = lineAt(r.L.Minor, ci, int(int64(instr)-int64(ci.bytecode)))
	fr.Locals, fr.Namespace, fr.Err = r.frameLocals(L.IFrameLocalsplus.Add(cur), L.IFrameLocals.Add(cur), ci)
	fr.LocalsAreGlobals = r.sameDict(L.IFrameLocals, L.IFrameGlobals, cur)
	return fr, true
}

func (r *Runtime) fillFrame(fr *Frame, ci *codeInfo) {
	fr.Function, fr.Qualname, fr.Filename, fr.FirstLine = ci.name, ci.qualname, ci.filename, ci.firstLine
	if ci.err != nil {
		fr.Err = ci.err
	}
}

func lineAt(minor int, ci *codeInfo, offset int) int {
	// A line below 1 comes from a corrupted co_firstlineno or table: unknown.
	if line, ok := linetable.Line(minor, ci.table, ci.firstLine, offset); ok && line > 0 {
		return line
	}
	return 0
}

// maxNamespaceLocals bounds the names shown for a module or class body.
const maxNamespaceLocals = 4096

// frameLocals returns what frame.f_locals holds: the fast locals of a
// function, or the namespace dict of a module or class body (code that is
// not CO_OPTIMIZED keeps its locals in a dict, the globals for a module),
// and that dict (0 for fast locals).
func (r *Runtime) frameLocals(fast, dictField uint64, ci *codeInfo) ([]Local, uint64, error) {
	if r.L.CoOptimized <= 0 || int64(ci.flags)&r.L.CoOptimized != 0 {
		l, err := r.localsAt(fast, ci)
		return l, 0, err
	}
	d, err := r.m.ptr(dictField)
	if err != nil || d == 0 {
		l, err := r.localsAt(fast, ci)
		return l, 0, err
	}
	items, _, err := r.DictItems(d, maxNamespaceLocals)
	if err != nil {
		return nil, d, fmt.Errorf("namespace dict 0x%x: %w", d, err)
	}
	out := make([]Local, 0, len(items))
	for _, it := range items {
		name, err := r.StrValue(it.Key)
		if err != nil {
			continue
		}
		out = append(out, Local{Name: name, Value: it.Value})
	}
	return out, d, nil
}

// sameDict reports whether a frame's locals and globals fields point at
// one dict (a module body's frame).
func (r *Runtime) sameDict(locals, globals layout.Offset, frame uint64) bool {
	if !locals.Has() || !globals.Has() {
		return false
	}
	l, err1 := r.m.ptr(locals.Add(frame))
	g, err2 := r.m.ptr(globals.Add(frame))
	return err1 == nil && err2 == nil && l != 0 && l == g
}

// localsAt reads the fast locals array and pairs it with the code's names.
func (r *Runtime) localsAt(base uint64, ci *codeInfo) ([]Local, error) {
	n := len(ci.names)
	if n == 0 {
		return nil, nil
	}
	vals, _, err := r.words(base, n, int64(n))
	if err != nil {
		return nil, fmt.Errorf("locals at 0x%x: %w", base, err)
	}
	var out []Local
	for i, v := range vals {
		if v = r.untag(v); v == 0 {
			continue // unbound (or a tagged int, which no local holds)
		}
		isCell := i >= ci.cellStart
		if ci.kinds != nil {
			k := int64(ci.kinds[i])
			isCell = k&(r.L.CoFastCell|r.L.CoFastFree) != 0
		}
		if isCell {
			if t, err := r.TypeOf(v); err == nil && t.Kind == KindCell {
				ref, err := r.m.ptr(r.L.CellRef.Add(v))
				if err != nil || ref == 0 {
					continue // empty cell: unbound
				}
				v = ref
			}
		}
		out = append(out, Local{Name: ci.names[i], Value: v})
	}
	return out, nil
}

// executesCode tells whether the object a frame executes is a code
// object. PyCode_Type is compared by address when the binary names it,
// without reading it: a damaged page there must not make every frame of
// every thread unreadable.
func (r *Runtime) executesCode(obj uint64) (bool, error) {
	if r.static.codeType != 0 {
		tp, err := r.m.ptr(r.L.ObType.Add(obj))
		if err != nil {
			return false, fmt.Errorf("object 0x%x: %w", obj, err)
		}
		if tp == r.static.codeType {
			return true, nil
		}
	}
	t, err := r.TypeOf(obj)
	if err != nil {
		return false, err
	}
	if t.Kind == KindCode {
		return true, nil
	}
	if strings.HasPrefix(t.Name, "<unreadable") {
		r.noteCodeType(obj) // the binary is missing: learn the code type here
		return true, nil
	}
	return false, nil
}

// code decodes (and caches) what frames need of a code object.
func (r *Runtime) code(addr uint64) *codeInfo {
	if r.codes == nil {
		r.codes = map[uint64]*codeInfo{}
	}
	if ci, ok := r.codes[addr]; ok {
		return ci
	}
	ci := r.readCode(addr)
	r.codes[addr] = ci
	return ci
}

func (r *Runtime) readCode(addr uint64) *codeInfo {
	L := r.L
	ci := &codeInfo{firstTraceable: -1}
	fail := func(what string, err error) *codeInfo {
		ci.err = fmt.Errorf("code object 0x%x %s: %w", addr, what, err)
		return ci
	}
	var err error
	if ci.name, err = r.strField(addr, L.CodeName); err != nil {
		return fail("co_name", err)
	}
	if ci.filename, err = r.strField(addr, L.CodeFilename); err != nil {
		return fail("co_filename", err)
	}
	if L.CodeQualname.Has() {
		if ci.qualname, err = r.strField(addr, L.CodeQualname); err != nil {
			return fail("co_qualname", err)
		}
	}
	flags, err := r.m.u32(L.CodeFlags.Add(addr))
	if err != nil {
		return fail("co_flags", err)
	}
	ci.flags = flags
	first, err := r.m.i32(L.CodeFirstlineno.Add(addr))
	if err != nil {
		return fail("co_firstlineno", err)
	}
	ci.firstLine = int(first)
	tableOff := L.CodeLinetable
	if L.CodeLnotab.Has() {
		tableOff = L.CodeLnotab
	}
	if tbl, err := r.m.ptr(addr + uint64(tableOff)); err == nil {
		if ci.table, _, err = r.Bytes(tbl, 1<<22); err != nil {
			return fail("line table", err)
		}
	}
	if L.CodeLocalsplusNames.Has() {
		if ci.names, err = r.strTupleField(addr, L.CodeLocalsplusNames); err != nil {
			return fail("co_localsplusnames", err)
		}
		kp, err := r.m.ptr(L.CodeLocalsplusKinds.Add(addr))
		if err != nil {
			return fail("co_localspluskinds", err)
		}
		if ci.kinds, _, err = r.Bytes(kp, len(ci.names)); err != nil || len(ci.kinds) != len(ci.names) {
			return fail("co_localspluskinds", fmt.Errorf("%d kinds for %d names (%v)", len(ci.kinds), len(ci.names), err))
		}
		ci.bytecode = L.CodeAdaptive.Add(addr)
		if L.CodeFirstTraceable.Has() {
			ft, err := r.m.i32(L.CodeFirstTraceable.Add(addr))
			if err != nil {
				return fail("_co_firsttraceable", err)
			}
			ci.firstTraceable = int64(ft)
		}
		return ci
	}
	nlocals, err := r.m.i32(L.CodeNlocals.Add(addr))
	if err != nil {
		return fail("co_nlocals", err)
	}
	varnames, err := r.strTupleField(addr, L.CodeVarnames)
	if err != nil {
		return fail("co_varnames", err)
	}
	if int(nlocals) > len(varnames) || nlocals < 0 {
		return fail("co_nlocals", fmt.Errorf("%d locals but %d names", nlocals, len(varnames)))
	}
	cells, err := r.strTupleField(addr, L.CodeCellvars)
	if err != nil {
		return fail("co_cellvars", err)
	}
	frees, err := r.strTupleField(addr, L.CodeFreevars)
	if err != nil {
		return fail("co_freevars", err)
	}
	ci.names = append(append(varnames[:nlocals:nlocals], cells...), frees...)
	ci.cellStart = int(nlocals)
	return ci
}

// strField reads a str-valued pointer field of an object.
func (r *Runtime) strField(obj uint64, off layout.Offset) (string, error) {
	p, err := r.m.ptr(off.Add(obj))
	if err != nil {
		return "", err
	}
	cps, err := r.strN(p, 4096)
	if err != nil {
		return "", err
	}
	return shortText(cps), nil
}

// strTupleField reads a tuple-of-str pointer field.
func (r *Runtime) strTupleField(obj uint64, off layout.Offset) ([]string, error) {
	p, err := r.m.ptr(off.Add(obj))
	if err != nil {
		return nil, err
	}
	items, n, err := r.SeqItems(p, KindTuple, 1<<16)
	if err != nil {
		return nil, err
	}
	if int64(len(items)) != n {
		return nil, fmt.Errorf("tuple of %d names is too long", n)
	}
	out := make([]string, len(items))
	for i, it := range items {
		cps, err := r.strN(it, 4096)
		if err != nil {
			return nil, fmt.Errorf("name %d: %w", i, err)
		}
		out[i] = shortText(cps)
	}
	return out, nil
}
