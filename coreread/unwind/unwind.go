package unwind

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/internal/elfdwarf"
)

// Image is what the unwinder needs of a process image; *coreread.Process
// provides it.
type Image interface {
	ReadAt(b []byte, addr uint64) (int, error)
	Threads() []coreread.Thread
	Files() []coreread.FileInfo
	Mappings() []coreread.Mapping
	Segments() []coreread.Segment
}

// Options says where the files behind the image are.
type Options struct {
	// Sysroot is prepended to debug-file paths (/usr/lib/debug/...); the
	// image's own files are already resolved by coreread.
	Sysroot string
	// DWARF says where the inflated DWARF of compressed debug files is
	// kept between runs (its Label is set per file); a nil Cache keeps
	// nothing.
	DWARF elfdwarf.Cached
}

// Frame is one native frame, innermost first. A function inlined into
// another is a frame of its own at the same PC, as gdb shows it.
type Frame struct {
	// PC is the address gdb prints: the instruction pointer for the
	// innermost frame, the return address for its callers.
	PC uint64
	// CFA is the canonical frame address (the caller's stack pointer
	// before the call); 0 when unknown.
	CFA uint64
	// SP is the stack pointer in this frame.
	SP       uint64
	Function string // "" when nothing names the address
	Inlined  bool   // a function inlined at PC into the next frame's function
	// SignalFrame marks the kernel's signal trampoline (gdb's "<signal
	// handler called>"): the frame below it is the handler, the frame
	// above it was interrupted by the signal, at exactly its PC.
	SignalFrame bool
	// TailCall marks a function that left through a jump (a tail call) to
	// the frame below: no stack frame of its own remains, and it is
	// rebuilt from DWARF call sites, as gdb does.
	TailCall bool
	// ColdPart marks code no symbol covers that is the part of a function
	// the compiler split off it (Function is then that function's name
	// and ".cold"), known by its jumps into the function's body and the
	// function's into it (see coldPartAt).
	ColdPart bool
	Library  string // path of the mapped file holding PC, as the core names it
	// Offset is PC as an address of Library's ELF file (for addr2line).
	Offset uint64
	File   string // source file, when DWARF line info is present
	Line   int
	// How says how this frame's caller was found: "cfi", "frame-pointer",
	// "return-address" (a call to an unmapped address) or "" (innermost).
	How string
}

// Stack is one thread's native stack.
type Stack struct {
	TID    int
	Frames []Frame
	// Complete is true when the unwind reached the outermost frame (a
	// function whose CFI marks the return address undefined, or a zero
	// return address).
	Complete bool
	// Note says why the unwind stopped early when it is not Complete.
	Note string
	// Interrupted is the innermost frame a signal interrupted, when the
	// thread was running a signal handler (faulthandler's, say).
	Interrupted *Interrupted
}

// Interrupted is where a signal found a thread, from the signal frame the
// kernel pushed: the registers then, and the signal's siginfo.
type Interrupted struct {
	PC   uint64
	Regs coreread.Registers
	// Signo, Code and Addr are the fault as the kernel's signal frame
	// records it (the trap: a page fault is SIGSEGV at CR2); Signo is 0
	// when it was no fault (a signal sent by a process).
	Signo, Code int
	Addr        uint64
}

// Unwinder unwinds the threads of one image; its caches are shared by
// every thread. It is not safe for concurrent use.
type Unwinder struct {
	img    Image
	loader *loader
	maps   []coreread.Mapping
	segs   []coreread.Segment
}

// New prepares an unwinder for img.
func New(img Image, opts Options) *Unwinder {
	maps := append([]coreread.Mapping(nil), img.Mappings()...)
	sort.Slice(maps, func(i, j int) bool { return maps[i].Start < maps[j].Start })
	return &Unwinder{img: img, loader: newLoader(img.Files(), opts.Sysroot, opts.DWARF), maps: maps, segs: img.Segments()}
}

// maxFrames bounds one thread's unwind (physical frames).
const maxFrames = 1024

// maxFrameSize bounds how far one frame's CFA may be above its SP: a wild
// value means the stack is corrupt.
const maxFrameSize = 64 << 20

