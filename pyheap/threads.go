package pyheap

import (
	"fmt"
)

// Interp is one interpreter state.
type Interp struct {
	Addr     uint64
	ID       int64
	Modules  uint64 // sys.modules dict
	Sysdict  uint64
	Builtins uint64
	// Main marks the main interpreter (_PyRuntime.interpreters.main;
	// where the layout lacks it, the oldest interpreter).
	Main bool
}

// Interpreters lists the interpreters, main first.
func (r *Runtime) Interpreters() ([]Interp, error) {
	L := r.L
	var out []Interp
	seen := map[uint64]bool{}
	addr, err := r.m.ptr(L.RuntimeInterpretersHead.Add(r.Addr))
	if err != nil {
		return nil, fmt.Errorf("read interpreters.head: %w", err)
	}
	for addr != 0 && len(out) < maxInterps && !seen[addr] {
		seen[addr] = true
		in := Interp{Addr: addr}
		in.ID, _ = r.m.i64(L.InterpID.Add(addr))
		in.Modules, _ = r.m.ptr(L.InterpModules.Add(addr))
		in.Sysdict, _ = r.m.ptr(L.InterpSysdict.Add(addr))
		in.Builtins, _ = r.m.ptr(L.InterpBuiltins.Add(addr))
		out = append(out, in)
		if addr, err = r.m.ptr(L.InterpNext.Add(addr)); err != nil {
			return out, fmt.Errorf("read interpreter 0x%x next: %w", in.Addr, err)
		}
	}
	// interpreters.head is the newest; the main interpreter comes last.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		main := out[0].Addr
		if L.RuntimeInterpretersMain.Has() {
			if m, err := r.m.ptr(L.RuntimeInterpretersMain.Add(r.Addr)); err == nil && m != 0 {
				main = m
			}
		}
		for i := range out {
			out[i].Main = out[i].Addr == main
		}
	}
	return out, nil
}

// ThreadState is one Python thread state.
type ThreadState struct {
	Addr     uint64
	Interp   uint64
	ThreadID uint64 // threading.get_ident()
	NativeID int    // the LWP, 0 when unknown
}

// ThreadStates lists an interpreter's thread states, oldest first.
func (r *Runtime) ThreadStates(in Interp) ([]ThreadState, error) {
	L := r.L
	var out []ThreadState
	seen := map[uint64]bool{}
	ts, err := r.m.ptr(L.InterpTstateHead.Add(in.Addr))
	if err != nil {
		return nil, fmt.Errorf("interpreter 0x%x thread list: %w", in.Addr, err)
	}
	for ts != 0 {
		if seen[ts] || len(out) >= maxThreads {
			return reverseStates(out), fmt.Errorf("thread list loops or exceeds %d threads at 0x%x", maxThreads, ts)
		}
		seen[ts] = true
		// A thread state names its interpreter: a pointer that does not is
		// not a thread state (a corrupted list).
		if back, err := r.m.ptr(L.TstateInterp.Add(ts)); err != nil || back != in.Addr {
			return reverseStates(out), fmt.Errorf("0x%x in the thread list is not a thread state of interpreter 0x%x", ts, in.Addr)
		}
		t := ThreadState{Addr: ts, Interp: in.Addr}
		t.ThreadID, _ = r.m.u64(L.TstateThreadID.Add(ts))
		if L.TstateNativeThreadID.Has() {
			if n, err := r.m.i32(L.TstateNativeThreadID.Add(ts)); err == nil {
				t.NativeID = int(n)
			}
		}
		if t.NativeID == 0 {
			t.NativeID = r.lwpForPthread(t.ThreadID)
		}
		out = append(out, t)
		if ts, err = r.m.ptr(L.TstateNext.Add(ts)); err != nil {
			return reverseStates(out), fmt.Errorf("thread state 0x%x next: %w", t.Addr, err)
		}
	}
	return reverseStates(out), nil
}

