package unwind

import (
	"debug/elf"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/coreread"
)

// fakeImage is a process image in memory: one executable segment (code no
// file describes, so the unwinder falls back to frame pointers) and one
// stack segment.
type fakeImage struct {
	mem     map[uint64]byte
	threads []coreread.Thread
	segs    []coreread.Segment
}

func (f *fakeImage) ReadAt(b []byte, addr uint64) (int, error) {
	for i := range b {
		v, ok := f.mem[addr+uint64(i)]
		if !ok {
			return i, coreread.ErrNotMapped
		}
		b[i] = v
	}
	return len(b), nil
}
func (f *fakeImage) Threads() []coreread.Thread   { return f.threads }
func (f *fakeImage) Files() []coreread.FileInfo   { return nil }
func (f *fakeImage) Mappings() []coreread.Mapping { return nil }
func (f *fakeImage) Segments() []coreread.Segment { return f.segs }
func (f *fakeImage) put(addr, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	for i, c := range b {
		f.mem[addr+uint64(i)] = c
	}
}

const (
	codeBase  = 0x400000
	stackBase = 0x7000_0000
	stackSize = 0x10000
)

func newFake(regs coreread.Registers, words map[uint64]uint64) *fakeImage {
	f := &fakeImage{mem: map[uint64]byte{}, threads: []coreread.Thread{{TID: 1, Regs: regs}},
		segs: []coreread.Segment{
			{Vaddr: codeBase, Memsz: 0x1000, Flags: elf.PF_R | elf.PF_X},
			{Vaddr: stackBase, Memsz: stackSize, Flags: elf.PF_R | elf.PF_W},
		}}
	for a := uint64(stackBase); a < stackBase+stackSize; a += 8 {
		f.put(a, 0)
	}
	for a, v := range words {
		f.put(a, v)
	}
	return f
}

func TestCorruptStacksEndWithANote(t *testing.T) {
	sp := uint64(stackBase + 0x100)
	tests := []struct {
		name     string
		regs     coreread.Registers
		words    map[uint64]uint64
		frames   int
		complete bool
		note     string
	}{
		{
			name: "frame pointers to the outermost frame",
			regs: coreread.Registers{RIP: codeBase + 0x10, RSP: sp, RBP: sp + 0x20},
			words: map[uint64]uint64{
				sp + 0x20: sp + 0x40, sp + 0x28: codeBase + 0x20, // frame 1
				sp + 0x40: 0, sp + 0x48: 0, // return address 0: the end
			},
			frames: 2, complete: true,
		},
		{
			name:   "a frame pointer that points at itself",
			regs:   coreread.Registers{RIP: codeBase + 0x10, RSP: sp, RBP: sp + 0x20},
			words:  map[uint64]uint64{sp + 0x20: sp + 0x20, sp + 0x28: codeBase + 0x20},
			frames: 2, note: "not a frame pointer",
		},
		{
			name:   "a frame pointer below the stack pointer",
			regs:   coreread.Registers{RIP: codeBase + 0x10, RSP: sp, RBP: sp - 0x40},
			frames: 1, note: "not a frame pointer",
		},
		{
			name:   "a return address into data",
			regs:   coreread.Registers{RIP: codeBase + 0x10, RSP: sp, RBP: sp + 0x20},
			words:  map[uint64]uint64{sp + 0x20: sp + 0x40, sp + 0x28: stackBase + 8},
			frames: 1, note: "not in executable memory",
		},
		{
			name:   "a frame pointer off the end of memory",
			regs:   coreread.Registers{RIP: codeBase + 0x10, RSP: sp, RBP: stackBase + stackSize - 4},
			frames: 1, note: "read saved rbp",
		},
		{
			name:   "a call through NULL: the return address is on top",
			regs:   coreread.Registers{RIP: 0, RSP: sp, RBP: 0},
			words:  map[uint64]uint64{sp: codeBase + 0x30},
			frames: 2, note: "no frame pointer",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := New(newFake(tc.regs, tc.words), Options{}).All()[0]
			if len(st.Frames) != tc.frames || st.Complete != tc.complete || !strings.Contains(st.Note, tc.note) {
				t.Errorf("%d frames, complete %v, note %q; want %d, %v, a note with %q", len(st.Frames), st.Complete, st.Note, tc.frames, tc.complete, tc.note)
			}
		})
	}
}

// FuzzUnwind feeds the unwinder arbitrary stack contents and registers: it
// must end, within its bounds, without a panic.
func FuzzUnwind(f *testing.F) {
	f.Add([]byte{0x20, 0x01, 0x00, 0x70}, uint64(codeBase+0x10), uint64(stackBase+0x100), uint64(stackBase+0x120))
	f.Add(make([]byte, 64), uint64(0), uint64(stackBase), uint64(0))
	f.Fuzz(func(t *testing.T, stack []byte, rip, rsp, rbp uint64) {
		img := newFake(coreread.Registers{RIP: rip, RSP: rsp, RBP: rbp}, nil)
		for i, c := range stack {
			if i >= stackSize {
				break
			}
			img.mem[stackBase+uint64(i)] = c
		}
		st := New(img, Options{}).All()[0]
		if len(st.Frames) > maxFrames+1 {
			t.Fatalf("%d frames: the bound did not hold", len(st.Frames))
		}
		if !st.Complete && st.Note == "" {
			t.Fatalf("incomplete without a note")
		}
	})
}