// DWARF register numbers of x86-64 (System V ABI, figure 3.36).
const (
	regRAX = iota
	regRDX
	regRCX
	regRBX
	regRSI
	regRDI
	regRBP
	regRSP
	regR8
	regR9
	regR10
	regR11
	regR12
	regR13
	regR14
	regR15
	regRIP
	numRegs
)

type regs struct {
	v  [numRegs]uint64
	ok [numRegs]bool
}

func fromCore(r coreread.Registers) regs {
	var out regs
	out.v = [numRegs]uint64{r.RAX, r.RDX, r.RCX, r.RBX, r.RSI, r.RDI, r.RBP, r.RSP,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15, r.RIP}
	for i := range out.ok {
		out.ok[i] = true
	}
	return out
}

// All unwinds every thread of the image, in the core's thread order.
func (u *Unwinder) All() []Stack {
	var out []Stack
	for _, t := range u.img.Threads() {
		out = append(out, u.Thread(t))
	}
	return out
}

// Thread unwinds one thread from its registers.
func (u *Unwinder) Thread(t coreread.Thread) (st Stack) {
	st = Stack{TID: t.TID}
	defer func() {
		// debug/dwarf and the CFI parser read files that may be hostile:
		// a panic ends this thread's unwind with a note, not the program.
		if r := recover(); r != nil {
			st.Complete, st.Note = false, fmt.Sprintf("malformed debug information (%v)", r)
		}
	}()
	r := fromCore(t.Regs)
	how := ""
	for n := 0; ; n++ {
		if n >= maxFrames {
			st.Note = fmt.Sprintf("stopped after %d frames", maxFrames)
			return st
		}
		pc := r.v[regRIP]
		// A caller's return address is one past its call: name and unwind
		// by the call instruction itself.
		// The frame a signal interrupted was not calling: its pc is exact.
		lookup := pc
		if n > 0 && how != "signal" {
			lookup = pc - 1
		}
		frames := u.describe(pc, lookup, r.v[regRSP], how)
		st.Frames = append(st.Frames, frames...)
		next, kind, done, err := u.step(r, lookup, n == 0)
		if kind == "signal" && len(frames) > 0 {
			f := &st.Frames[len(st.Frames)-1]
			f.SignalFrame = true
			// The trampoline is entered, not called: name it by its pc.
			if exact := u.describe(pc, pc, 0, ""); f.Function == "" && len(exact) > 0 {
				f.Function = exact[len(exact)-1].Function
			}
			if st.Interrupted == nil {
				st.Interrupted = u.interrupted(r.v[regRSP], next)
			}
		}
		if done {
			st.Complete = true
			return st
		}
		if err != nil {
			st.Note = err.Error()
			return st
		}
		if cfa := next.v[regRSP]; len(st.Frames) > 0 {
			st.Frames[len(st.Frames)-1].CFA = cfa
		}
		var chain []uint64
		if kind != "signal" { // an interrupted frame made no call
			chain = u.tailChain(next.v[regRIP], u.functionEntry(lookup))
		}
		for _, site := range chain {
			// gdb shows a tail-call frame as one frame named by the
			// innermost function at the site, inlined or not.
			f := u.describe(site, site-1, 0, "tail-call")[0]
			f.Inlined, f.TailCall = false, true
			st.Frames = append(st.Frames, f)
		}
		r, how = next, kind
	}
}

// describe names the frames at pc: the real function and any inlined into it.
func (u *Unwinder) describe(pc, lookup, sp uint64, how string) []Frame {
	base := Frame{PC: pc, SP: sp, How: how}
	m := u.moduleAt(lookup)
	if m == nil {
		return []Frame{base}
	}
	base.Library = m.path
	vaddr := lookup - m.bias
	base.Offset = pc - m.bias
	if m.err != nil {
		// The file is not readable here: its load bias is unknown, so
		// give the offset in the file, which addr2line also takes for
		// the usual layout of text (its file offset is its address).
		if mp, ok := u.mappingAt(lookup); ok {
			base.Offset = pc - mp.Start + mp.FileOffset
		}
		return []Frame{base}
	}
	var out []Frame
	if m.dwarf != nil {
		for _, p := range m.dwarf.lookup(vaddr) {
			f := base
			f.Function, f.File, f.Line = p.function, p.file, p.line
			f.Inlined = true
			out = append(out, f)
		}
	}
	if len(out) > 0 {
		out[len(out)-1].Inlined = false
		if out[len(out)-1].Function == "" {
			m.name(&out[len(out)-1], vaddr)
		}
		// Inline frames share the physical frame's registers; only the
		// innermost carries How, the last the real function.
		return out
	}
	m.name(&base, vaddr)
	return []Frame{base}
}