// reverseStates puts a thread list (newest first) in the order the
// threads started.
func reverseStates(out []ThreadState) []ThreadState {
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// lwpForPthread maps a pthread_t to its LWP: on x86-64 glibc a thread's
// pthread_t is its thread pointer, the fs base in its registers.
func (r *Runtime) lwpForPthread(pt uint64) int {
	if pt == 0 {
		return 0
	}
	for _, th := range r.m.img.Threads() {
		if th.Regs.FSBase == pt {
			return th.TID
		}
	}
	return 0
}

// MainThreadID is the ident of the main thread (_PyRuntime.main_thread).
func (r *Runtime) MainThreadID() uint64 {
	v, _ := r.m.u64(r.L.RuntimeMainThread.Add(r.Addr))
	return v
}

// GIL says which thread state last held the GIL and whether it is held.
type GIL struct {
	Known      bool
	Locked     bool
	LastHolder uint64 // thread state address
}

// GILState reads the GIL, where this version records it.
func (r *Runtime) GILState(in Interp) GIL {
	L := r.L
	var holderAt, lockedAt uint64
	switch {
	case L.RuntimeGILLastHolder.Has():
		holderAt, lockedAt = L.RuntimeGILLastHolder.Add(r.Addr), L.RuntimeGILLocked.Add(r.Addr)
	case L.InterpGIL.Has():
		gil, err := r.m.ptr(L.InterpGIL.Add(in.Addr))
		if err != nil || gil == 0 {
			return GIL{}
		}
		holderAt, lockedAt = L.GILLastHolder.Add(gil), L.GILLocked.Add(gil)
	default:
		return GIL{}
	}
	holder, err1 := r.m.ptr(holderAt)
	locked, err2 := r.m.i32(lockedAt)
	if err1 != nil || err2 != nil {
		return GIL{}
	}
	return GIL{Known: true, Locked: locked != 0, LastHolder: holder}
}

// ThreadNames maps thread idents to names from threading._active and
// threading._limbo, read from the interpreter's sys.modules.
func (r *Runtime) ThreadNames(in Interp) map[uint64]string {
	names := map[uint64]string{}
	mod, ok := r.DictLookupStr(in.Modules, "threading")
	if !ok {
		return names
	}
	md, err := r.m.ptr(r.L.ModuleDict.Add(mod))
	if err != nil || md == 0 {
		return names
	}
	for _, table := range []string{"_active"} {
		active, ok := r.DictLookupStr(md, table)
		if !ok {
			continue
		}
		t, err := r.TypeOf(active)
		if err != nil || t.Kind != KindDict {
			continue
		}
		items, _, err := r.DictItems(active, maxThreads)
		if err != nil {
			continue
		}
		for _, it := range items {
			ident, err := r.Int64(it.Key)
			if err != nil {
				continue
			}
			if name, ok := r.instanceStrAttr(it.Value, "_name"); ok {
				names[uint64(ident)] = name
			}
		}
	}
	return names
}

// instanceStrAttr reads a str attribute of an instance.
func (r *Runtime) instanceStrAttr(obj uint64, name string) (string, bool) {
	t, err := r.TypeOf(obj)
	if err != nil {
		return "", false
	}
	attrs, _, err := r.Attributes(obj, t, 256)
	if err != nil {
		return "", false
	}
	for _, a := range attrs {
		if k, err := r.StrValue(a.Key); err == nil && k == name {
			if vt, err := r.TypeOf(a.Value); err == nil && vt.Kind == KindStr {
				if s, err := r.StrValue(a.Value); err == nil {
					return s, true
				}
			}
		}
	}
	return "", false
}

// HandledException returns the exception a thread is handling (what
// sys.exc_info() would say in that thread), or 0.
func (r *Runtime) HandledException(ts uint64) uint64 {
	L := r.L
	item, err := r.m.ptr(L.TstateExcInfo.Add(ts))
	for i := 0; err == nil && item != 0 && i < maxExcChain; i++ {
		v, err := r.m.ptr(L.ErrStackExcValue.Add(item))
		if err != nil {
			return 0
		}
		if v != 0 {
			if t, err := r.TypeOf(v); err == nil && t.Kind != KindNone {
				return v
			}
		}
		item, err = r.m.ptr(L.ErrStackPrevious.Add(item))
	}
	return 0
}
