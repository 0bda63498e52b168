package coreread

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
)

// Note types in a Linux core (include/uapi/linux/elf.h).
const (
	ntPrstatus = 1
	ntPrpsinfo = 3
	ntAuxv     = 6
	ntSiginfo  = 0x53494749
	ntFile     = 0x46494c45
)

// Registers holds the x86-64 general registers of one thread
// (struct user_regs_struct in the kernel's order).
type Registers struct {
	R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8  uint64
	RAX, RCX, RDX, RSI, RDI, OrigRAX, RIP, CS       uint64
	EFlags, RSP, SS, FSBase, GSBase, DS, ES, FS, GS uint64
}

// Thread is one thread (LWP) recorded in the core.
type Thread struct {
	TID    int
	Signal int // the signal pending for this thread when the core was taken
	Regs   Registers
}

// ProcessInfo is what NT_PRPSINFO and NT_SIGINFO say about the process.
type ProcessInfo struct {
	PID     int
	PPID    int
	UID     int
	Command string // pr_fname, at most 15 characters
	Args    string // pr_psargs, at most 80 characters
	Signal  *SignalInfo
}

// SignalInfo is the signal that produced the core (NT_SIGINFO).
type SignalInfo struct {
	Signo int
	Code  int
	Errno int
	// Addr is the faulting address for SIGSEGV, SIGBUS, SIGILL and SIGFPE.
	Addr    uint64
	HasAddr bool
	// SenderPID is set when another process sent the signal (kill, abort).
	SenderPID int
}

// Mapping is one file-backed mapping listed in NT_FILE.
type Mapping struct {
	Start, End uint64
	FileOffset uint64 // in bytes
	Path       string // as the core names it
}

// Threads lists the core's threads in note order; the first one is the
// thread that received the signal.
func (p *Process) Threads() []Thread { return p.threads }

// Info returns what the core says about the process.
func (p *Process) Info() ProcessInfo { return p.info }

// NotesProblem says why the core's notes could not all be read (a note
// cut off by truncation, a size field that runs past its segment, a note
// too short for its type), or "" when every note was read. Where it is
// set, a missing note is lost, not absent: no NT_SIGINFO means the signal
// is unknown, not that the core is a snapshot, and the threads, pid and
// files are those read before the damage.
func (p *Process) NotesProblem() string { return strings.Join(p.notesProblems, "; ") }

// HasProcessInfo reports whether NT_PRPSINFO was read: without it the
// pid, command and arguments of Info are unknown, not 0 and "".
func (p *Process) HasProcessInfo() bool { return p.sawPrpsinfo }

// CrashedThreadLost reports whether the first NT_PRSTATUS, which the
// kernel writes for the thread it dumped the core for, could not be
// read: the first thread of Threads is then another one.
func (p *Process) CrashedThreadLost() bool { return p.firstPrstatusLost }

// Mappings lists the file-backed mappings.
func (p *Process) Mappings() []Mapping { return p.maps }

// Auxv returns an auxiliary vector entry (AT_ENTRY, AT_PHDR, ...).
func (p *Process) Auxv(tag uint64) (uint64, bool) {
	v, ok := p.auxv[tag]
	return v, ok
}

// maxNotes bounds how many notes one PT_NOTE may hold.
const maxNotes = 1 << 20

