package reports

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap"
)

// Stacks is every Python thread's stack. Its JSON shape is documented in
// docs/json.md and read by tests and other tools: keep it stable.
type Stacks struct {
	PythonVersion string   `json:"python_version"`
	Threads       []Thread `json:"threads"`
	// Interpreters lists the interpreters, main first; each thread's
	// Interpreter names one of them. Threads come grouped in this order.
	Interpreters []Interpreter `json:"interpreters"`
	// Crash is where the crashed thread stopped (crash cores only).
	Crash *CrashSite `json:"crash,omitempty"`
	// Complete is false when part of the answer could not be read: a
	// frame, a thread's frame chain or native stack, a list of threads or
	// interpreters. Set by Check, which every caller runs before printing:
	// a script must not take a stack with holes for the whole stack.
	Complete bool     `json:"complete"`
	Warnings []string `json:"warnings"`

	// lists are the errors that cut a list of interpreters or of
	// threads short (also among Warnings).
	lists []string
}

// Interpreter is one interpreter of the process.
type Interpreter struct {
	ID      int64  `json:"id"`
	Address string `json:"address"`
	IsMain  bool   `json:"is_main"`
	Threads int    `json:"threads"` // how many of Threads are its own
}

// Thread is one Python thread.
type Thread struct {
	ThreadID uint64 `json:"thread_id"`
	// Interpreter is the id of the interpreter the thread state belongs
	// to; nil for a native-only thread. An OS thread that entered a
	// subinterpreter has a thread state in each: it is listed once per
	// interpreter, with one thread_id.
	Interpreter    *int64   `json:"interpreter"`
	NativeThreadID *int     `json:"native_thread_id"`
	Name           *string  `json:"name"`
	IsMain         bool     `json:"is_main"`
	HoldsGIL       bool     `json:"holds_gil"`
	Frames         []Frame  `json:"frames"`
	Exception      *Value   `json:"exception"`
	Errors         []string `json:"errors,omitempty"`
	// Crashed marks the thread the kernel dumped the core for.
	Crashed bool `json:"crashed,omitempty"`
	// NativeOnly marks a thread with no Python thread state (--native).
	NativeOnly bool `json:"native_only,omitempty"`
}

// Frame is one Python frame, innermost first.
type Frame struct {
	Kind     string           `json:"kind"`
	Function string           `json:"function"`
	Qualname *string          `json:"qualname"`
	Filename string           `json:"filename"`
	Line     int              `json:"line"`
	Source   string           `json:"source,omitempty"`
	Locals   map[string]Value `json:"locals,omitempty"`
	// HiddenGlobals counts the module globals a module body's frame holds
	// as its locals, left out of Locals unless --globals asks for them.
	HiddenGlobals int    `json:"hidden_globals,omitempty"`
	Error         string `json:"error,omitempty"`

	localOrder []string
	entry      bool         // the outermost frame of one evaluation-loop call
	native     *NativeFrame // set for "kind": "native"
}

// Value is a short description of one object.
type Value struct {
	Type      string `json:"type"`
	Address   string `json:"address"`
	Repr      string `json:"repr"`
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
}

// StacksOptions choose what a stacks report includes.
type StacksOptions struct {
	Locals bool
	// Globals lists a module body's locals, which are its module's
	// globals; without it they are counted, not listed.
	Globals bool
	// Source reads source lines from the files named by the code objects.
	Source *SourceCache
}

// ValueOf turns a decoded object into its report shape.
func ValueOf(v pyheap.Value) Value { return valueOf(v) }

func valueOf(v pyheap.Value) Value {
	out := Value{Type: v.Type, Address: hexAddr(v.Address), Repr: v.Repr, Truncated: v.Truncated}
	if v.Err != nil {
		out.Error = v.Err.Error()
	}
	return out
}

