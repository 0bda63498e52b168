package pyheap

import (
	"encoding/binary"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// patchedImage is a core with some bytes replaced, as a damaged or hostile
// process would have them.
type patchedImage struct {
	*coreread.Process
	bytes map[uint64]byte
}

func (p *patchedImage) putU64(addr, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	for i, c := range b {
		p.bytes[addr+uint64(i)] = c
	}
}

func (p *patchedImage) patch(b []byte, addr uint64) {
	for at, c := range p.bytes {
		if at >= addr && at-addr < uint64(len(b)) {
			b[at-addr] = c
		}
	}
}

func (p *patchedImage) ReadAt(b []byte, addr uint64) (int, error) {
	n, err := p.Process.ReadAt(b, addr)
	p.patch(b[:n], addr)
	return n, err
}

func (p *patchedImage) Uint64(addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := p.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

func (p *patchedImage) InCore(addr uint64, n int) []byte {
	in := p.Process.InCore(addr, n)
	touched := false
	for at := range p.bytes {
		touched = touched || (at >= addr && at-addr < uint64(len(in)))
	}
	if !touched {
		return in
	}
	out := append([]byte(nil), in...)
	p.patch(out, addr)
	return out
}

func golden313(t *testing.T) string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "testdata", "golden", "pyenv-3.13-abort.core.xz")
}

// TestDebugOffsetsValidated damages the _Py_DebugOffsets of a 3.13 core in
// each way CPython's own validator checks, and expects the runtime to say
// so (or, for a free-threaded flag, to refuse the build in one line).
func TestDebugOffsetsValidated(t *testing.T) {
	p := openCore(t, golden313(t))
	base := openRuntime(t, p)
	rt := base.Addr
	if err := base.checkDebugOffsets(rt, 0); err != nil {
		t.Fatalf("untouched core: %v", err)
	}
	checks := layout.DebugChecks(versionString(base.HexVersion))
	find := func(path string) layout.DebugCheck {
		for _, c := range checks {
			if c.Path == path {
				return c
			}
		}
		t.Fatalf("no check for %s", path)
		return layout.DebugCheck{}
	}
	cur := find("thread_state.current_frame")
	curVal, _ := p.Uint64(rt + uint64(cur.At))
	size, _ := p.Uint64(rt + uint64(cur.SizeAt))
	for _, c := range []struct {
		name    string
		damage  func(*patchedImage)
		wantErr string // from checkDebugOffsets
	}{
		{"cookie", func(pi *patchedImage) { pi.bytes[rt] = 'X' }, "no _Py_DebugOffsets cookie"},
		{"version", func(pi *patchedImage) { pi.putU64(rt+8, 0x030c00f0) }, "no _Py_DebugOffsets description"},
		{"free-threaded", func(pi *patchedImage) { pi.putU64(rt+uint64(find("free_threaded").At), 1) }, "free-threaded"},
		{"misaligned", func(pi *patchedImage) { pi.putU64(rt+uint64(cur.At), curVal+1) }, "not aligned"},
		{"outside its struct", func(pi *patchedImage) { pi.putU64(rt+uint64(cur.At), size) }, "exceeds thread_state.size"},
		{"section size", func(pi *patchedImage) { pi.putU64(rt+uint64(cur.SizeAt), 0) }, "thread_state.size is 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pi := &patchedImage{Process: p, bytes: map[uint64]byte{}}
			c.damage(pi)
			r := newRuntime(pi)
			err := r.checkDebugOffsets(rt, 0)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("checkDebugOffsets: %v, want %q", err, c.wantErr)
			}
			if c.name == "cookie" {
				return // Open then scans memory: integration's corrupt-core test covers it
			}
			r2, err := Open(pi, Options{})
			switch {
			case c.name == "free-threaded":
				if err == nil || !strings.Contains(err.Error(), "free-threaded build") || strings.Contains(err.Error(), "\n") {
					t.Errorf("Open: %v, want a one-line refusal of the free-threaded build", err)
				}
			case err == nil:
				// The runtime is still found by its table; the damaged
				// offsets must not be used, and it must say so.
				found := false
				for _, w := range r2.Warnings() {
					found = found || strings.Contains(w, "_Py_DebugOffsets")
				}
				if !found {
					t.Errorf("no warning about the damaged _Py_DebugOffsets: %v", r2.Warnings())
				}
			}
		})
	}
}

func TestVersionString(t *testing.T) {
	for hex, want := range map[uint64]string{0x030e0af0: "3.14.10", 0x030d12f0: "3.13.18", 0x030f00b1: "3.15.0b1", 0x030c00c2: "3.12.0rc2"} {
		if got := versionString(hex); got != want {
			t.Errorf("versionString(0x%x) = %s, want %s", hex, got, want)
		}
	}
}

// TestNoValidInterpreterSaysWhy: a build no table covers (the cookie of a
// 3.13 core rewritten to claim 3.16) gets an error naming what the build
// claims, what each candidate failed on, and what pycoroner reads.
func TestNoValidInterpreterSaysWhy(t *testing.T) {
	p := openCore(t, golden313(t))
	base := openRuntime(t, p)
	pi := &patchedImage{Process: p, bytes: map[uint64]byte{}}
	pi.putU64(base.Addr+8, 0x031000f0)
	_, err := Open(pi, Options{})
	if err == nil {
		t.Fatal("Open found a runtime in a build claiming 3.16")
	}
	for _, want := range []string{
		"_Py_DebugOffsets at", "version 0x031000f0", // what the build claims
		"as 3.16: no layout table for CPython 3.16",   // what the candidate failed on
		"pycoroner reads CPython 3.8, 3.9", "3.14.10", // what is supported
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}
