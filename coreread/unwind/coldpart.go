package unwind

import (
	"bytes"
	"debug/elf"
	"sort"

	"golang.org/x/arch/x86/x86asm"
)

// Compilers move the code a function rarely runs out of it, into a part of
// its own elsewhere in .text (GCC's hot/cold partitioning: the part is
// the local symbol F.cold). It runs in F's stack frame and has an FDE of
// its own, but a stripped file names only F, in .dynsym: a pc in the part
// is covered by no symbol. With profile-guided optimisation the part can
// be most of F: Debian sid's python3.13–3.15 run their whole evaluation
// loop in _PyEval_EvalFrameDefault.cold, behind an 844-byte
// _PyEval_EvalFrameDefault.
//
// Such a part is recognised from the machine code, not guessed from where
// it lies: code jumps (jmp, jcc; not call) only to places in its own
// function or to another function's entry (a tail call). So an unnamed FDE
// whose jumps reach into the body of exactly one named function F (not
// its entry), and which F's own code jumps into, is a part of F.

// ColdSuffix is what GCC appends to the name of a function's cold part,
// and what gdb shows for it with a symbol table.
const ColdSuffix = ".cold"

// maxPartSize bounds the code decoded to recognise a part (and its
// function): the largest evaluation loop seen is under 100 KB.
const maxPartSize = 4 << 20

// coldPart is what is known of one unnamed FDE: the function it is part
// of, when its jumps prove one.
type coldPart struct {
	owner symbol
	ok    bool
}

// coldPartAt finds the function whose split-off part holds vaddr, when no
// symbol covers vaddr. The answer is kept per FDE.
func (m *module) coldPartAt(vaddr uint64) (symbol, bool) {
	if m.ef == nil || m.ef.Machine != elf.EM_X86_64 {
		return symbol{}, false
	}
	fde := m.fde(vaddr)
	if fde == nil {
		return symbol{}, false
	}
	lo, hi := fde.Begin(), fde.End()
	if m.coldParts == nil {
		m.coldParts = map[uint64]coldPart{}
	}
	if c, ok := m.coldParts[lo]; ok {
		return c.owner, c.ok
	}
	owner, ok := m.findColdOwner(lo, hi)
	m.coldParts[lo] = coldPart{owner: owner, ok: ok}
	return owner, ok
}

func (m *module) findColdOwner(lo, hi uint64) (symbol, bool) {
	if hi <= lo || hi-lo > maxPartSize || m.anySymbolIn(lo, hi) {
		return symbol{}, false // a named function, or not code we decode
	}
	code, ok := m.code(lo, hi)
	if !ok {
		return symbol{}, false
	}
	targets, ok := directJumps(code, lo)
	if !ok {
		return symbol{}, false
	}
	var owner symbol
	found := false
	for _, target := range targets {
		if target >= lo && target < hi {
			continue
		}
		s, named := m.symbolAt(target)
		if !named || s.size == 0 || target == s.addr {
			continue // unnamed code, or a function's entry: a tail call
		}
		if found && s.addr != owner.addr {
			return symbol{}, false // into two functions' bodies: no single owner
		}
		owner, found = s, true
	}
	if !found || owner.size > maxPartSize {
		return symbol{}, false
	}
	// The owner must jump into the part too: code that only jumps out is
	// not shown to be anyone's.
	body, ok := m.code(owner.addr, owner.addr+owner.size)
	if !ok {
		return symbol{}, false
	}
	targets, ok = directJumps(body, owner.addr)
	if !ok {
		return symbol{}, false
	}
	for _, target := range targets {
		if target >= lo && target < hi {
			return owner, true
		}
	}
	return symbol{}, false
}

// anySymbolIn reports whether a symbol starts in [lo, hi) or a sized one
// covers lo.
func (m *module) anySymbolIn(lo, hi uint64) bool {
	i := sort.Search(len(m.syms), func(i int) bool { return m.syms[i].addr >= lo })
	if i < len(m.syms) && m.syms[i].addr < hi {
		return true
	}
	s, ok := m.symbolAt(lo)
	return ok && s.size != 0
}

// code reads [lo, hi) of the file's loaded image from the file itself:
// gcore leaves unmodified text out of the core.
func (m *module) code(lo, hi uint64) ([]byte, bool) {
	for _, p := range m.ef.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 || lo < p.Vaddr || hi > p.Vaddr+p.Filesz {
			continue
		}
		b := make([]byte, hi-lo)
		if _, err := p.ReadAt(b, int64(lo-p.Vaddr)); err != nil {
			return nil, false
		}
		return b, true
	}
	return nil, false
}

// directJumps decodes code (at ELF address base) from its first byte to
// its last and lists the targets of its direct jmp and jcc instructions.
// It reports false when the code does not decode to its end: compilers put
// no data in .text, so a decode error means a misread (an instruction the
// decoder does not know, and its length with it), after which no jump it
// found is trusted.
func directJumps(code []byte, base uint64) ([]uint64, bool) {
	var targets []uint64
	for off := 0; off < len(code); {
		if bytes.HasPrefix(code[off:], endbr64) {
			off += len(endbr64) // x86asm does not know it
			continue
		}
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil || inst.Len == 0 || inst.Op == 0 {
			// Op 0: a prefix alone, what x86asm makes of a prefix
			// before an instruction it does not know.
			return nil, false
		}
		off += inst.Len
		if !isJump(inst.Op) {
			continue
		}
		if rel, ok := inst.Args[0].(x86asm.Rel); ok {
			targets = append(targets, base+uint64(off)+uint64(int64(rel)))
		}
	}
	return targets, true
}

// endbr64 marks every indirect-branch target in code built for CET
// (-fcf-protection, Debian's default): each label of the evaluation
// loop's computed gotos starts with one.
var endbr64 = []byte{0xf3, 0x0f, 0x1e, 0xfa}

func isJump(op x86asm.Op) bool {
	switch op {
	case x86asm.JMP, x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JNE,
		x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JO, x86asm.JNO, x86asm.JP,
		x86asm.JNP, x86asm.JS, x86asm.JNS, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ:
		return true
	}
	return false
}