func (p *Process) readNotes(pr *elf.Prog, coreSize uint64) error {
	if pr.Off >= coreSize {
		return fmt.Errorf("PT_NOTE at offset %d is past the end of the file", pr.Off)
	}
	end := pr.Off + pr.Filesz
	if end > coreSize || end < pr.Off {
		end = coreSize
	}
	buf := p.data[pr.Off:end]
	for i := 0; len(buf) >= 12 && i < maxNotes; i++ {
		namesz := uint64(binary.LittleEndian.Uint32(buf[0:]))
		descsz := uint64(binary.LittleEndian.Uint32(buf[4:]))
		typ := binary.LittleEndian.Uint32(buf[8:])
		nameEnd := 12 + align4(namesz)
		descEnd := nameEnd + align4(descsz)
		if nameEnd > uint64(len(buf)) || nameEnd+descsz > uint64(len(buf)) {
			return fmt.Errorf("note %d runs past the end of its segment", i)
		}
		name := strings.TrimRight(string(buf[12:12+namesz]), "\x00")
		desc := buf[nameEnd : nameEnd+descsz]
		if name == "CORE" {
			if err := p.note(typ, desc); err != nil {
				p.warn("note %s type 0x%x: %v", name, typ, err)
				p.notesProblems = append(p.notesProblems, err.Error())
				if typ == ntPrstatus && len(p.threads) == 0 {
					p.firstPrstatusLost = true
				}
			}
		}
		if descEnd > uint64(len(buf)) {
			break
		}
		buf = buf[descEnd:]
	}
	return nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

func (p *Process) note(typ uint32, desc []byte) error {
	le := binary.LittleEndian
	switch typ {
	case ntPrstatus:
		// struct elf_prstatus: pr_cursig at 12, pr_pid at 32, pr_reg at 112.
		if len(desc) < 112+27*8 {
			return fmt.Errorf("NT_PRSTATUS of %d bytes is too short", len(desc))
		}
		t := Thread{TID: int(int32(le.Uint32(desc[32:]))), Signal: int(le.Uint16(desc[12:]))}
		regs := make([]uint64, 27)
		for i := range regs {
			regs[i] = le.Uint64(desc[112+8*i:])
		}
		t.Regs = Registers{regs[0], regs[1], regs[2], regs[3], regs[4], regs[5], regs[6], regs[7], regs[8], regs[9],
			regs[10], regs[11], regs[12], regs[13], regs[14], regs[15], regs[16], regs[17],
			regs[18], regs[19], regs[20], regs[21], regs[22], regs[23], regs[24], regs[25], regs[26]}
		p.threads = append(p.threads, t)
	case ntPrpsinfo:
		// struct elf_prpsinfo (x86-64): pr_uid at 16, pr_pid at 24, pr_fname at 40, pr_psargs at 56.
		if len(desc) < 136 {
			return fmt.Errorf("NT_PRPSINFO of %d bytes is too short", len(desc))
		}
		p.info.UID = int(le.Uint32(desc[16:]))
		p.info.PID = int(int32(le.Uint32(desc[24:])))
		p.info.PPID = int(int32(le.Uint32(desc[28:])))
		p.info.Command = cstr(desc[40:56])
		p.info.Args = strings.TrimSpace(cstr(desc[56:136]))
		p.sawPrpsinfo = true
	case ntSiginfo:
		if len(desc) < 24 {
			return fmt.Errorf("NT_SIGINFO of %d bytes is too short", len(desc))
		}
		si := &SignalInfo{Signo: int(int32(le.Uint32(desc[0:]))), Errno: int(int32(le.Uint32(desc[4:]))), Code: int(int32(le.Uint32(desc[8:])))}
		switch {
		case si.Code <= 0: // sent by a process (kill, or raise again by a handler): si_pid, si_uid
			si.SenderPID = int(int32(le.Uint32(desc[16:])))
		case si.Signo == 4 || si.Signo == 7 || si.Signo == 8 || si.Signo == 11: // a fault: si_addr
			si.Addr, si.HasAddr = le.Uint64(desc[16:]), true
		}
		if si.Signo != 0 {
			p.info.Signal = si
		}
	case ntAuxv:
		for i := 0; i+16 <= len(desc); i += 16 {
			tag := le.Uint64(desc[i:])
			if tag == 0 {
				break
			}
			p.auxv[tag] = le.Uint64(desc[i+8:])
		}
	case ntFile:
		return p.parseFileNote(desc)
	}
	return nil
}

func (p *Process) parseFileNote(desc []byte) error {
	le := binary.LittleEndian
	if len(desc) < 16 {
		return fmt.Errorf("NT_FILE of %d bytes is too short", len(desc))
	}
	count := le.Uint64(desc[0:])
	pageSize := le.Uint64(desc[8:])
	if count > uint64(len(desc)-16)/24 {
		return fmt.Errorf("NT_FILE claims %d mappings, more than its %d bytes hold", count, len(desc))
	}
	names := desc[16+24*count:]
	for i := uint64(0); i < count; i++ {
		e := desc[16+24*i:]
		m := Mapping{Start: le.Uint64(e[0:]), End: le.Uint64(e[8:]), FileOffset: le.Uint64(e[16:]) * pageSize}
		j := bytes.IndexByte(names, 0)
		if j < 0 {
			return fmt.Errorf("NT_FILE names end early, at mapping %d of %d", i, count)
		}
		m.Path = string(names[:j])
		names = names[j+1:]
		if m.End <= m.Start {
			continue
		}
		p.maps = append(p.maps, m)
	}
	return nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
