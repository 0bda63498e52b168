package unwind

import (
	"debug/elf"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/coreread"
)

func TestSymbolAtPrefersWhatGDBShows(t *testing.T) {
	m := &module{syms: readSymbolsSorted([]symbol{
		{name: "__GI___clone3", addr: 0x100, size: 0x40},
		{name: "clone3", addr: 0x100, size: 0x40},
		{name: "__clone3", addr: 0x100, size: 0x40},
		{name: "local_helper", addr: 0x200, size: 0x10},
		{name: "exported", addr: 0x200, size: 0x10, global: true},
		{name: "unsized", addr: 0x300},
		{name: "sized", addr: 0x300, size: 8},
		{name: "__syscall_cancel_arch", addr: 0x400, size: 0x2f},
		{name: "__syscall_cancel_arch_start", addr: 0x400},
		{name: "__syscall_cancel_arch_end", addr: 0x42e},
		{name: "label_after", addr: 0x500},
	})}
	tests := []struct {
		vaddr uint64
		want  string
		ok    bool
	}{
		{0x100, "clone3", true},
		{0x13f, "clone3", true},
		{0x140, "", false}, // past the sized symbol, before the next
		{0x205, "exported", true},
		{0x302, "sized", true},
		{0x50, "", false},
		{0x42e, "__syscall_cancel_arch", true}, // a label inside a sized function
		{0x400, "__syscall_cancel_arch", true},
		{0x505, "label_after", true}, // no sized symbol covers it
	}
	for _, tc := range tests {
		s, ok := m.symbolAt(tc.vaddr)
		if ok != tc.ok || s.name != tc.want {
			t.Errorf("symbolAt(0x%x) = %q, %v; want %q, %v", tc.vaddr, s.name, ok, tc.want, tc.ok)
		}
	}
}

func TestEvalPLTExpression(t *testing.T) {
	// The CFA of a PLT entry: rsp+8, plus 8 once past the push
	// (DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11;
	// DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus).
	expr := []byte{0x77, 8, 0x80, 0, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22}
	u := &Unwinder{}
	for _, tc := range []struct{ rip, want uint64 }{{0x1000, 0x7008}, {0x100b, 0x7010}} {
		var r regs
		r.v[regRSP], r.ok[regRSP] = 0x7000, true
		r.v[regRIP], r.ok[regRIP] = tc.rip, true
		got, err := u.eval(expr, r)
		if err != nil || got != tc.want {
			t.Errorf("rip 0x%x: got 0x%x, %v; want 0x%x", tc.rip, got, err, tc.want)
		}
	}
	bad := [][]byte{{0x22}, {0x0e, 1, 2}, {0xff}, {0x77}}
	for _, e := range bad {
		var r regs
		if _, err := u.eval(e, r); err == nil {
			t.Errorf("eval(%x) succeeded; want an error", e)
		}
	}
}

func TestDescribeAddress(t *testing.T) {
	const page = 4096
	segs := []coreread.Segment{
		{Vaddr: 0x10_0000, Memsz: page, Flags: elf.PF_R},                       // read-only file data
		{Vaddr: 0x20_0000, Memsz: page},                                        // PROT_NONE guard
		{Vaddr: 0x20_1000, Memsz: 16 * page, Flags: elf.PF_R | elf.PF_W},       // a thread's stack
		{Vaddr: 0x30_0000, Memsz: page},                                        // a lone PROT_NONE page
		{Vaddr: 0x40_0000, Memsz: 16 * page, Flags: elf.PF_R | elf.PF_W},       // the main stack
		{Vaddr: 0x50_0000, Memsz: page, Flags: elf.PF_R | elf.PF_W | elf.PF_X}, // rwx anonymous
	}
	threads := []coreread.Thread{{TID: 7, Regs: coreread.Registers{RSP: 0x20_8000}}, {TID: 1, Regs: coreread.Registers{RSP: 0x40_2000}}}
	fileAt := func(a uint64) (string, bool) {
		if a >= 0x10_0000 && a < 0x10_1000 {
			return "/usr/lib/libdemo.so", true
		}
		return "", false
	}
	tests := []struct {
		addr uint64
		code int
		want string
	}{
		{0, 1, "null page (NULL + 0x0)"},
		{0x18, 1, "null page (NULL + 0x18)"},
		{0x20_0010, 2, "stack guard page of thread 7"},
		{0x30_0010, 2, "no-access (PROT_NONE) mapping"},
		{0x3f_f000, 1, "just below the stack of thread 1"},
		{0x90_0000, 1, "unmapped"},
		{0x10_0008, 2, "read-only mapping (r--) of /usr/lib/libdemo.so: a write to it"},
		{0x50_0008, 1, "mapped (rwx) in anonymous memory"},
	}
	for _, tc := range tests {
		got := describeAddress(tc.addr, tc.code, segs, threads, fileAt)
		if !strings.Contains(got, tc.want) {
			t.Errorf("describeAddress(0x%x, %d) = %q; want it to contain %q", tc.addr, tc.code, got, tc.want)
		}
	}
}

func TestDebugDirs(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", []string{"/usr/lib/debug"}},
		{"/root/.cache/sid/usr/lib/x86_64-linux-gnu/libc.so.6", []string{"/root/.cache/sid/usr/lib/debug", "/usr/lib/debug"}},
		{"/opt/app/bin/python", []string{"/usr/lib/debug"}},
	}
	for _, tc := range tests {
		if got := debugDirs(tc.path); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("debugDirs(%q) = %q; want %q", tc.path, got, tc.want)
		}
	}
}
