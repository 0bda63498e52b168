package pyheap

import (
	"errors"
	"fmt"
	"strings"
)

// TracebackEntry is one entry of an exception's traceback: where the
// exception passed through a frame, and that frame's locals as the frame
// object keeps them (a frame that returned keeps its own copy).
type TracebackEntry struct {
	Frame    uint64 // the frame object
	Function string
	Filename string
	Line     int // 0 when unknown
	Locals   []Local
	// LocalsAreGlobals is set for a module body, whose locals are its
	// module's globals.
	LocalsAreGlobals bool
	Err              error // what could not be read of this entry
}

// maxTraceback bounds a traceback walk: a chain read from a damaged core
// may be a cycle or garbage.
const maxTraceback = 1000

// Traceback lists the traceback of the exception at exc, outermost first
// as Python prints it (tb_next goes inward). cut is set when the chain
// went on past maxTraceback entries or into memory that is no traceback.
func (r *Runtime) Traceback(exc uint64) (entries []TracebackEntry, cut bool, err error) {
	L := r.L
	tb, err := r.m.ptr(L.ExcTraceback.Add(exc))
	if err != nil {
		return nil, false, fmt.Errorf("__traceback__ of 0x%x: %w", exc, err)
	}
	seen := map[uint64]bool{}
	for tb != 0 {
		if len(entries) == maxTraceback || seen[tb] {
			return entries, true, nil
		}
		seen[tb] = true
		t, err := r.TypeOf(tb)
		if err != nil || t.Name != "traceback" {
			return entries, true, nil
		}
		entries = append(entries, r.tracebackEntry(tb))
		if tb, err = r.m.ptr(L.TracebackNext.Add(tb)); err != nil {
			return entries, true, nil
		}
	}
	return entries, false, nil
}

// tracebackEntry reads one traceback object: its frame, and the line
// from tb_lineno, or from tb_lasti where the line is computed lazily
// (3.11+) — not the frame's own line, which has moved on in a frame that
// caught the exception and is still running.
func (r *Runtime) tracebackEntry(tb uint64) TracebackEntry {
	L := r.L
	e := TracebackEntry{Frame: r.ptrField(tb, L.TracebackFrame)}
	if e.Frame == 0 {
		e.Err = errors.New("no frame")
		return e
	}
	ci, locals, globals, err := r.frameObject(e.Frame)
	if err != nil {
		e.Err = err
		return e
	}
	e.Function, e.Filename, e.Locals, e.LocalsAreGlobals = ci.name, ci.filename, locals, globals
	if n, err := r.m.i32(L.TracebackLineno.Add(tb)); err == nil && n > 0 {
		e.Line = int(n)
	} else if lasti, err := r.m.i32(L.TracebackLasti.Add(tb)); err == nil && lasti >= 0 {
		e.Line = lineAt(L.Minor, ci, int(lasti))
	}
	return e
}

// frameObject reads a frame object's code and locals: in the object
// before 3.11, from 3.11 in the interpreter frame it points to (its own
// copy once the function returned).
func (r *Runtime) frameObject(f uint64) (ci *codeInfo, locals []Local, globals bool, err error) {
	L := r.L
	if L.FrameCode.Has() {
		ci := r.code(r.ptrField(f, L.FrameCode))
		if ci.err != nil {
			return nil, nil, false, ci.err
		}
		locals, _, err := r.frameLocals(L.FrameLocalsplus.Add(f), L.FrameLocalsDict.Add(f), ci)
		return ci, locals, r.sameDict(L.FrameLocalsDict, L.FrameGlobals, f), err
	}
	iframe := r.ptrField(f, L.FrameFrame)
	if iframe == 0 {
		return nil, nil, false, fmt.Errorf("frame object 0x%x has no frame", f)
	}
	if ci, err = r.iframeCode(iframe); err != nil {
		return nil, nil, false, err
	}
	locals, _, err = r.frameLocals(L.IFrameLocalsplus.Add(iframe), L.IFrameLocals.Add(iframe), ci)
	return ci, locals, r.sameDict(L.IFrameLocals, L.IFrameGlobals, iframe), err
}

// ChainLink is an exception in another's chain: the exception it was
// raised from (its __cause__, `raise ... from`) or while handling (its
// __context__, unless `from` suppressed it).
type ChainLink struct {
	Exc      uint64
	Relation string // "cause" or "context"
}

// maxChain bounds an exception chain walk.
const maxChain = 16

// ExceptionChain lists the exceptions before exc in its chain, nearest
// first, as Python prints them above it (oldest first, in reverse). cut is
// set when it goes on past maxChain.
func (r *Runtime) ExceptionChain(exc uint64) (out []ChainLink, cut bool) {
	L := r.L
	seen := map[uint64]bool{exc: true}
	for {
		if len(out) == maxChain {
			return out, r.ptrField(exc, L.ExcCause) != 0 || r.ptrField(exc, L.ExcContext) != 0
		}
		rel := "cause"
		next := r.ptrField(exc, L.ExcCause)
		if next == 0 {
			suppressed, err := r.m.u8(L.ExcSuppressContext.Add(exc))
			if err != nil || suppressed != 0 {
				break
			}
			rel, next = "context", r.ptrField(exc, L.ExcContext)
		}
		if next == 0 || seen[next] {
			break
		}
		if t, err := r.TypeOf(next); err != nil || t.Kind != KindException {
			break
		}
		seen[next] = true
		out = append(out, ChainLink{Exc: next, Relation: rel})
		exc = next
	}
	return out, false
}

// ExceptionLine is the last line Python prints of a traceback: the
// type's name and str(exc) when its args are one str ("ValueError: bad
// value"), the type's name alone when there are none, else "" (the
// caller shows the repr).
func (r *Runtime) ExceptionLine(exc uint64) string {
	t, err := r.TypeOf(exc)
	if err != nil {
		return ""
	}
	args := r.ptrField(exc, r.L.ExcArgs)
	if args == 0 {
		return ""
	}
	items, _, err := r.SeqItems(args, KindTuple, 2)
	if err != nil {
		return ""
	}
	// As traceback.py names the type: __main__ and builtins left out.
	name := strings.TrimPrefix(r.ClassName(t), "__main__.")
	switch len(items) {
	case 0:
		return name
	case 1:
		if s, err := r.StrValue(items[0]); err == nil {
			if s == "" {
				return name
			}
			return name + ": " + s
		}
	}
	return ""
}