// name names f from the symbol covering vaddr, else, when the code there
// is a part split off a named function, as gdb would with the part's own
// symbol (F.cold).
func (m *module) name(f *Frame, vaddr uint64) {
	if s, ok := m.symbolAt(vaddr); ok {
		f.Function = s.name
		return
	}
	if s, ok := m.coldPartAt(vaddr); ok {
		f.Function, f.ColdPart = s.name+ColdSuffix, true
	}
}

func (u *Unwinder) moduleAt(addr uint64) *module {
	mp, ok := u.mappingAt(addr)
	if !ok {
		return nil
	}
	return u.loader.module(mp.Path)
}

func (u *Unwinder) mappingAt(addr uint64) (coreread.Mapping, bool) {
	i := sort.Search(len(u.maps), func(i int) bool { return u.maps[i].End > addr })
	if i >= len(u.maps) || addr < u.maps[i].Start {
		return coreread.Mapping{}, false
	}
	return u.maps[i], true
}

// executable reports whether addr is in memory the process could execute.
func (u *Unwinder) executable(addr uint64) bool {
	i := sort.Search(len(u.segs), func(i int) bool { return u.segs[i].Vaddr+u.segs[i].Memsz > addr })
	if i < len(u.segs) && addr >= u.segs[i].Vaddr && u.segs[i].Flags&elf.PF_X != 0 {
		return true
	}
	// gcore leaves unmodified file-backed text out of the core entirely:
	// ask the file's own program headers.
	if m := u.moduleAt(addr); m != nil && m.ef != nil {
		v := addr - m.bias
		for _, p := range m.ef.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && v >= p.Vaddr && v-p.Vaddr < p.Memsz {
				return true
			}
		}
	}
	return false
}

