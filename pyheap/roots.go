package pyheap

import (
	"fmt"
	"path/filepath"

	"github.com/pycoroner/pycoroner/pyheap/census"
)

// The kinds of named roots a CPython process has.
const (
	RootModule     RootKind = "module"      // sys.modules['name']
	RootSys        RootKind = "sys"         // the interpreter's sys dict
	RootBuiltins   RootKind = "builtins"    // the interpreter's builtins dict
	RootLocal      RootKind = "local"       // a local variable of a thread's frame
	RootException  RootKind = "exception"   // the exception a thread is handling
	RootThreadDict RootKind = "thread-dict" // threading.local storage of a thread
	RootInterned   RootKind = "interned"    // the interpreter's dict of interned strings (sys.intern)
)

// RootKind and Root are the census's: the census carries the roots, the
// model names them.
type (
	RootKind = census.RootKind
	Root     = census.Root
)

// roots lists the named roots of every interpreter, and the interpreter
// frames (3.11+) on every thread's stack: those are not objects, so the
// census walks them as roots.
func (r *Runtime) roots(interps []Interp) (out []Root, iframes []uint64) {
	interned := map[uint64]bool{}
	moduleDicts := map[uint64]bool{}
	for _, in := range interps {
		// A subinterpreter's roots say whose they are: each interpreter
		// has its own sys.modules (the same names, other objects). The
		// main interpreter's keep the names they always had.
		prefix := ""
		if !in.Main {
			prefix = InterpLabel(in.ID) + " › "
		}
		first := len(out)
		out = append(out, Root{Kind: RootSys, Name: prefix + "sys", Addr: in.Sysdict}, Root{Kind: RootBuiltins, Name: prefix + "builtins", Addr: in.Builtins})
		// Subinterpreters that share the main one's allocator share its
		// interned strings too: one root per dict.
		if d := r.internedStrings(in); d != 0 && !interned[d] {
			interned[d] = true
			out = append(out, Root{Kind: RootInterned, Name: prefix + "interned strings", Addr: d})
		}
		if items, _, err := r.DictItems(in.Modules, maxDictEntries); err == nil {
			for _, it := range items {
				name, err := r.StrValue(it.Key)
				if err != nil {
					continue
				}
				out = append(out, Root{Kind: RootModule, Name: fmt.Sprintf("%ssys.modules[%q]", prefix, name), Addr: it.Value, Local: name})
				if d := r.ptrField(it.Value, r.L.ModuleDict); d != 0 {
					moduleDicts[d] = true
				}
			}
		}
		names := r.ThreadNames(in)
		states, _ := r.ThreadStates(in)
		for _, ts := range states {
			thread := prefix + fmt.Sprintf("thread %d", ts.ThreadID)
			tname := names[ts.ThreadID]
			if tname != "" {
				thread += " (" + tname + ")"
			}
			if exc := r.HandledException(ts.Addr); exc != 0 {
				out = append(out, Root{Kind: RootException, Name: thread + " › exception being handled", Addr: exc, ThreadID: ts.ThreadID, ThreadName: tname})
			}
			if d := r.ptrField(ts.Addr, r.L.TstateDict); d != 0 {
				out = append(out, Root{Kind: RootThreadDict, Name: thread + " › thread state dict", Addr: d, ThreadID: ts.ThreadID, ThreadName: tname})
			}
			frames, _ := r.Frames(ts)
			for _, f := range frames {
				if r.L.HasInterpreterFrames() { // 3.11+; before, frames are GC objects
					iframes = append(iframes, f.Addr)
				}
				if f.LocalsAreGlobals && moduleDicts[f.Namespace] {
					// A module body's "locals" are the globals of a module
					// in sys.modules: named as its globals, they read as
					// leaks and refs read them, not as locals of a frame.
					continue
				}
				where := fmt.Sprintf("%s › frame %s (%s:%d)", thread, f.Function, filepath.Base(f.Filename), f.Line)
				for _, l := range f.Locals {
					out = append(out, Root{Kind: RootLocal, Name: where + " › local " + l.Name, Addr: l.Value,
						ThreadID: ts.ThreadID, ThreadName: tname, Function: f.Function, Filename: f.Filename, Line: f.Line, Local: l.Name})
				}
			}
		}
		for k := first; k < len(out); k++ {
			out[k].Interp = in.ID
		}
	}
	return out, iframes
}

// internedStrings is the dict of in's interned strings, or 0 when it
// cannot be found: no GC list holds it (a dict of strs is not tracked), so
// without this root it would look like a leak nothing holds. Where it
// lives depends on the version (layout.RuntimeInternedStrings); a pointer
// that is not a dict (3.13's runtime field is a C hash table of the
// static strings) is not it.
func (r *Runtime) internedStrings(in Interp) uint64 {
	isDict := func(addr uint64) bool {
		t, err := r.TypeOf(addr)
		return err == nil && t.Kind == KindDict
	}
	if d, err := r.m.ptr(r.L.InterpInternedStrings.Add(in.Addr)); err == nil && d != 0 && isDict(d) {
		return d
	}
	if !in.Main {
		return 0
	}
	if d, err := r.m.ptr(r.L.RuntimeInternedStrings.Add(r.Addr)); err == nil && d != 0 && isDict(d) {
		return d
	}
	if r.static.internedVar != 0 {
		if d, err := r.m.ptr(r.static.internedVar); err == nil && d != 0 && isDict(d) {
			return d
		}
	}
	return 0
}

// InterpLabel names an interpreter in roots and reports: "interpreter 2".
func InterpLabel(id int64) string { return fmt.Sprintf("interpreter %d", id) }

// FrameKey names a frame as a local root does: its interpreter, thread,
// function, file and line.
type FrameKey struct {
	Interp   int64
	ThreadID uint64
	Function string
	Filename string
	Line     int
}

// FrameKeyOf is the frame a local root belongs to.
func FrameKeyOf(r Root) FrameKey {
	return FrameKey{Interp: r.Interp, ThreadID: r.ThreadID, Function: r.Function, Filename: r.Filename, Line: r.Line}
}

// NamespaceFrames maps each frame whose locals are the entries of a
// namespace dict (a module or class body running) to that dict. Local
// roots do not record it, as the saved index would need a new format for
// it: refs reads the frames again, only for an object a local names.
func (r *Runtime) NamespaceFrames() map[FrameKey]uint64 {
	out := map[FrameKey]uint64{}
	interps, _ := r.Interpreters()
	for _, in := range interps {
		states, _ := r.ThreadStates(in)
		for _, ts := range states {
			frames, _ := r.Frames(ts)
			for _, f := range frames {
				if f.Namespace != 0 {
					out[FrameKey{Interp: in.ID, ThreadID: ts.ThreadID, Function: f.Function, Filename: f.Filename, Line: f.Line}] = f.Namespace
				}
			}
		}
	}
	return out
}
