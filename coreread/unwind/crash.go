package unwind

import (
	"debug/elf"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/pycoroner/pycoroner/coreread"
)

// Fault is where a crashed thread stopped: the instruction at its pc, the
// registers that instruction uses, and what lies at the faulting address.
type Fault struct {
	TID    int
	Signal int
	PC     uint64
	// Instruction is the faulting instruction in AT&T syntax (as gdb's
	// x/i prints it); empty when it could not be read or decoded, and
	// DecodeError then says why.
	Instruction string
	Bytes       []byte
	DecodeError string
	Registers   []RegisterValue // used by the instruction, in operand order
	// Address is the faulting address (si_addr) of SIGSEGV, SIGBUS, SIGILL
	// and SIGFPE; HasAddress is false for other signals.
	Address    uint64
	HasAddress bool
	// AddressIs names what the faulting address is: "null page", "stack
	// guard page of thread N", "unmapped", "read-only mapping of FILE", ...
	AddressIs string
	// Interrupted is the frame a first signal interrupted when the thread
	// crashed inside a signal handler (faulthandler raising the signal
	// again): the instruction there, with the registers the kernel saved
	// and the handler's siginfo. Nil otherwise.
	Interrupted *Fault
}

// RegisterValue is one register and its value at the fault.
type RegisterValue struct {
	Name  string
	Value uint64
}

// CrashedThread returns the thread the kernel dumped the core for: the one
// whose NT_PRSTATUS carries the NT_SIGINFO signal. A core made by gcore
// has no such signal.
func CrashedThread(p *coreread.Process) (coreread.Thread, bool) {
	si := p.Info().Signal
	if si == nil || si.Signo == 0 {
		return coreread.Thread{}, false
	}
	if p.CrashedThreadLost() {
		// Every thread's NT_PRSTATUS carries the signal: with the first
		// one lost, the first left is another thread, not the culprit.
		return coreread.Thread{}, false
	}
	for _, t := range p.Threads() {
		if t.Signal == si.Signo {
			return t, true
		}
	}
	return coreread.Thread{}, false
}

// maxInstruction is the longest x86-64 instruction.
const maxInstruction = 15

// AnalyzeFault describes the crashed thread's faulting instruction and
// address; ok is false when the core records no crash. With an unwinder,
// a crash raised again by a signal handler (faulthandler) also describes
// the frame the first signal interrupted: where the fault really was.
func AnalyzeFault(p *coreread.Process, u *Unwinder) (Fault, bool) {
	t, ok := CrashedThread(p)
	if !ok {
		return Fault{}, false
	}
	si := p.Info().Signal
	f := Fault{TID: t.TID, Signal: si.Signo, PC: t.Regs.RIP, Address: si.Addr, HasAddress: si.HasAddr}
	f.decode(p, t.Regs)
	if f.HasAddress {
		f.AddressIs = describeAddress(f.Address, si.Code, p.Segments(), p.Threads(), p.FileAt)
	}
	if u != nil {
		if in := u.Thread(t).Interrupted; in != nil {
			first := &Fault{TID: t.TID, Signal: in.Signo, PC: in.PC}
			first.decode(p, in.Regs)
			if in.Code > 0 {
				first.Address, first.HasAddress = in.Addr, true
				first.AddressIs = describeAddress(in.Addr, in.Code, p.Segments(), p.Threads(), p.FileAt)
			}
			f.Interrupted = first
		}
	}
	return f, true
}

// decode reads and disassembles the instruction at regs' pc.
func (f *Fault) decode(p *coreread.Process, regs coreread.Registers) {
	f.Bytes = readUpTo(p, regs.RIP, maxInstruction)
	if len(f.Bytes) == 0 {
		f.DecodeError = fmt.Sprintf("the pc 0x%x is not readable memory", regs.RIP)
	} else if inst, err := x86asm.Decode(f.Bytes, 64); err != nil {
		f.DecodeError = fmt.Sprintf("x86asm cannot decode % x (%v)", f.Bytes, err)
	} else {
		f.Bytes = f.Bytes[:inst.Len]
		f.Instruction = x86asm.GNUSyntax(inst, regs.RIP, nil)
		f.Registers = usedRegisters(inst, regs)
	}
}

// readUpTo reads up to n bytes at addr, fewer when memory ends sooner.
func readUpTo(p *coreread.Process, addr uint64, n int) []byte {
	for ; n > 0; n-- {
		b := make([]byte, n)
		if _, err := p.ReadAt(b, addr); err == nil {
			return b
		}
	}
	return nil
}

func usedRegisters(inst x86asm.Inst, r coreread.Registers) []RegisterValue {
	var out []RegisterValue
	seen := map[x86asm.Reg]bool{}
	add := func(reg x86asm.Reg) {
		if reg == 0 || seen[reg] {
			return
		}
		if v, ok := regValue(reg, r); ok {
			seen[reg] = true
			out = append(out, RegisterValue{Name: "%" + strings.ToLower(reg.String()), Value: v})
		}
	}
	for _, a := range inst.Args {
		switch a := a.(type) {
		case x86asm.Reg:
			add(a)
		case x86asm.Mem:
			add(a.Base)
			add(a.Index)
		}
	}
	return out
}

