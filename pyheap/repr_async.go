package pyheap

import (
	"fmt"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// asyncio's C Future and Task keep their state in FutureObj and TaskObj,
// private to _asynciomodule.c; their layouts come from the generated
// standard-library tables (stdlib_spec.go), and only when the type's
// tp_basicsize matches the table's struct (typeWalkOf checks it). A build
// without a fitting table keeps the plain <_asyncio.Task object at 0x...>.
//
// The fut_state enum is the same in every version: STATE_PENDING,
// STATE_CANCELLED, STATE_FINISHED, numbered from 0 (Modules/_asynciomodule.c
// 3.8-3.15). base_futures._future_repr_info lowercases their names.
var futStates = []string{"pending", "cancelled", "finished"}

const futFinished = 2

// futureRepr renders what asyncio's __repr__ shows (base_futures and
// base_tasks._task_repr_info): <Task STATE name='...' coro=<...>
// wait_for=<...> cb=[...]> and <Future STATE result=... cb=[...]>. A
// future created in debug mode ("created at ...") or a finished one whose
// result reprlib would abbreviate is left to the plain repr.
func (r *Runtime) futureRepr(addr uint64, t *Type, depth int) (string, bool) {
	tw := r.typeWalkOf(t)
	if tw.std == nil {
		return "", false
	}
	st := tw.std.st
	task := t.Name == "_asyncio.Task"
	pre := "fut_"
	if task {
		pre = "task_"
	}
	ref := func(name string) uint64 { return r.ptrField(addr, refOffset(st, pre+name)) }
	if !st.Offset(pre + "state").Has() {
		return "", false
	}
	state, err := r.m.i32(st.Offset(pre + "state").Add(addr))
	if err != nil || state < 0 || int(state) >= len(futStates) || ref("source_tb") != 0 {
		return "", false
	}
	info := []string{futStates[state]}
	if task && state == 0 && r.taskCancelling(addr, st) {
		info[0] = "cancelling"
	}
	if state == futFinished {
		if exc := ref("exception"); exc != 0 {
			info = append(info, "exception="+r.reprOf(exc, max(depth-1, 0)))
		} else {
			res, ok := r.shortResultRepr(ref("result"))
			if !ok {
				return "", false
			}
			info = append(info, "result="+res)
		}
	}
	if task {
		name, ok := r.taskName(ref("name"))
		if !ok {
			return "", false
		}
		extra := []string{"name=" + name}
		if coro := ref("coro"); coro != 0 {
			c, ok := r.coroutineRepr(coro)
			if !ok {
				return "", false
			}
			extra = append(extra, "coro=<"+c+">")
		}
		if w := ref("fut_waiter"); w != 0 {
			s := "..."
			if depth > 0 {
				s = r.reprOf(w, depth-1)
			}
			extra = append(extra, "wait_for="+s)
		}
		info = append(info[:1], append(extra, info[1:]...)...)
	}
	cbs, ok := r.futureCallbacks(ref("callback0"), ref("callbacks"))
	if !ok {
		return "", false
	}
	if cb := formatCallbacks(cbs, func(cb uint64) string { return r.callbackRepr(cb) }); cb != "" {
		info = append(info, cb)
	}
	return "<" + t.ShortName() + " " + strings.Join(info, " ") + ">", true
}

// refOffset is the offset of an object member of a generated layout.
func refOffset(st *layout.StdType, name string) layout.Offset {
	for _, m := range st.Refs {
		if m.Name == name {
			return m.Offset
		}
	}
	return layout.Missing
}

// taskCancelling is Task.cancelling() (3.11+: cancel requests counted) or
// _must_cancel (3.8-3.10). From 3.13 task_must_cancel is a bit-field, which
// the tables cannot place: it is read only where the count is absent.
func (r *Runtime) taskCancelling(addr uint64, st *layout.StdType) bool {
	off := st.Offset("task_num_cancels_requested")
	if !off.Has() {
		off = st.Offset("task_must_cancel")
	}
	if !off.Has() {
		return false
	}
	n, err := r.m.i32(off.Add(addr))
	return err == nil && n > 0
}

// taskName is repr(task.get_name()): a str, or from 3.13 the int N of the
// default name, formatted as "Task-N" only when asked for.
func (r *Runtime) taskName(p uint64) (string, bool) {
	t, err := r.TypeOf(p)
	if err != nil {
		return "", false
	}
	switch t.Kind {
	case KindStr:
		s, err := r.repr(p, t, 0)
		return s, err == nil
	case KindInt:
		s, err := r.IntRepr(p)
		return "'Task-" + s + "'", err == nil
	}
	return "", false
}

// shortResultRepr is reprlib.repr of a result, for the results it prints
// as repr() does (reprlib abbreviates long ints and strings, containers).
func (r *Runtime) shortResultRepr(p uint64) (string, bool) {
	t, err := r.TypeOf(p)
	if err != nil {
		return "", false
	}
	switch t.Kind {
	case KindNone, KindBool, KindInt, KindFloat:
		s, err := r.repr(p, t, 0)
		return s, err == nil && len(s) <= 40
	}
	return "", false
}

// futureCallbacks lists the callbacks: callback0, then the (callback,
// context) tuples of the callbacks list.
func (r *Runtime) futureCallbacks(cb0, list uint64) ([]uint64, bool) {
	var out []uint64
	if cb0 != 0 {
		out = append(out, cb0)
	}
	if list == 0 {
		return out, true
	}
	items, n, err := r.SeqItems(list, KindList, 1<<16)
	if err != nil || int64(len(items)) < n {
		return nil, false
	}
	for _, it := range items {
		pair, _, err := r.SeqItems(it, KindTuple, 2)
		if err != nil || len(pair) == 0 {
			return nil, false
		}
		out = append(out, pair[0])
	}
	return out, true
}

// formatCallbacks is base_futures._format_callbacks: one or two shown,
// more as first, <N more>, last.
func formatCallbacks(cbs []uint64, one func(uint64) string) string {
	switch n := len(cbs); {
	case n == 0:
		return ""
	case n == 1:
		return "cb=[" + one(cbs[0]) + "]"
	case n == 2:
		return "cb=[" + one(cbs[0]) + ", " + one(cbs[1]) + "]"
	default:
		return fmt.Sprintf("cb=[%s, <%d more>, %s]", one(cbs[0]), n-2, one(cbs[n-1]))
	}
}

// callbackRepr is format_helpers._format_callback_source(cb, ()): the
// callback's __qualname__ and "()", with " at FILE:LINE" for a function;
// repr(cb) and "()" for an object without a qualified name (3.8-3.10's
// TaskWakeupMethWrapper). pycoroner's repr stands in for objects it does
// not render as Python does (docs/limits.md).
func (r *Runtime) callbackRepr(cb uint64) string {
	t, err := r.TypeOf(cb)
	if err != nil {
		return r.reprOf(cb, 0) + "()"
	}
	switch {
	case t.Kind == KindFunction:
		q, err := r.strField(cb, r.L.FuncQualname)
		if err != nil {
			break
		}
		s := q + "()"
		if ci := r.code(r.ptrField(cb, r.L.FuncCode)); ci.err == nil {
			s += fmt.Sprintf(" at %s:%d", ci.filename, ci.firstLine)
		}
		return s
	case t.Name == "method":
		if q, err := r.strField(r.ptrField(cb, r.L.MethodFunc), r.L.FuncQualname); err == nil {
			return q + "()"
		}
	case t.Name == "builtin_function_or_method" || t.Name == "builtin_method":
		if q, ok := r.builtinQualname(cb); ok {
			return q + "()"
		}
	}
	return r.reprOf(cb, 0) + "()"
}

// builtinQualname is meth_get__qualname__: NAME for a function,
// TYPE.NAME for a method, TYPE being self's class (or self, a class).
func (r *Runtime) builtinQualname(addr uint64) (string, bool) {
	name, ok := r.builtinName(addr)
	if !ok {
		return "", false
	}
	self := r.ptrField(addr, r.L.CFunctionSelf)
	if self == 0 {
		return name, true
	}
	st, err := r.TypeOf(self)
	if err != nil {
		return "", false
	}
	if st.Kind == KindModule {
		return name, true
	}
	if st.Kind == KindType {
		if st, err = r.typeAt(self); err != nil {
			return "", false
		}
	}
	q := st.ShortName() // a static type's __qualname__
	if st.Heap(r) {
		if q, err = r.strField(st.Addr, r.L.HeapTypeQualname); err != nil {
			return "", false
		}
	}
	return q + "." + name, true
}

// coroutineRepr is coroutines._format_coroutine: QUALNAME() running at
// FILE:LINE while its frame lives (suspended counts as running), else
// QUALNAME() done, defined at FILE:FIRSTLINE.
func (r *Runtime) coroutineRepr(coro uint64) (string, bool) {
	t, err := r.TypeOf(coro)
	if err != nil {
		return "", false
	}
	switch t.Name {
	case "coroutine", "generator", "async_generator":
	default:
		return "", false
	}
	q, err := r.strField(coro, r.L.GenQualname)
	if err != nil {
		return "", false
	}
	ci, line, done, ok := r.genFrameLine(coro)
	if ok {
		return fmt.Sprintf("%s() running at %s:%d", q, ci.filename, line), true
	}
	if !done {
		return "", false
	}
	code := r.ptrField(coro, r.L.GenCode)
	if !r.L.GenCode.Has() { // 3.12+: the (cleared) frame keeps the code
		code = r.untag(r.ptrField(r.L.GenIFrame.Add(coro), r.L.IFrameCode))
	}
	if ci = r.code(code); ci.err != nil {
		return "", false
	}
	return fmt.Sprintf("%s() done, defined at %s:%d", q, ci.filename, ci.firstLine), true
}
