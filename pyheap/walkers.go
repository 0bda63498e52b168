package pyheap

import "github.com/pycoroner/pycoroner/pyheap/layout"

// Walkers for C types that the model does not classify as a Kind, by
// tp_name. Adding one is one line in an init function of a file of its own:
//
//	func init() { registerWalker(walkDeque, "collections.deque") }
//
// where walkDeque(r, obj, labels, emit) emits what the C struct holds, in
// the order its tp_traverse visits it (read members with r.ptrField and
// the generated offsets of pyheap/layout; label with the Python name of
// the member, or "item N" for contents). The walker applies to instances
// of the static type of that name. Being registered, the type's words are
// no longer scanned conservatively; its __dict__ (when tp_dictoffset says
// it has one) is still walked after the walker. See docs/design.md,
// "Walking the heap".
var walkers = map[string]walker{}

// registerWalker makes w the walker of the static types named.
func registerWalker(w walker, names ...string) {
	for _, n := range names {
		if _, dup := walkers[n]; dup {
			panic("pyheap: two walkers for " + n)
		}
		walkers[n] = w
	}
}

// sizedWalkers walk structs private to CPython's C files, whose layout
// the generator declares itself (layout/gen/private.go): one applies only
// when the type's tp_basicsize is the generated struct's size, else the
// type is scanned conservatively.
var sizedWalkers = map[string]sizedWalker{}

type sizedWalker struct {
	w    walker
	size func(*layout.Layout) int64
}

// registerSizedWalker makes w the walker of the static types named whose
// tp_basicsize is size(layout).
func registerSizedWalker(w walker, size func(*layout.Layout) int64, names ...string) {
	for _, n := range names {
		if _, dup := sizedWalkers[n]; dup {
			panic("pyheap: two walkers for " + n)
		}
		sizedWalkers[n] = sizedWalker{w, size}
	}
}

func init() {
	registerWalker(walkWeakref, "weakref", "weakref.ReferenceType", "weakproxy", "weakcallableproxy", "weakref.ProxyType", "weakref.CallableProxyType")
	registerWalker(walkMethod, "method")
	registerWalker(walkCFunction, "builtin_function_or_method")
	registerWalker(walkCMethod, "builtin_method")
	registerWalker(walkTraceback, "traceback")
	registerWalker(walkGenerator, "generator", "coroutine", "async_generator")
	// Their other fields point to C structures (PyMethodDef, ...).
	registerWalker(walkDescriptor, "method_descriptor", "classmethod_descriptor", "member_descriptor", "getset_descriptor", "wrapper_descriptor")
}

// walkWeakref follows the callback only: the referent is not a strong
// reference.
func walkWeakref(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	r.emitFields(obj, []field{{r.L.WeakrefCallback, "weakref callback"}}, labels, emit)
}

func walkMethod(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	r.emitFields(obj, []field{{r.L.MethodFunc, "__func__"}, {r.L.MethodSelf, "__self__"}}, labels, emit)
}

func walkCFunction(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	r.emitFields(obj, []field{{r.L.CFunctionSelf, "__self__"}, {r.L.CFunctionModule, "__module__"}}, labels, emit)
}

// walkCMethod follows a builtin method defined with METH_METHOD
// (PyCMethodObject): a builtin function that also holds its defining class.
func walkCMethod(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	walkCFunction(r, obj, labels, emit)
	r.emitFields(obj, []field{{r.L.CMethodClass, "__objclass__ (mm_class)"}}, labels, emit)
}

func walkTraceback(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	r.emitFields(obj, []field{{r.L.TracebackNext, "tb_next"}, {r.L.TracebackFrame, "tb_frame"}}, labels, emit)
}

func walkDescriptor(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	r.emitFields(obj, []field{{r.L.DescrType, "__objclass__"}, {r.L.DescrName, "__name__"}, {r.L.DescrQualname, "__qualname__"}}, labels, emit)
}

// walkGenerator follows a generator, coroutine or async generator: its
// names and code, the exception state it saved while suspended, and (3.11+) the interpreter frame it embeds, until the
// frame is cleared.
func walkGenerator(r *Runtime, g uint64, labels bool, emit emitFunc) {
	L := r.L
	r.emitFields(g, []field{{L.GenName, "__name__"}, {L.GenQualname, "__qualname__"}, {L.GenCode, "gi_code"}, {L.GenFrame, "gi_frame"},
		{L.GenExcType, "saved exception type"}, {L.GenExcValue, "saved exception"}, {L.GenExcTraceback, "saved exception traceback"}}, labels, emit)
	if !L.GenIFrame.Has() {
		return
	}
	state, err := r.m.u8(L.GenFrameState.Add(g))
	if err != nil {
		return
	}
	if int64(int8(state)) >= L.FrameStateCleared {
		// 3.14+ frames hold _PyStackRefs: gen_traverse still visits a
		// cleared frame's code, whose reference may be deferred, to keep
		// it alive.
		if L.StackRefTagBits >= 0 {
			if code := r.untag(r.ptrField(L.GenIFrame.Add(g), L.IFrameCode)); code != 0 {
				emit(code, fieldRef("f_code"), false)
			}
		}
		return
	}
	r.walkIFrame(L.GenIFrame.Add(g), labels, emit)
}
