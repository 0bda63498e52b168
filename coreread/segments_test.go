package coreread

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"testing"
)

// rawCore builds an x86-64 ELF core from program headers and the bytes
// that follow them (offsets in phs are absolute).
func rawCore(phs []elf.Prog64, body []byte) []byte {
	var buf bytes.Buffer
	hdr := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: uint16(len(phs))}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&buf, binary.LittleEndian, hdr)
	binary.Write(&buf, binary.LittleEndian, phs)
	buf.Write(body)
	return buf.Bytes()
}

// bodyOff is where rawCore's body starts for n program headers.
func bodyOff(n int) uint64 { return 64 + 56*uint64(n) }

func TestHostileSegments(t *testing.T) {
	page := bytes.Repeat([]byte{7}, 4096)
	load := func(vaddr, memsz, off, filesz uint64) elf.Prog64 {
		return elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Vaddr: vaddr, Memsz: memsz, Off: off, Filesz: filesz}
	}
	t.Run("offset plus size wraps past 2^64", func(t *testing.T) {
		off := bodyOff(2)
		data := rawCore([]elf.Prog64{load(0x10000, ^uint64(0)-99, off, ^uint64(0)-99), load(^uint64(0)-0x800, 0x1000, off, 0x800)}, page)
		p, err := Open(writeTemp(t, data), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer p.Close()
		if b, err := p.Read(0x10000, 16); err != nil || b[0] != 7 {
			t.Errorf("read of the data the core has: %v", err)
		}
		if _, err := p.Read(0x10000+8192, 8); !errors.Is(err, ErrTruncated) {
			t.Errorf("read past the file's end: %v, want ErrTruncated", err)
		}
		p.Read(^uint64(0)-16, 8)
	})
	t.Run("overlapping segments, one truncated and huge", func(t *testing.T) {
		// The fuzzer's crasher: a read in the truncated segment's lost part
		// said "not mapped".
		off := bodyOff(2)
		data := rawCore([]elf.Prog64{load(0x1000, 0x49090000491000, off, 0x1000), load(0x3000, 0x1000, off+1<<20, 0x1000)}, page)
		p, err := Open(writeTemp(t, data), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer p.Close()
		segs := p.Segments()
		for i := range segs { // backwards: the lookup caches the last segment hit
			s := segs[len(segs)-1-i]
			last := s.Vaddr + s.Memsz - 1
			if _, err := p.Read(last, 1); s.Truncated && !errors.Is(err, ErrTruncated) {
				t.Errorf("read at 0x%x, the end of a truncated segment: %v, want ErrTruncated", last, err)
			}
		}
	})
	t.Run("many segments sharing one page", func(t *testing.T) {
		const n = 20000
		phs := make([]elf.Prog64, n)
		for i := range phs {
			phs[i] = load(0x100000+uint64(i)*0x1000, 0x1000, bodyOff(n), 0x1000)
		}
		p, err := Open(writeTemp(t, rawCore(phs, page)), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer p.Close()
		var data uint64
		for _, s := range p.Segments() {
			data += s.Filesz
		}
		if data > 4096 {
			t.Errorf("%d segments keep %d bytes of core data from a file of one page", len(p.Segments()), data)
		}
	})
	t.Run("many note segments on the same notes", func(t *testing.T) {
		var notes []byte
		for tid := int32(1); tid <= 100; tid++ {
			notes = append(notes, note(ntPrstatus, prstatus(tid, 0))...)
		}
		const n = 2000
		phs := make([]elf.Prog64, n+1)
		for i := range phs {
			phs[i] = elf.Prog64{Type: uint32(elf.PT_NOTE), Off: bodyOff(n + 1), Filesz: uint64(len(notes))}
		}
		phs[n] = load(0x1000, 0x1000, bodyOff(n+1)+uint64(len(notes)), 0x1000)
		p, err := Open(writeTemp(t, rawCore(phs, append(notes, page...))), Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer p.Close()
		if got := len(p.Threads()); got != 100 {
			t.Errorf("%d threads from 100 NT_PRSTATUS notes behind %d headers", got, n)
		}
	})
}
