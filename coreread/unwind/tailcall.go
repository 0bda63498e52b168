package unwind

import (
	"debug/dwarf"
	"sync"
)

// gdb shows the functions a frame's caller reached through tail calls
// (a jmp instead of a call: do_futex_wait jumps to
// __futex_abstimed_wait_cancelable64, which jumps on) as frames of their
// own, rebuilt from the DWARF call sites: the call at the caller's return
// address names a callee; if that is not the function below, a chain of
// tail-call sites from it must lead there. These are the same frames,
// found the same way.

// GNU extensions DWARF 4 producers use for call sites.
const (
	tagGNUCallSite  dwarf.Tag  = 0x4109
	attrGNUTailCall dwarf.Attr = 0x2115
)

// callSite is one call or tail call of a function's body.
type callSite struct {
	ret    uint64 // ELF address just after the call or jump
	tail   bool
	caller uint64 // entry of the function that makes the call
	// target is the callee's entry (ELF address) when its DWARF says, else
	// 0 and targetName names it for a symbol lookup.
	target     uint64
	targetName string
}

type unitCalls struct {
	byRet  map[uint64]callSite
	tailBy map[uint64][]callSite // by caller entry
}

type callIndex struct {
	mu    sync.Mutex
	units map[dwarf.Offset]*unitCalls
}

// maxCallDIEs bounds the entries read from one unit for its call sites.
const maxCallDIEs = 1 << 22

func (x *dwarfIndex) unitCalls(pc uint64) *unitCalls {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.built {
		x.build()
	}
	off, ok := x.unitAt(pc)
	if !ok {
		return nil
	}
	if x.calls == nil {
		x.calls = map[dwarf.Offset]*unitCalls{}
	}
	if uc, ok := x.calls[off]; ok {
		return uc
	}
	uc := &unitCalls{byRet: map[uint64]callSite{}, tailBy: map[uint64][]callSite{}}
	x.calls[off] = uc
	r := x.d.Reader()
	r.Seek(off)
	cu, err := r.Next()
	if err != nil || cu == nil || !cu.Children {
		return uc
	}
	n := 0
	x.walkCalls(r, uc, 0, 0, &n)
	return uc
}

func (x *dwarfIndex) walkCalls(r *dwarf.Reader, uc *unitCalls, fn uint64, depth int, n *int) {
	for ; *n < maxCallDIEs; *n++ {
		e, err := r.Next()
		if err != nil || e == nil || e.Tag == 0 {
			return
		}
		switch e.Tag {
		case dwarf.TagSubprogram:
			entry := fn
			if lo, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
				entry = lo
			} else if ranges, _ := x.d.Ranges(e); len(ranges) > 0 {
				entry = ranges[0][0]
			}
			if e.Children && depth < 64 {
				x.walkCalls(r, uc, entry, depth+1, n)
			}
			continue
		case dwarf.TagCallSite, tagGNUCallSite:
			cs := callSite{caller: fn}
			if ret, ok := e.Val(dwarf.AttrCallReturnPC).(uint64); ok {
				cs.ret = ret
			} else if lo, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
				cs.ret = lo
			}
			cs.tail = e.Val(dwarf.AttrCallTailCall) != nil || e.Val(attrGNUTailCall) != nil
			origin, ok := e.Val(dwarf.AttrCallOrigin).(dwarf.Offset)
			if !ok {
				origin, ok = e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			}
			if ok {
				cs.target, cs.targetName = x.entryOf(origin)
			}
			if cs.ret != 0 && fn != 0 {
				uc.byRet[cs.ret] = cs
				if cs.tail {
					uc.tailBy[fn] = append(uc.tailBy[fn], cs)
				}
			}
		}
		if e.Children {
			if e.Tag == dwarf.TagLexDwarfBlock || e.Tag == dwarf.TagInlinedSubroutine {
				if depth < 64 {
					x.walkCalls(r, uc, fn, depth+1, n)
				}
			} else {
				r.SkipChildren()
			}
		}
	}
}

// entryOf returns the entry of the function a call site names, or its
// name when the DWARF entry is a declaration or an abstract instance.
func (x *dwarfIndex) entryOf(off dwarf.Offset) (uint64, string) {
	return x.entryOfDepth(off, 0)
}

