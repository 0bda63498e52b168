package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/coreread/unwind"
)

// evalLoopFunctions are the C functions that run Python frames: each
// native frame of one is replaced by the Python frames it was running.
var evalLoopFunctions = map[string]bool{
	"_PyEval_EvalFrameDefault": true,
}

// isEvalLoop reports whether a native frame runs Python frames: the
// evaluation loop itself, or the part of it the compiler split off
// (F.cold: Debian sid's profile-guided builds run nearly all of the loop
// there).
func isEvalLoop(function string) bool {
	return evalLoopFunctions[strings.TrimSuffix(function, unwind.ColdSuffix)]
}

// tailCallingOpcodePrefix names the opcode handlers of 3.14's
// tail-calling interpreter: frames of the evaluation loop call they are
// part of, shown as its Python frames too.
const tailCallingOpcodePrefix = "_TAIL_CALL_"

// CrashSite is where the crashed thread stopped, in info and stacks.
type CrashSite struct {
	NativeThreadID int    `json:"native_thread_id"`
	Signal         string `json:"signal"`
	PC             string `json:"pc"`
	Function       string `json:"function,omitempty"`
	Library        string `json:"library,omitempty"`
	// Instruction is the instruction at the pc (AT&T syntax): for a fault
	// the one that faulted; for a signal sent by a process (abort) the
	// one after the system call that raised it.
	Instruction string          `json:"instruction,omitempty"`
	Bytes       string          `json:"bytes,omitempty"`
	DecodeError string          `json:"decode_error,omitempty"`
	Registers   []CrashRegister `json:"registers,omitempty"`
	Address     string          `json:"fault_address,omitempty"`
	AddressIs   string          `json:"fault_address_is,omitempty"`
	// Interrupted is, for a crash inside a signal handler (faulthandler
	// raising the signal again), the frame the first signal interrupted:
	// where the fault really was. Its native_thread_id is the same.
	Interrupted *CrashSite `json:"interrupted,omitempty"`
}

// CrashRegister is a register the faulting instruction uses.
type CrashRegister struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// BuildCrashSite describes the crashed thread of a core, or returns nil
// for a core no crash produced (gcore, a live snapshot).
func BuildCrashSite(p *coreread.Process, u *unwind.Unwinder) *CrashSite {
	f, ok := unwind.AnalyzeFault(p, u)
	if !ok {
		return nil
	}
	c := crashSiteOf(f, u)
	if f.Interrupted != nil {
		c.Interrupted = crashSiteOf(*f.Interrupted, u)
	}
	return c
}

func crashSiteOf(f unwind.Fault, u *unwind.Unwinder) *CrashSite {
	c := &CrashSite{NativeThreadID: f.TID, Signal: unix.SignalName(syscall.Signal(f.Signal)), PC: hexAddr(f.PC),
		Instruction: f.Instruction, DecodeError: f.DecodeError, AddressIs: f.AddressIs}
	if len(f.Bytes) > 0 {
		c.Bytes = fmt.Sprintf("% x", f.Bytes)
	}
	for _, r := range f.Registers {
		c.Registers = append(c.Registers, CrashRegister{Name: r.Name, Value: hexAddr(r.Value)})
	}
	if f.HasAddress {
		c.Address = hexAddr(f.Address)
	}
	if f.Signal != 0 {
		c.Signal = unix.SignalName(syscall.Signal(f.Signal))
	} else {
		c.Signal = "unknown signal"
	}
	if u != nil {
		for _, fr := range u.Describe(f.PC) { // never panics: see Describe
			if !fr.Inlined {
				c.Function, c.Library = fr.Function, fr.Library
			}
		}
	}
	return c
}