// regValue reads a general register, or the low part of one, from the
// thread's registers.
func regValue(reg x86asm.Reg, r coreread.Registers) (uint64, bool) {
	full := map[x86asm.Reg]uint64{
		x86asm.RAX: r.RAX, x86asm.RBX: r.RBX, x86asm.RCX: r.RCX, x86asm.RDX: r.RDX,
		x86asm.RSI: r.RSI, x86asm.RDI: r.RDI, x86asm.RBP: r.RBP, x86asm.RSP: r.RSP,
		x86asm.R8: r.R8, x86asm.R9: r.R9, x86asm.R10: r.R10, x86asm.R11: r.R11,
		x86asm.R12: r.R12, x86asm.R13: r.R13, x86asm.R14: r.R14, x86asm.R15: r.R15,
		x86asm.RIP: r.RIP,
	}
	if v, ok := full[reg]; ok {
		return v, true
	}
	// Sub-registers in x86asm's order: 32-bit EAX.., 16-bit AX.., 8-bit.
	sizes := []struct {
		first, last x86asm.Reg
		mask        uint64
	}{
		{x86asm.EAX, x86asm.R15L, 0xffffffff},
		{x86asm.AX, x86asm.R15W, 0xffff},
	}
	order := []x86asm.Reg{x86asm.RAX, x86asm.RCX, x86asm.RDX, x86asm.RBX, x86asm.RSP, x86asm.RBP, x86asm.RSI, x86asm.RDI,
		x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11, x86asm.R12, x86asm.R13, x86asm.R14, x86asm.R15}
	for _, s := range sizes {
		if reg >= s.first && reg <= s.last && int(reg-s.first) < len(order) {
			return full[order[reg-s.first]] & s.mask, true
		}
	}
	return 0, false
}

// mmapMinAddr is Linux's default vm.mmap_min_addr: nothing is ever mapped
// below it, so a fault there is a NULL pointer plus a small offset.
const mmapMinAddr = 0x10000

// segvAccErr is SEGV_ACCERR: the page is mapped, the access not allowed.
const segvAccErr = 2

// describeAddress names what a faulting address is, from the core's
// segments (their permissions), the threads' stack pointers and the files.
func describeAddress(addr uint64, code int, segs []coreread.Segment, threads []coreread.Thread, fileAt func(uint64) (string, bool)) string {
	if addr < mmapMinAddr {
		return fmt.Sprintf("null page (NULL + 0x%x)", addr)
	}
	i := sort.Search(len(segs), func(i int) bool { return segs[i].Vaddr+segs[i].Memsz > addr })
	if i >= len(segs) || addr < segs[i].Vaddr {
		// Just below a thread's stack: the stack ran into its guard.
		for _, t := range threads {
			if i < len(segs) && t.Regs.RSP >= segs[i].Vaddr && t.Regs.RSP < segs[i].Vaddr+segs[i].Memsz && segs[i].Vaddr-addr <= 1<<20 {
				return fmt.Sprintf("unmapped, just below the stack of thread %d (stack overflow?)", t.TID)
			}
		}
		return "unmapped"
	}
	s := segs[i]
	name := "anonymous memory"
	if path, ok := fileAt(addr); ok {
		name = path
	}
	if s.Flags&(elf.PF_R|elf.PF_W|elf.PF_X) == 0 {
		if i+1 < len(segs) && segs[i+1].Vaddr == s.Vaddr+s.Memsz {
			above := segs[i+1]
			for _, t := range threads {
				if t.Regs.RSP >= above.Vaddr && t.Regs.RSP < above.Vaddr+above.Memsz {
					return fmt.Sprintf("stack guard page of thread %d (stack overflow)", t.TID)
				}
			}
		}
		return fmt.Sprintf("a no-access (PROT_NONE) mapping at 0x%x, a guard page", s.Vaddr)
	}
	perms := permString(s.Flags)
	switch {
	case s.Flags&elf.PF_W == 0 && code == segvAccErr:
		return fmt.Sprintf("read-only mapping (%s) of %s: a write to it", perms, name)
	case code == segvAccErr:
		return fmt.Sprintf("mapping (%s) of %s: the access was not permitted", perms, name)
	}
	return fmt.Sprintf("mapped (%s) in %s", perms, name)
}

func permString(f elf.ProgFlag) string {
	b := []byte("---")
	if f&elf.PF_R != 0 {
		b[0] = 'r'
	}
	if f&elf.PF_W != 0 {
		b[1] = 'w'
	}
	if f&elf.PF_X != 0 {
		b[2] = 'x'
	}
	return string(b)
}