func (x *dwarfIndex) entryOfDepth(off dwarf.Offset, depth int) (uint64, string) {
	r := x.d.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil || e == nil {
		return 0, ""
	}
	if lo, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
		return lo, x.name(e, 0)
	}
	if ranges, _ := x.d.Ranges(e); len(ranges) > 0 {
		return ranges[0][0], x.name(e, 0)
	}
	if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); decl {
		return 0, x.name(e, 0) // defined elsewhere, perhaps another file
	}
	if _, inline := e.Val(dwarf.AttrInline).(int64); !inline && depth < 4 {
		// A link-time-optimised build's call names a subprogram that only
		// points at the early-debug entry (DW_AT_abstract_origin) of
		// the callee: Debian sid's python calls sem_wait so.
		for _, a := range []dwarf.Attr{dwarf.AttrAbstractOrigin, dwarf.AttrSpecification} {
			if o, ok := e.Val(a).(dwarf.Offset); ok {
				return x.entryOfDepth(o, depth+1)
			}
		}
	}
	// An abstract instance (inlined everywhere it is named): which copy
	// was called is unknown, and gdb then rebuilds no chain either.
	return 0, ""
}

// callSiteAt finds the call whose return address is ret (an ELF address).
func (x *dwarfIndex) callSiteAt(ret uint64) (callSite, bool) {
	uc := x.unitCalls(ret - 1)
	if uc == nil {
		return callSite{}, false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	cs, ok := uc.byRet[ret]
	return cs, ok
}

// tailCallsFrom lists the tail calls made by the function entered at entry.
func (x *dwarfIndex) tailCallsFrom(entry uint64) []callSite {
	uc := x.unitCalls(entry)
	if uc == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return uc.tailBy[entry]
}

// maxTailDepth and maxTailPaths bound the search for tail-call chains.
const (
	maxTailDepth = 8
	maxTailPaths = 16
)

// tailChain returns the run-time addresses of the tail-call sites between
// a caller that returns to ret and the callee entered at callee, innermost
// first; nil when the call went straight there or the chain is unknown or
// ambiguous.
func (u *Unwinder) tailChain(ret, callee uint64) []uint64 {
	m := u.moduleAt(ret - 1)
	if m == nil || m.dwarf == nil || callee == 0 {
		return nil
	}
	cs, ok := m.dwarf.callSiteAt(ret - m.bias)
	if !ok || cs.tail {
		return nil
	}
	start := u.resolveTarget(m, cs)
	if start == 0 || start == callee {
		return nil
	}
	var paths [][]uint64
	var walk func(fn uint64, sites []uint64, seen map[uint64]bool)
	walk = func(fn uint64, sites []uint64, seen map[uint64]bool) {
		if len(paths) > maxTailPaths || len(sites) > maxTailDepth || seen[fn] {
			return
		}
		if fn == callee {
			paths = append(paths, append([]uint64(nil), sites...))
			return
		}
		fm := u.moduleAt(fn)
		if fm == nil || fm.dwarf == nil {
			return
		}
		seen[fn] = true
		defer delete(seen, fn)
		for _, tc := range fm.dwarf.tailCallsFrom(fn - fm.bias) {
			if next := u.resolveTarget(fm, tc); next != 0 {
				walk(next, append(sites, tc.ret+fm.bias), seen)
			}
		}
	}
	walk(start, nil, map[uint64]bool{})
	if len(paths) == 0 || len(paths) > maxTailPaths {
		return nil
	}
	for _, p := range paths[1:] {
		if !equalAddrs(p, paths[0]) {
			return nil // gdb shows only what every chain shares; we show none
		}
	}
	chain := paths[0]
	out := make([]uint64, len(chain))
	for i, s := range chain {
		out[len(chain)-1-i] = s
	}
	return out
}

func equalAddrs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// resolveTarget returns the run-time entry of a call site's callee: from
// its DWARF, else by its name among the module's symbols, else among the
// global symbols of every other mapped file (a call through the PLT).
func (u *Unwinder) resolveTarget(m *module, cs callSite) uint64 {
	if cs.target != 0 {
		return cs.target + m.bias
	}
	if cs.targetName == "" {
		return 0
	}
	if a, ok := m.symbolNamed(cs.targetName, false); ok {
		return a + m.bias
	}
	for _, other := range u.loader.loaded() {
		if other == m || other.err != nil {
			continue
		}
		if a, ok := other.symbolNamed(cs.targetName, true); ok {
			return a + other.bias
		}
	}
	return 0
}