// WriteText renders the crash site in a few lines.
func (c *CrashSite) WriteText(w io.Writer, indent string) {
	where := c.PC
	if c.Function != "" {
		where += " in " + c.Function
	}
	if c.Library != "" {
		where += " (" + c.Library + ")"
	}
	fmt.Fprintf(w, "%scrashed: thread %d, %s at %s\n", indent, c.NativeThreadID, c.Signal, where)
	c.writeInstruction(w, indent)
	if c.Address != "" {
		fmt.Fprintf(w, "%s  fault address: %s: %s\n", indent, c.Address, c.AddressIs)
	}
	if in := c.Interrupted; in != nil {
		fmt.Fprintf(w, "%s  inside a signal handler; the %s it handles was at:\n", indent, in.Signal)
		in.writeDetails(w, indent+"  ")
	}
}

// writeDetails renders an interrupted frame: where, the instruction, the
// address.
func (c *CrashSite) writeDetails(w io.Writer, indent string) {
	where := c.PC
	if c.Function != "" {
		where += " in " + c.Function
	}
	if c.Library != "" {
		where += " (" + c.Library + ")"
	}
	fmt.Fprintf(w, "%s%s\n", indent, where)
	c.writeInstruction(w, indent)
	if c.Address != "" {
		fmt.Fprintf(w, "%s  fault address: %s: %s\n", indent, c.Address, c.AddressIs)
	}
}

