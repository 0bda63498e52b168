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
	// Crash is where the crashed thread stopped (crash cores only).
	Crash    *CrashSite `json:"crash,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
}

// Thread is one Python thread.
type Thread struct {
	ThreadID       uint64   `json:"thread_id"`
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
	out := &Stacks{PythonVersion: rt.Version, Threads: []Thread{}}
	interps, err := rt.Interpreters()
	if err != nil && len(interps) == 0 {
		return nil, fmt.Errorf("read interpreters: %w", err)
	}
	if err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	mainID := rt.MainThreadID()
	for _, in := range interps {
		names := rt.ThreadNames(in)
		gil := rt.GILState(in)
		states, err := rt.ThreadStates(in)
		if err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("interpreter %d: %v", in.ID, err))
		}
		for _, ts := range states {
			out.Threads = append(out.Threads, buildThread(rt, ts, names, mainID, gil, opts))
		}
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
	for _, wmsg := range s.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", wmsg)
	}
	return nil
}

// WriteThreads renders the threads alone.
func (s *Stacks) WriteThreads(w io.Writer) {
	for _, th := range s.Threads {
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
		if len(tags) > 0 {
			fmt.Fprintf(w, " [%s]", strings.Join(tags, ", "))
		}
		fmt.Fprintln(w)
		if th.Exception != nil {
			fmt.Fprintf(w, "  handling %s\n", th.Exception.Repr)
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

func funcName(f Frame) string {
	if f.Qualname != nil && *f.Qualname != "" {
		return *f.Qualname
	}
	return f.Function
}