func (u *Unwinder) word(addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := u.img.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// step computes the caller's registers. done is set when this frame is the
// outermost one.
func (u *Unwinder) step(r regs, lookup uint64, innermost bool) (next regs, how string, done bool, err error) {
	sp := r.v[regRSP]
	m := u.moduleAt(lookup)
	var fde *frame.FrameDescriptionEntry
	if m != nil && m.err == nil {
		fde = m.fde(lookup - m.bias)
	}
	switch {
	case fde != nil:
		next, done, err = u.stepCFI(r, fde, lookup-m.bias)
		how = "cfi"
		if strings.Contains(fde.CIE.Augmentation, "S") {
			how = "signal" // the kernel's signal trampoline (__restore_rt)
		}
	case innermost && !u.executable(r.v[regRIP]):
		// A call through a bad pointer: the return address is on top.
		next, err = u.stepReturnAddress(r)
		how = "return-address"
	default:
		next, done, err = u.stepFramePointer(r)
		how = "frame-pointer"
	}
	if done || err != nil {
		return next, how, done, err
	}
	ra := next.v[regRIP]
	if !next.ok[regRIP] || ra == 0 {
		return next, how, true, nil
	}
	newSP := next.v[regRSP]
	// A signal handler may run on an alternate stack (sigaltstack, as
	// faulthandler's does): the interrupted frame's stack is elsewhere.
	if how == "signal" && next.ok[regRSP] && newSP != 0 {
		if !u.executable(ra) {
			return next, how, false, fmt.Errorf("interrupted pc 0x%x (found by %s) is not in executable memory", ra, how)
		}
		return next, how, false, nil
	}
	if !next.ok[regRSP] || newSP <= sp || newSP-sp > maxFrameSize {
		return next, how, false, fmt.Errorf("stack looks corrupt at pc 0x%x: caller's stack pointer 0x%x is not above 0x%x (%s)", r.v[regRIP], newSP, sp, how)
	}
	if !u.executable(ra) {
		return next, how, false, fmt.Errorf("return address 0x%x (found by %s) is not in executable memory", ra, how)
	}
	return next, how, false, nil
}

func (u *Unwinder) stepReturnAddress(r regs) (regs, error) {
	ra, err := u.word(r.v[regRSP])
	if err != nil {
		return r, fmt.Errorf("read return address at 0x%x: %w", r.v[regRSP], err)
	}
	next := r
	next.v[regRIP], next.v[regRSP] = ra, r.v[regRSP]+8
	return next, nil
}

func (u *Unwinder) stepFramePointer(r regs) (regs, bool, error) {
	bp := r.v[regRBP]
	if !r.ok[regRBP] || bp == 0 {
		return r, false, fmt.Errorf("no call-frame information for pc 0x%x and no frame pointer", r.v[regRIP])
	}
	if bp < r.v[regRSP] || bp-r.v[regRSP] > maxFrameSize {
		return r, false, fmt.Errorf("no call-frame information for pc 0x%x and rbp 0x%x is not a frame pointer", r.v[regRIP], bp)
	}
	savedBP, err := u.word(bp)
	if err != nil {
		return r, false, fmt.Errorf("read saved rbp at 0x%x: %w", bp, err)
	}
	ra, err := u.word(bp + 8)
	if err != nil {
		return r, false, fmt.Errorf("read return address at 0x%x: %w", bp+8, err)
	}
	next := r
	next.v[regRBP], next.v[regRIP], next.v[regRSP] = savedBP, ra, bp+16
	return next, false, nil
}

func (u *Unwinder) stepCFI(r regs, fde *frame.FrameDescriptionEntry, vaddr uint64) (next regs, done bool, err error) {
	var ctx *frame.FrameContext
	if perr := safely(func() error {
		var e error
		ctx, e = fde.EstablishFrame(vaddr)
		return e
	}); perr != nil || ctx == nil {
		return r, false, fmt.Errorf("call-frame information at pc 0x%x: %v", r.v[regRIP], perr)
	}
	var cfa uint64
	switch ctx.CFA.Rule {
	case frame.RuleCFA:
		reg := ctx.CFA.Reg
		if reg >= numRegs || !r.ok[reg] {
			return r, false, fmt.Errorf("CFA at pc 0x%x uses unknown register %d", r.v[regRIP], reg)
		}
		cfa = uint64(int64(r.v[reg]) + ctx.CFA.Offset)
	case frame.RuleExpression:
		v, err := u.eval(ctx.CFA.Expression, r)
		if err != nil {
			return r, false, fmt.Errorf("CFA expression at pc 0x%x: %w", r.v[regRIP], err)
		}
		cfa = v
	default:
		return r, false, fmt.Errorf("CFA rule %d at pc 0x%x not supported", ctx.CFA.Rule, r.v[regRIP])
	}
	next = r
	// Registers the CFI does not mention keep their value (callee-saved
	// by convention); the caller's stack pointer is the CFA.
	next.v[regRSP], next.ok[regRSP] = cfa, true
	next.ok[regRIP] = false
	for reg, rule := range ctx.Regs {
		if reg >= numRegs || reg == regRSP {
			continue
		}
		switch rule.Rule {
		case frame.RuleUndefined:
			next.ok[reg] = false
		case frame.RuleSameVal:
			next.v[reg], next.ok[reg] = r.v[reg], r.ok[reg]
		case frame.RuleOffset:
			v, err := u.word(uint64(int64(cfa) + rule.Offset))
			if err != nil {
				if reg == ctx.RetAddrReg {
					return r, false, fmt.Errorf("read return address at 0x%x: %w", uint64(int64(cfa)+rule.Offset), err)
				}
				next.ok[reg] = false
				continue
			}
			next.v[reg], next.ok[reg] = v, true
		case frame.RuleValOffset:
			next.v[reg], next.ok[reg] = uint64(int64(cfa)+rule.Offset), true
		case frame.RuleRegister:
			if rule.Reg < numRegs {
				next.v[reg], next.ok[reg] = r.v[rule.Reg], r.ok[rule.Reg]
			} else {
				next.ok[reg] = false
			}
		case frame.RuleExpression, frame.RuleValExpression:
			v, err := u.evalWithCFA(rule.Expression, r, cfa)
			if err != nil {
				next.ok[reg] = false
				continue
			}
			if rule.Rule == frame.RuleExpression {
				if v, err = u.word(v); err != nil {
					next.ok[reg] = false
					continue
				}
			}
			next.v[reg], next.ok[reg] = v, true
		default:
			next.ok[reg] = false
		}
	}
	ra := ctx.RetAddrReg
	if ra >= numRegs {
		return r, false, fmt.Errorf("return address register %d not supported", ra)
	}
	rule, ok := ctx.Regs[ra]
	if !ok || rule.Rule == frame.RuleUndefined {
		// glibc's _start and clone mark the return address undefined: the
		// outermost frame.
		return next, true, nil
	}
	if ra != regRIP {
		next.v[regRIP], next.ok[regRIP] = next.v[ra], next.ok[ra]
	} else if rule.Rule == frame.RuleSameVal {
		next.ok[regRIP] = true
	}
	if strings.Contains(fde.CIE.Augmentation, "S") {
		// A signal frame: the saved pc is not a return address.
		next.ok[regRIP] = next.ok[regRIP] && next.v[regRIP] != 0
	}
	return next, false, nil
}

// Describe names the functions at pc, innermost (inlined) first, as for a
// thread's innermost frame.
func (u *Unwinder) Describe(pc uint64) (frames []Frame) {
	defer func() {
		if r := recover(); r != nil {
			frames = []Frame{{PC: pc}} // malformed debug information: unnamed
		}
	}()
	return u.describe(pc, pc, 0, "")
}

// functionEntry is the run-time entry of the function holding pc, or 0.
func (u *Unwinder) functionEntry(pc uint64) uint64 {
	m := u.moduleAt(pc)
	if m == nil || m.err != nil {
		return 0
	}
	if s, ok := m.symbolAt(pc - m.bias); ok {
		return s.addr + m.bias
	}
	return 0
}

// Offsets in the kernel's x86-64 signal frame, from the trampoline's
// stack pointer (struct ucontext, just past pretcode): uc_mcontext (struct
// sigcontext) starts at 40; in it err, trapno and cr2. siginfo follows the
// ucontext only for SA_SIGINFO handlers (faulthandler's is not one), so the
// signal is told by the trap that raised it.
const (
	sigcontextErr    = 40 + 152
	sigcontextTrapno = 40 + 160
	sigcontextCR2    = 40 + 176
)

// x86 exception vectors (trapno) and the signals Linux sends for them.
const (
	trapDivide     = 0
	trapInvalidOp  = 6
	trapGeneral    = 13
	trapPageFault  = 14
	pfProtection   = 1 // page-fault error code: the page was present
	segvMapErr     = 1
	segvAccErrCode = 2
)

// interrupted records the frame a signal interrupted: its registers as the
// trampoline's CFI restored them, and the fault the trap number records.
func (u *Unwinder) interrupted(trampolineSP uint64, r regs) *Interrupted {
	in := &Interrupted{PC: r.v[regRIP], Regs: toCore(r)}
	trapno, err1 := u.word(trampolineSP + sigcontextTrapno)
	errCode, err2 := u.word(trampolineSP + sigcontextErr)
	cr2, err3 := u.word(trampolineSP + sigcontextCR2)
	if err1 != nil || err2 != nil || err3 != nil {
		return in
	}
	switch trapno {
	case trapPageFault:
		in.Signo, in.Addr, in.Code = 11, cr2, segvMapErr
		if errCode&pfProtection != 0 {
			in.Code = segvAccErrCode
		}
	case trapGeneral:
		in.Signo = 11 // a general protection fault: no address
	case trapDivide:
		in.Signo = 8
	case trapInvalidOp:
		in.Signo = 4
	}
	return in
}

// toCore turns unwound registers back into the core's register set (the
// ones the unwind could not recover are 0).
func toCore(r regs) coreread.Registers {
	v := func(i int) uint64 {
		if r.ok[i] {
			return r.v[i]
		}
		return 0
	}
	return coreread.Registers{RAX: v(regRAX), RDX: v(regRDX), RCX: v(regRCX), RBX: v(regRBX), RSI: v(regRSI), RDI: v(regRDI),
		RBP: v(regRBP), RSP: v(regRSP), R8: v(regR8), R9: v(regR9), R10: v(regR10), R11: v(regR11), R12: v(regR12),
		R13: v(regR13), R14: v(regR14), R15: v(regR15), RIP: v(regRIP)}
}
