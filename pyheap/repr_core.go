package pyheap

import (
	"fmt"

	"github.com/pycoroner/pycoroner/pyheap/pyrepr"
)

// coreRepr renders the core's C types whose repr() names what they are,
// where pycoroner would otherwise print <T object at 0x...>: descriptors
// (descr_repr and friends in Objects/descrobject.c), builtin functions and
// methods (meth_repr), generators and coroutines (gen_repr), and asyncio's
// Task and Future (repr_async.go). ok is false when the type is none of
// these or a field it needs cannot be read: the caller then falls back to
// the plain repr rather than print a half-read one.
func (r *Runtime) coreRepr(addr uint64, t *Type, depth int) (string, bool) {
	switch t.Name {
	case "method_descriptor", "classmethod_descriptor":
		return r.descrRepr(addr, "method")
	case "wrapper_descriptor":
		return r.descrRepr(addr, "slot wrapper")
	case "getset_descriptor":
		return r.descrRepr(addr, "attribute")
	case "member_descriptor":
		return r.descrRepr(addr, "member")
	case "builtin_function_or_method", "builtin_method":
		return r.builtinRepr(addr)
	case "generator", "coroutine", "async_generator":
		q, err := r.strField(addr, r.L.GenQualname)
		if err != nil {
			return "", false
		}
		return fmt.Sprintf("<%s object %s at 0x%x>", t.Name, q, addr), true
	case "_asyncio.Task", "_asyncio.Future":
		return r.futureRepr(addr, t, depth)
	}
	return "", false
}

// descrRepr: <KIND 'name' of 'owner' objects>, the owner being d_type's
// tp_name.
func (r *Runtime) descrRepr(addr uint64, kind string) (string, bool) {
	name, err := r.strField(addr, r.L.DescrName)
	if err != nil {
		return "", false
	}
	owner, err := r.typeAt(r.ptrField(addr, r.L.DescrType))
	if err != nil {
		return "", false
	}
	if r.L.Minor >= 15 && owner.Name == "object" {
		// 3.15 names no owner for object's own descriptors (observed in
		// 3.15.2: <slot wrapper '__init__'>; the containers test checks it)
		return fmt.Sprintf("<%s '%s'>", kind, name), true
	}
	return fmt.Sprintf("<%s '%s' of '%s' objects>", kind, name, owner.Name), true
}

// builtinName is a builtin's ml_name, from its PyMethodDef.
func (r *Runtime) builtinName(addr uint64) (string, bool) {
	ml := r.ptrField(addr, r.L.CFunctionML)
	if ml == 0 || !r.L.MethodDefName.Has() {
		return "", false
	}
	np := r.ptrField(ml, r.L.MethodDefName)
	if np == 0 {
		return "", false
	}
	name, err := r.m.img.CString(np, 256)
	return name, err == nil
}

// builtinRepr: a builtin bound to nothing or to a module is a function,
// one bound to an object a method of that object (a classmethod's self is
// its class, shown as a "type object").
func (r *Runtime) builtinRepr(addr uint64) (string, bool) {
	name, ok := r.builtinName(addr)
	if !ok {
		return "", false
	}
	self := r.ptrField(addr, r.L.CFunctionSelf)
	if self == 0 {
		return fmt.Sprintf("<built-in function %s>", name), true
	}
	st, err := r.TypeOf(self)
	if err != nil {
		return "", false
	}
	if st.Kind == KindModule {
		return fmt.Sprintf("<built-in function %s>", name), true
	}
	return fmt.Sprintf("<built-in method %s of %s object at 0x%x>", name, st.Name, self), true
}

// frameLine is where a frame object stands: its code and current line.
// 3.8-3.10 the frame object is the frame (f_lasti); from 3.11 it points to
// the interpreter frame, embedded in a generator or in itself once its
// owner returned.
func (r *Runtime) frameLine(f uint64) (*codeInfo, int, bool) {
	L := r.L
	if L.FrameCode.Has() {
		return r.oldFrameLine(f)
	}
	iframe := r.ptrField(f, L.FrameFrame)
	if iframe == 0 {
		return nil, 0, false
	}
	return r.iframeLine(iframe)
}

func (r *Runtime) oldFrameLine(f uint64) (*codeInfo, int, bool) {
	ci := r.code(r.ptrField(f, r.L.FrameCode))
	if ci.err != nil {
		return nil, 0, false
	}
	lasti, err := r.m.i32(r.L.FrameLasti.Add(f))
	if err != nil {
		return nil, 0, false
	}
	off := int(lasti)
	if r.L.Minor >= 10 { // 3.10 counts code units
		off *= 2
	}
	return ci, lineAt(r.L.Minor, ci, off), true
}

// iframeLine computes the line as interpFrame does for a thread's frames.
func (r *Runtime) iframeLine(iframe uint64) (*codeInfo, int, bool) {
	L := r.L
	ci, err := r.iframeCode(iframe)
	if err != nil {
		return nil, 0, false
	}
	instr, err := r.m.ptr(L.IFrameInstr.Add(iframe))
	if err != nil {
		return nil, 0, false
	}
	return ci, lineAt(L.Minor, ci, int(int64(instr)-int64(ci.bytecode))), true
}

// iframeCode is what an interpreter frame (3.11+) runs, when it runs a
// code object.
func (r *Runtime) iframeCode(iframe uint64) (*codeInfo, error) {
	code := r.untag(r.ptrField(iframe, r.L.IFrameCode))
	if isCode, err := r.executesCode(code); err != nil || !isCode {
		return nil, fmt.Errorf("frame 0x%x runs no code object", iframe)
	}
	ci := r.code(code)
	return ci, ci.err
}

// frameRepr: <frame at 0x..., file '...', line N, code NAME> (frame_repr).
func (r *Runtime) frameRepr(addr uint64) (string, bool) {
	ci, line, ok := r.frameLine(addr)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("<frame at 0x%x, file %s, line %d, code %s>", addr, pyrepr.Str([]rune(ci.filename)), line, ci.name), true
}

// genFrameLine is where a suspended generator or coroutine stands: what
// asyncio prints as "running at FILE:LINE". done is set when its frame is
// gone (it finished: gi_frame is None); ok is false when unreadable.
func (r *Runtime) genFrameLine(g uint64) (ci *codeInfo, line int, done, ok bool) {
	L := r.L
	if !L.GenIFrame.Has() { // 3.8-3.10: gi_frame, NULL once finished
		f, err := r.m.ptr(L.GenFrame.Add(g))
		if err != nil || f == 0 {
			return nil, 0, err == nil, false
		}
		ci, line, ok = r.oldFrameLine(f)
		return ci, line, false, ok
	}
	st, err := r.m.u8(L.GenFrameState.Add(g))
	if err != nil {
		return nil, 0, false, false
	}
	finished := L.FrameStateCleared // 3.15: only a cleared frame is finished
	if L.FrameStateCompleted >= 0 {
		finished = L.FrameStateCompleted
	}
	if int64(int8(st)) >= finished {
		return nil, 0, true, false
	}
	ci, line, ok = r.iframeLine(L.GenIFrame.Add(g))
	return ci, line, false, ok
}
