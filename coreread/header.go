package coreread

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// readHeaders reads the ELF header and program headers of a core by hand:
// debug/elf also wants the section headers, which gcore writes at the end
// of the file, so it refuses a truncated core that still holds most of the
// memory.
func readHeaders(f *os.File, size int64, path string) (*elf.Header64, []*elf.Prog, error) {
	var hdr elf.Header64
	if size < int64(binary.Size(hdr)) {
		if size >= 4 && isELFMagic(f) {
			return nil, nil, fmt.Errorf("%s is truncated (%d bytes): not even the ELF header is complete", path, size)
		}
		return nil, nil, fmt.Errorf("%s is not an ELF core file (%d bytes)", path, size)
	}
	if err := binary.Read(io.NewSectionReader(f, 0, size), binary.LittleEndian, &hdr); err != nil {
		return nil, nil, fmt.Errorf("read ELF header of %s: %w", path, err)
	}
	if !bytes.Equal(hdr.Ident[:4], []byte(elf.ELFMAG)) {
		return nil, nil, fmt.Errorf("%s is not an ELF core file (it starts with %q)", path, printable(hdr.Ident[:4]))
	}
	if elf.Class(hdr.Ident[elf.EI_CLASS]) != elf.ELFCLASS64 || elf.Data(hdr.Ident[elf.EI_DATA]) != elf.ELFDATA2LSB {
		return nil, nil, fmt.Errorf("%s is a %v %v ELF file; only 64-bit little-endian cores are supported", path, elf.Class(hdr.Ident[elf.EI_CLASS]), elf.Data(hdr.Ident[elf.EI_DATA]))
	}
	if t := elf.Type(hdr.Type); t != elf.ET_CORE {
		return nil, nil, fmt.Errorf("%s is an ELF %s, not a core file", path, typeName(t))
	}
	if m := elf.Machine(hdr.Machine); m != elf.EM_X86_64 {
		return nil, nil, fmt.Errorf("%s is a core for %v; only x86-64 cores are supported", path, m)
	}
	if hdr.Phentsize != uint16(binary.Size(elf.Prog64{})) {
		return nil, nil, fmt.Errorf("%s: program header size %d is not %d", path, hdr.Phentsize, binary.Size(elf.Prog64{}))
	}
	n := int64(hdr.Phnum)
	if hdr.Phnum == 0xffff { // PN_XNUM: the real count is in section 0's sh_info
		var sh elf.Section64
		if err := binary.Read(io.NewSectionReader(f, int64(hdr.Shoff), int64(binary.Size(sh))), binary.LittleEndian, &sh); err != nil {
			return nil, nil, fmt.Errorf("%s: read extended program header count: %w", path, err)
		}
		n = int64(sh.Info)
	}
	if n > maxSegments {
		return nil, nil, fmt.Errorf("%s: %d program headers is more than a core can have", path, n)
	}
	phoff := int64(hdr.Phoff)
	if phoff < 0 || phoff+n*int64(hdr.Phentsize) > size {
		return nil, nil, fmt.Errorf("%s is truncated (%d bytes): its program headers end at byte %d", path, size, phoff+n*int64(hdr.Phentsize))
	}
	raw := make([]elf.Prog64, n)
	if err := binary.Read(io.NewSectionReader(f, phoff, n*int64(hdr.Phentsize)), binary.LittleEndian, raw); err != nil {
		return nil, nil, fmt.Errorf("%s: read program headers: %w", path, err)
	}
	progs := make([]*elf.Prog, n)
	for i, ph := range raw {
		progs[i] = &elf.Prog{ProgHeader: elf.ProgHeader{Type: elf.ProgType(ph.Type), Flags: elf.ProgFlag(ph.Flags),
			Off: ph.Off, Vaddr: ph.Vaddr, Paddr: ph.Paddr, Filesz: ph.Filesz, Memsz: ph.Memsz, Align: ph.Align}}
	}
	return &hdr, progs, nil
}

func isELFMagic(f *os.File) bool {
	var b [4]byte
	_, err := f.ReadAt(b[:], 0)
	return err == nil && bytes.Equal(b[:], []byte(elf.ELFMAG))
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}
