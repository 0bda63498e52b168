package coreread

import (
	"bytes"
	"debug/elf"
	"testing"
)

// Prefetch maps what the core holds of a range and nothing else: reads
// after it are the same, and no range (outside the core, past a
// truncated segment, wrapping past 2^64, huge) makes it fail or fault.
func TestPrefetch(t *testing.T) {
	page := bytes.Repeat([]byte{7}, 3*4096)
	off := bodyOff(2)
	load := func(vaddr, memsz, off, filesz uint64) elf.Prog64 {
		return elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Vaddr: vaddr, Memsz: memsz, Off: off, Filesz: filesz}
	}
	// The second segment claims more of the file than there is.
	data := rawCore([]elf.Prog64{load(0x10000, 0x2000, off, 0x2000), load(0x40000, 1<<30, off+0x2000, 1<<30)}, page)
	p, err := Open(writeTemp(t, data), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer p.Close()
	for _, c := range []struct {
		addr uint64
		n    int
	}{
		{0x10000, 0x2000}, {0x10010, 1 << 30}, {0x11fff, 1}, {0x40000, 1 << 30}, {0x40000 + 1<<29, 4096},
		{0x5000, 4096}, {^uint64(0) - 10, 4096}, {0x10000, 0}, {0x10000, -1},
	} {
		p.Prefetch(c.addr, c.n)
	}
	if b, err := p.Read(0x10000, 16); err != nil || b[0] != 7 {
		t.Errorf("read after Prefetch: %v %v", b, err)
	}
	if b, err := p.Read(0x40000, 16); err != nil || b[0] != 7 {
		t.Errorf("read of the truncated segment after Prefetch: %v %v", b, err)
	}
}