// BuildStacks walks every interpreter's threads.
func BuildStacks(rt *pyheap.Runtime, opts StacksOptions) (*Stacks, error) {
	out := &Stacks{PythonVersion: rt.Version, Threads: []Thread{}, Interpreters: []Interpreter{}}
	interps, err := rt.Interpreters()
	if err != nil && len(interps) == 0 {
		return nil, fmt.Errorf("read interpreters: %w", err)
	}
	if err != nil {
		out.Warnings = append(out.Warnings, err.Error())
		out.lists = append(out.lists, err.Error())
	}
	mainID := rt.MainThreadID()
	for _, in := range interps {
		names := rt.ThreadNames(in)
		gil := rt.GILState(in)
		states, err := rt.ThreadStates(in)
		if err != nil {
			msg := fmt.Sprintf("interpreter %d: %v", in.ID, err)
			out.Warnings = append(out.Warnings, msg)
			out.lists = append(out.lists, msg)
		}
		for _, ts := range states {
			th := buildThread(rt, ts, names, mainID, gil, opts)
			id := in.ID
			th.Interpreter = &id
			out.Threads = append(out.Threads, th)
		}
		out.Interpreters = append(out.Interpreters, Interpreter{ID: in.ID, Address: hexAddr(in.Addr), IsMain: in.Main, Threads: len(states)})
	}
	out.Warnings = append(out.Warnings, rt.Warnings()...)
	return out, nil
}

func buildThread(rt *pyheap.Runtime, ts pyheap.ThreadState, names map[uint64]string, mainID uint64, gil pyheap.GIL, opts StacksOptions) Thread {
	th := Thread{ThreadID: ts.ThreadID, IsMain: ts.ThreadID == mainID, Frames: []Frame{},
		HoldsGIL: gil.Known && gil.Locked && gil.LastHolder == ts.Addr}
	if ts.NativeID != 0 {
		n := ts.NativeID
		th.NativeThreadID = &n
	}
	if name, ok := names[ts.ThreadID]; ok {
		th.Name = &name
	}
	frames, err := rt.Frames(ts)
	if err != nil {
		th.Errors = append(th.Errors, err.Error())
	}
	for _, f := range frames {
		fr := Frame{Kind: "python", Function: f.Function, Filename: f.Filename, Line: f.Line, entry: f.Entry}
		if f.Qualname != "" {
			q := f.Qualname
			fr.Qualname = &q
		}
		if f.Err != nil {
			fr.Error = f.Err.Error()
		}
		if opts.Source != nil && f.Line > 0 {
			fr.Source = opts.Source.Line(f.Filename, f.Line)
		}
		if opts.Locals && f.LocalsAreGlobals && !opts.Globals {
			fr.HiddenGlobals = len(f.Locals)
		} else if opts.Locals {
			fr.Locals = map[string]Value{}
			for _, l := range f.Locals {
				fr.Locals[l.Name] = valueOf(rt.Describe(l.Value))
				fr.localOrder = append(fr.localOrder, l.Name)
			}
		}
		th.Frames = append(th.Frames, fr)
	}
	if exc := rt.HandledException(ts.Addr); exc != 0 {
		v := valueOf(rt.Describe(exc))
		th.Exception = &v
	}
	return th
}

// WriteText renders stacks for people, innermost frame first, like py-spy
// and pystack.
func (s *Stacks) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Python %s, %d thread(s)\n", s.PythonVersion, len(s.Threads))
	if s.Crash != nil {
		s.Crash.WriteText(w, "")
	}
	s.WriteThreads(w)
	return nil // the warnings go to stderr, as every command's (cmd/pycoroner)
}