func (c *CrashSite) writeInstruction(w io.Writer, indent string) {
	switch {
	case c.Instruction != "":
		var regs []string
		for _, r := range c.Registers {
			regs = append(regs, r.Name+"="+r.Value)
		}
		label := "faulting instruction"
		if c.Address == "" {
			label = "next instruction" // a signal raised by a system call (abort, kill)
		}
		line := fmt.Sprintf("%s  %s: %s", indent, label, c.Instruction)
		if len(regs) > 0 {
			line += "   (" + strings.Join(regs, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	case c.DecodeError != "":
		fmt.Fprintf(w, "%s  instruction: unknown: %s\n", indent, c.DecodeError)
	}
}

// MarkCrashed sets Crashed on the thread the kernel dumped the core for.
func (s *Stacks) MarkCrashed(c *CrashSite) {
	if c == nil {
		return
	}
	s.Crash = c
	for i := range s.Threads {
		if n := s.Threads[i].NativeThreadID; n != nil && *n == c.NativeThreadID {
			s.Threads[i].Crashed = true
		}
	}
}

// MarkCrashedThread marks the thread the kernel dumped the core for,
// without the crash site: plain stacks do no unwinding, yet a user must
// see at once which thread crashed.
func (s *Stacks) MarkCrashedThread(p *coreread.Process) {
	t, ok := unwind.CrashedThread(p)
	if !ok {
		return
	}
	for i := range s.Threads {
		if n := s.Threads[i].NativeThreadID; n != nil && *n == t.TID {
			s.Threads[i].Crashed = true
		}
	}
}

// MergeNative puts each Python thread's native frames around its Python
// frames, as pystack does: every native frame of the evaluation loop is
// replaced by the Python frames that call of it ran. Threads with no
// Python thread state are added with their native frames alone.
func (s *Stacks) MergeNative(stacks []unwind.Stack) {
	byTID := map[int]unwind.Stack{}
	for _, st := range stacks {
		byTID[st.TID] = st
	}
	used := map[int]bool{}
	for i := range s.Threads {
		th := &s.Threads[i]
		if th.NativeThreadID == nil {
			th.Errors = append(th.Errors, "no native thread id: native frames not shown")
			continue
		}
		st, ok := byTID[*th.NativeThreadID]
		if !ok {
			th.Errors = append(th.Errors, fmt.Sprintf("native thread %d is not in the core: native frames not shown", *th.NativeThreadID))
			continue
		}
		used[st.TID] = true
		th.Frames, th.Errors = mergeFrames(th.Frames, st, th.Errors)
	}
	for _, st := range stacks {
		if used[st.TID] {
			continue
		}
		tid := st.TID
		th := Thread{NativeThreadID: &tid, Frames: []Frame{}, NativeOnly: true}
		th.Frames, th.Errors = mergeFrames(nil, st, nil)
		s.Threads = append(s.Threads, th)
	}
}

func mergeFrames(py []Frame, st unwind.Stack, errs []string) ([]Frame, []string) {
	out := []Frame{}
	next := 0
	for _, nf := range st.Frames {
		if strings.HasPrefix(nf.Function, tailCallingOpcodePrefix) && !nf.Inlined {
			continue // the _PyEval_EvalFrameDefault below stands for it
		}
		if isEvalLoop(nf.Function) && !nf.Inlined && next < len(py) {
			for next < len(py) {
				f := py[next]
				next++
				out = append(out, f)
				if f.entry {
					break
				}
			}
			continue
		}
		out = append(out, nativeFrame(nf))
	}
	if !st.Complete {
		errs = append(errs, "native stack incomplete: "+st.Note)
	}
	if next < len(py) {
		errs = append(errs, fmt.Sprintf("%d Python frame(s) not matched to a native evaluation-loop frame, shown last", len(py)-next))
		out = append(out, py[next:]...)
	}
	return out, errs
}

func nativeFrame(nf unwind.Frame) Frame {
	f := Frame{Kind: "native", Function: nf.Function, native: &NativeFrame{PC: hexAddr(nf.PC), Library: nf.Library,
		File: nf.File, Line: nf.Line, Inlined: nf.Inlined, TailCall: nf.TailCall, SignalFrame: nf.SignalFrame,
		ColdPart: nf.ColdPart}}
	if nf.Library != "" {
		f.native.Offset = hexAddr(nf.Offset)
	}
	return f
}

// NativeFrame is the JSON shape of a native frame ("kind": "native").
type NativeFrame struct {
	Kind     string `json:"kind"`
	PC       string `json:"pc"`
	Function string `json:"function"`
	Library  string `json:"library"`
	// Offset is the pc as an address of Library's ELF file (addr2line -e).
	Offset  string `json:"offset,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Inlined bool   `json:"inlined,omitempty"`
	// TailCall marks a function that jumped to the frame below (gdb's
	// tail-call frames); PC is then the address after its jump.
	TailCall bool `json:"tail_call,omitempty"`
	// SignalFrame marks the kernel's signal trampoline (gdb: "<signal
	// handler called>"): below it the handler, above it the frame the
	// signal interrupted.
	SignalFrame bool `json:"signal_frame,omitempty"`
	// ColdPart marks code no symbol covers, named (F.cold) as the part
	// the compiler split off the function F: its jumps go into F's body
	// and F's into it.
	ColdPart bool `json:"cold_part,omitempty"`
}

// MarshalJSON writes a native frame in its own shape and a Python frame
// exactly as before native frames existed.
func (f Frame) MarshalJSON() ([]byte, error) {
	var v any
	if f.native != nil {
		n := *f.native
		n.Kind, n.Function = f.Kind, f.Function
		v = n
	} else {
		type plain Frame
		v = plain(f)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as WriteJSON: "<module>" stays readable
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// writeNativeFrame renders one native frame like gdb's bt.
func writeNativeFrame(w io.Writer, f Frame) {
	n := f.native
	name := f.Function
	if name == "" {
		name = "??"
	}
	if n.SignalFrame {
		name = "<signal handler called> " + name
	}
	where := ""
	if n.Library != "" {
		where = fmt.Sprintf(" (%s+%s)", shortLib(n.Library), n.Offset)
	}
	if n.File != "" {
		where += fmt.Sprintf(" at %s:%d", n.File, n.Line)
	}
	if n.TailCall {
		where += " (tail call)"
	}
	if n.ColdPart {
		where += " (no symbol: named by its jumps)"
	}
	if n.Inlined {
		fmt.Fprintf(w, "  [C] %18s %s%s (inlined)\n", "", name, where)
		return
	}
	fmt.Fprintf(w, "  [C] %18s %s%s\n", n.PC, name, where)
}

func shortLib(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}
