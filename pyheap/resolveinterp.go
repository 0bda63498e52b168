package pyheap

import (
	"fmt"
	"strconv"
	"strings"
)

// A module:attr expression is looked up in sys.modules, and every
// interpreter has its own: with subinterpreters the same name can give a
// different object in each. ResolveAll evaluates it in every interpreter
// so that the caller can say the name was ambiguous, and an expression
// ending in @N looks in interpreter N alone.

// InterpHit is an interpreter an expression resolves in, and the address
// it gives there.
type InterpHit struct {
	Interp int64
	Addr   uint64
}

// Resolution is where an expression led.
type Resolution struct {
	Addr uint64
	// Interp is the interpreter Addr was found through; meaningless for
	// an address (Hits is nil then).
	Interp int64
	// Hits are the interpreters the expression resolves in, main first:
	// Addr is the first one's, or the one @N picked (then the only one).
	Hits []InterpHit
}

// Ambiguous reports whether the interpreters the expression resolves in
// disagree on the object (one object reached from several, a static
// type say, is no ambiguity).
func (res Resolution) Ambiguous() bool {
	for _, h := range res.Hits {
		if h.Addr != res.Addr {
			return true
		}
	}
	return false
}

// AmbiguityWarning is the one line that says which interpreters an
// ambiguous expression resolves in, what each gives, which was used and
// how to pick another; "" when it is not ambiguous.
func (res Resolution) AmbiguityWarning(expr string) string {
	if !res.Ambiguous() {
		return ""
	}
	base := strings.TrimSpace(expr)
	var each []string
	other := res.Interp
	for _, h := range res.Hits {
		each = append(each, fmt.Sprintf("%s: 0x%x", InterpLabel(h.Interp), h.Addr))
		if h.Interp != res.Interp && other == res.Interp {
			other = h.Interp
		}
	}
	return fmt.Sprintf("%s names a different object in each of %d interpreters (%s); %s's is used (write %s@%d for %s's)",
		base, len(res.Hits), strings.Join(each, ", "), InterpLabel(res.Interp), base, other, InterpLabel(other))
}

// ResolveAll evaluates an expression: an address as is; a module
// expression in the interpreter @N names, or else in every interpreter,
// keeping the first (main first) where it resolves. When it resolves
// nowhere, the error is the first interpreter's that has the module (the
// step that failed there).
func (r *Runtime) ResolveAll(e Expr) (Resolution, error) {
	if e.Addr != 0 {
		return Resolution{Addr: e.Addr}, nil
	}
	interps, err := r.Interpreters()
	if len(interps) == 0 {
		return Resolution{}, fmt.Errorf("no interpreter to look %q up in: %v", e.Module, err)
	}
	if e.Interp != nil {
		in, err := pickInterp(interps, *e.Interp)
		if err != nil {
			return Resolution{}, err
		}
		mod, ok := r.DictLookupStr(in.Modules, e.Module)
		if !ok {
			return Resolution{}, r.notInInterp(e.Module, in.ID, interps)
		}
		addr, err := r.evalSteps(mod, e)
		if err != nil {
			return Resolution{}, fmt.Errorf("%s: %w", InterpLabel(in.ID), err)
		}
		return Resolution{Addr: addr, Interp: in.ID, Hits: []InterpHit{{in.ID, addr}}}, nil
	}
	var res Resolution
	var firstErr error
	found := false
	for _, in := range interps {
		mod, ok := r.DictLookupStr(in.Modules, e.Module)
		if !ok {
			continue
		}
		found = true
		addr, err := r.evalSteps(mod, e)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if len(res.Hits) == 0 {
			res.Addr, res.Interp = addr, in.ID
		}
		res.Hits = append(res.Hits, InterpHit{in.ID, addr})
	}
	switch {
	case len(res.Hits) > 0:
		return res, nil
	case !found:
		return res, fmt.Errorf("module %q is not in sys.modules", e.Module)
	}
	return res, firstErr
}

// pickInterp finds interpreter id, or says in one line which ids exist.
func pickInterp(interps []Interp, id int64) (Interp, error) {
	for _, in := range interps {
		if in.ID == id {
			return in, nil
		}
	}
	return Interp{}, fmt.Errorf("no interpreter %d in this process (its interpreters: %s)", id, interpIDs(interps, nil))
}

// notInInterp says that interpreter id's sys.modules lacks name, and
// which interpreters have it.
func (r *Runtime) notInInterp(name string, id int64, interps []Interp) error {
	has := interpIDs(interps, func(in Interp) bool {
		_, ok := r.DictLookupStr(in.Modules, name)
		return ok
	})
	if has == "" {
		return fmt.Errorf("module %q is not in sys.modules of any interpreter", name)
	}
	return fmt.Errorf("module %q is not in %s's sys.modules (interpreters that have it: %s)", name, InterpLabel(id), has)
}

// interpIDs lists the ids of the interpreters keep accepts (all: nil).
func interpIDs(interps []Interp, keep func(Interp) bool) string {
	var ids []string
	for _, in := range interps {
		if keep == nil || keep(in) {
			ids = append(ids, strconv.FormatInt(in.ID, 10))
		}
	}
	return strings.Join(ids, ", ")
}
