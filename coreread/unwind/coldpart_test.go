package unwind

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirectJumps(t *testing.T) {
	code := []byte{
		0xf3, 0x0f, 0x1e, 0xfa, // 0x1000 endbr64: x86asm does not know it
		0x74, 0x02, // 0x1004 je 0x1008
		0xe8, 0x00, 0x01, 0x00, 0x00, // 0x1006 call: not a jump
		0xe9, 0xf0, 0xff, 0xff, 0xff, // 0x100b jmp 0x1000
		0xff, 0xe1, // 0x1010 jmp *%rcx: no target
	}
	got, ok := directJumps(code, 0x1000)
	if !ok || len(got) != 2 || got[0] != 0x1008 || got[1] != 0x1000 {
		t.Errorf("directJumps = %x, %v; want [1008 1000], true", got, ok)
	}
	if _, ok := directJumps([]byte{0x74, 0x02, 0x0f, 0x0b, 0x0f, 0xff}, 0); ok {
		t.Errorf("code that does not decode to its end is trusted")
	}
}

// TestColdPartsAgreeWithSymbolTables strips the symbol table from files
// that have one (pyenv's libpython, sid's libc with its debug file): every
// FDE no .dynsym symbol names that coldPartAt gives an owner must be the
// owner's .cold part by the full symbol table.
func TestColdPartsAgreeWithSymbolTables(t *testing.T) {
	home, _ := os.UserHomeDir()
	var pairs [][2]string // stripped view, full symbol table
	libs, _ := filepath.Glob(filepath.Join(home, ".pyenv/versions/3.*/lib/libpython3.*.so.1.0"))
	for _, l := range libs {
		pairs = append(pairs, [2]string{l, l})
	}
	sid := os.Getenv("PYCORONER_SID_ROOT")
	if sid == "" {
		sid = filepath.Join(home, ".cache/pycoroner-interpreters/sid")
	}
	if libc, err := elf.Open(filepath.Join(sid, "usr/lib/x86_64-linux-gnu/libc.so.6")); err == nil {
		if id := buildID(libc); len(id) > 2 {
			pairs = append(pairs, [2]string{filepath.Join(sid, "usr/lib/x86_64-linux-gnu/libc.so.6"), filepath.Join(sid, "usr/lib/debug/.build-id", id[:2], id[2:]+".debug")})
		}
		libc.Close()
	}
	checked := 0
	for _, p := range pairs {
		ef, err1 := elf.Open(p[0])
		full, err2 := elf.Open(p[1])
		if err1 != nil || err2 != nil {
			continue
		}
		m := &module{ef: ef, syms: dynamicOnly(ef)}
		s := ef.Section(".eh_frame")
		data, _ := s.Data()
		m.ehFrame = parseCFI(data, s.Addr)
		truth := &module{syms: readSymbols(full)}
		found := 0
		for _, f := range m.ehFrame {
			lo := f.Begin()
			if _, ok := m.symbolAt(lo); ok {
				continue
			}
			owner, ok := m.coldPartAt(lo)
			if !ok {
				continue
			}
			found++
			ts, _ := truth.symbolAt(lo)
			addr, named := truth.symbolNamed(strings.TrimSuffix(ts.name, ColdSuffix), false)
			if !strings.HasSuffix(ts.name, ColdSuffix) || !named || addr != owner.addr {
				t.Errorf("%s: FDE 0x%x: taken for %s%s, the symbol table has %q", p[0], lo, owner.name, ColdSuffix, ts.name)
			}
		}
		t.Logf("%s: %d cold parts recognised", p[0], found)
		checked++
		ef.Close()
		full.Close()
	}
	if checked == 0 {
		t.Skip("no file with a full symbol table here (pyenv's libpython, sid's libc6-dbg)")
	}
}

// dynamicOnly is a stripped file's view of ef: its .dynsym functions.
func dynamicOnly(ef *elf.File) []symbol {
	dyn, _ := ef.DynamicSymbols()
	var out []symbol
	for _, s := range dyn {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF && s.Value != 0 {
			out = append(out, symbol{name: s.Name, addr: s.Value, size: s.Size, global: elf.ST_BIND(s.Info) != elf.STB_LOCAL})
		}
	}
	return readSymbolsSorted(out)
}