// WriteThreads renders the threads alone; with more than one interpreter,
// under a heading per interpreter.
func (s *Stacks) WriteThreads(w io.Writer) {
	grouped := len(s.Interpreters) > 1
	// interpsOf lists the interpreters an OS thread has a state in.
	interpsOf := map[uint64][]int64{}
	if grouped {
		for _, th := range s.Threads {
			if th.Interpreter != nil {
				interpsOf[th.ThreadID] = append(interpsOf[th.ThreadID], *th.Interpreter)
			}
		}
	}
	var group *int64
	for i, th := range s.Threads {
		if grouped && th.Interpreter != nil && (i == 0 || group == nil || *group != *th.Interpreter) {
			group = th.Interpreter
			s.writeInterpHeading(w, *group)
		} else if grouped && th.Interpreter == nil && group != nil {
			group = nil
			fmt.Fprintf(w, "\n== threads with no Python thread state\n")
		}
		fmt.Fprintln(w)
		if th.NativeOnly {
			fmt.Fprintf(w, "Native thread %d (no Python thread state)", *th.NativeThreadID)
		} else {
			fmt.Fprintf(w, "Thread %d", th.ThreadID)
		}
		if th.NativeThreadID != nil && !th.NativeOnly {
			fmt.Fprintf(w, " (native %d)", *th.NativeThreadID)
		}
		if th.Name != nil {
			fmt.Fprintf(w, " %q", *th.Name)
		}
		var tags []string
		if th.IsMain {
			tags = append(tags, "main")
		}
		if th.HoldsGIL {
			tags = append(tags, "holds the GIL")
		}
		if th.Crashed {
			tags = append(tags, "crashed")
		}
		if th.Interpreter != nil {
			for _, other := range interpsOf[th.ThreadID] {
				if other != *th.Interpreter {
					tags = append(tags, "also in "+pyheap.InterpLabel(other))
				}
			}
		}
		if len(tags) > 0 {
			fmt.Fprintf(w, " [%s]", strings.Join(tags, ", "))
		}
		fmt.Fprintln(w)
		if th.Exception != nil {
			fmt.Fprintf(w, "  handling %s at %s (show it for its traceback)\n", th.Exception.Repr, th.Exception.Address)
		}
		for _, f := range th.Frames {
			if f.native != nil {
				writeNativeFrame(w, f)
				continue
			}
			if f.Filename == "" && f.Function == "" {
				fmt.Fprintf(w, "  <unreadable frame>\n")
			} else {
				fmt.Fprintf(w, "  %s:%d in %s\n", f.Filename, f.Line, funcName(f))
			}
			if f.Source != "" {
				fmt.Fprintf(w, "      %s\n", f.Source)
			}
			if f.Error != "" {
				fmt.Fprintf(w, "      ! %s\n", f.Error)
			}
			if f.HiddenGlobals > 0 {
				fmt.Fprintf(w, "        (%d module globals not listed: --globals lists them)\n", f.HiddenGlobals)
			}
			order := f.localOrder
			if len(order) == 0 && len(f.Locals) > 0 {
				for k := range f.Locals {
					order = append(order, k)
				}
				sort.Strings(order)
			}
			for _, name := range order {
				v := f.Locals[name]
				fmt.Fprintf(w, "        %s = %s  (%s)\n", name, v.Repr, v.Type)
			}
		}
		if len(th.Frames) == 0 {
			fmt.Fprintln(w, "  (no Python frames)")
		}
		for _, e := range th.Errors {
			fmt.Fprintf(w, "  ! %s\n", e)
		}
	}
}

// writeInterpHeading starts the threads of one interpreter.
func (s *Stacks) writeInterpHeading(w io.Writer, id int64) {
	for _, in := range s.Interpreters {
		if in.ID != id {
			continue
		}
		main := ""
		if in.IsMain {
			main = " (main)"
		}
		fmt.Fprintf(w, "\n== %s%s at %s, %d thread(s)\n", pyheap.InterpLabel(in.ID), main, in.Address, in.Threads)
		return
	}
	fmt.Fprintf(w, "\n== %s\n", pyheap.InterpLabel(id))
}

func funcName(f Frame) string {
	if f.Qualname != nil && *f.Qualname != "" {
		return *f.Qualname
	}
	return f.Function
}
