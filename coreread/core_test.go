package coreread

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// synthCore builds a minimal x86-64 ELF core: one PT_NOTE with the given
// notes and one PT_LOAD of mem at vaddr.
func synthCore(t *testing.T, notes []byte, vaddr uint64, mem []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	const ehsize, phsize = 64, 56
	noteOff := uint64(ehsize + 2*phsize)
	loadOff := noteOff + uint64(len(notes))
	hdr := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: 2}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&buf, binary.LittleEndian, hdr)
	binary.Write(&buf, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_NOTE), Off: noteOff, Filesz: uint64(len(notes))})
	binary.Write(&buf, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Off: loadOff, Vaddr: vaddr, Filesz: uint64(len(mem)), Memsz: uint64(len(mem))})
	buf.Write(notes)
	buf.Write(mem)
	return buf.Bytes()
}

func note(typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint32{5, uint32(len(desc)), typ})
	b.WriteString("CORE\x00\x00\x00\x00")
	b.Write(desc)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func prstatus(tid int32, fsbase uint64) []byte {
	d := make([]byte, 336)
	binary.LittleEndian.PutUint32(d[32:], uint32(tid))
	binary.LittleEndian.PutUint64(d[112+21*8:], fsbase)
	return d
}

func fileNote(entries [][3]uint64, names []string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [2]uint64{uint64(len(entries)), 4096})
	for _, e := range entries {
		binary.Write(&b, binary.LittleEndian, e)
	}
	for _, n := range names {
		b.WriteString(n + "\x00")
	}
	return b.Bytes()
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "core")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenSynthetic(t *testing.T) {
	siginfo := make([]byte, 128)
	binary.LittleEndian.PutUint32(siginfo[0:], 11)
	binary.LittleEndian.PutUint32(siginfo[8:], 1) // SEGV_MAPERR: a fault, with si_addr
	binary.LittleEndian.PutUint64(siginfo[16:], 0xdead)
	notes := append(note(ntPrstatus, prstatus(101, 0x7000)), note(ntPrstatus, prstatus(102, 0x8000))...)
	notes = append(notes, note(ntSiginfo, siginfo)...)
	notes = append(notes, note(ntFile, fileNote([][3]uint64{{0x10000, 0x11000, 2}}, []string{"/nonexistent/lib.so"}))...)
	mem := []byte("hello\x00world\x00")
	p, err := Open(writeTemp(t, synthCore(t, notes, 0x1000, mem)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := len(p.Threads()); got != 2 || p.Threads()[0].TID != 101 || p.Threads()[1].Regs.FSBase != 0x8000 {
		t.Errorf("threads = %+v", p.Threads())
	}
	if s := p.Info().Signal; s == nil || s.Signo != 11 || !s.HasAddr || s.Addr != 0xdead {
		t.Errorf("signal = %+v", s)
	}
	if m := p.Mappings(); len(m) != 1 || m[0].FileOffset != 2*4096 || m[0].Path != "/nonexistent/lib.so" {
		t.Errorf("mappings = %+v", m)
	}
	if s, err := p.CString(0x1006, 64); err != nil || s != "world" {
		t.Errorf("CString = %q, %v", s, err)
	}
	if _, err := p.Read(0x10000, 8); err == nil {
		t.Errorf("read of a missing file's page succeeded")
	}
	if _, err := p.Read(0x5000, 8); !errors.Is(err, ErrNotMapped) {
		t.Errorf("read of unmapped memory: %v", err)
	}
}

func TestOpenRejectsBadInput(t *testing.T) {
	good := synthCore(t, note(ntPrstatus, prstatus(1, 0)), 0x1000, make([]byte, 4096))
	exe := append([]byte{}, good...)
	binary.LittleEndian.PutUint16(exe[16:], uint16(elf.ET_EXEC))
	arm := append([]byte{}, good...)
	binary.LittleEndian.PutUint16(arm[18:], uint16(elf.EM_AARCH64))
	hugeNote := synthCore(t, append(note(ntFile, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 16}), make([]byte, 8)...), 0x1000, nil)
	tests := []struct {
		name string
		data []byte
		want string // "" means it must open
	}{
		{"empty", nil, "not an ELF core file"},
		{"text", []byte("#!/bin/sh\necho not a core\n" + strings.Repeat("x", 100)), "not an ELF core file"},
		{"executable", exe, "not a core file"},
		{"other machine", arm, "only x86-64"},
		{"header only", good[:40], "truncated"},
		{"no program headers", good[:80], "truncated"},
		{"cut in notes", good[:64+112+20], ""},
		{"cut in memory", good[:len(good)-100], ""},
		{"NT_FILE count too large", hugeNote, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Open(writeTemp(t, tc.data), Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				p.Close()
				return
			}
			if err == nil {
				p.Close()
				t.Fatalf("Open succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestTruncatedSegmentIsNotFilledFromDisk(t *testing.T) {
	data := synthCore(t, note(ntPrstatus, prstatus(1, 0)), 0x1000, bytes.Repeat([]byte{7}, 8192))
	p, err := Open(writeTemp(t, data[:len(data)-4096]), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.Truncated() {
		t.Error("Truncated() = false")
	}
	if b, err := p.Read(0x1000, 16); err != nil || b[0] != 7 {
		t.Errorf("read of the kept part: %v", err)
	}
	if _, err := p.Read(0x1000+6000, 8); !errors.Is(err, ErrTruncated) {
		t.Errorf("read of the lost part: %v, want ErrTruncated", err)
	}
}

func TestGNUBuildID(t *testing.T) {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint32{4, 4, 3})
	b.WriteString("GNU\x00")
	b.Write([]byte{0xde, 0xad, 0xbe, 0xef})
	if got := gnuBuildID(b.Bytes()); got != "deadbeef" {
		t.Errorf("gnuBuildID = %q", got)
	}
	if got := gnuBuildID(b.Bytes()[:14]); got != "" {
		t.Errorf("gnuBuildID of a cut note = %q", got)
	}
}

// A core path that is a FIFO, a device or a socket is refused at once: a
// FIFO used to block the open (and then every read) forever.
func TestOpenRefusesNonRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "core.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, "named pipe"},
		{"/dev/zero", "character device"},
	} {
		done := make(chan error, 1)
		go func() {
			p, err := Open(tc.path, Options{})
			if err == nil {
				p.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%s) = %v, want an error saying %q", tc.path, err, tc.want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("Open(%s) still blocked after a minute", tc.path)
		}
	}
}

// An NT_FILE naming a file per mapping opens at most maxFiles of them; a
// read behind one of the others is an error, not a crash.
func TestManyFilesBounded(t *testing.T) {
	root := t.TempDir()
	const n = maxFiles + 100
	var entries [][3]uint64
	var names []string
	for i := 0; i < n; i++ {
		name := "/f" + strconv.Itoa(i)
		os.WriteFile(filepath.Join(root, name), []byte("data"), 0o644)
		entries = append(entries, [3]uint64{0x100000 + uint64(i)*0x1000, 0x101000 + uint64(i)*0x1000, 0})
		names = append(names, name)
	}
	p, err := Open(writeTemp(t, synthCore(t, note(ntFile, fileNote(entries, names)), 0x1000, make([]byte, 4096))), Options{Sysroot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := len(p.Files()); got > maxFiles {
		t.Errorf("%d files opened behind the image, more than %d", got, maxFiles)
	}
	if _, err := p.Read(0x100000+uint64(n-1)*0x1000, 4); err == nil {
		t.Errorf("read behind a file that was not opened succeeded")
	}
	if !strings.Contains(strings.Join(p.Warnings(), "\n"), "more than 4096 files") {
		t.Errorf("no warning about the files left out: %q", p.Warnings())
	}
}

// A SIGSEGV raised again by a handler (faulthandler's raise: si_code
// SI_TKILL) carries the sender's pid where a fault carries its address.
func TestSignalSentByAProcessHasNoFaultAddress(t *testing.T) {
	siginfo := make([]byte, 128)
	binary.LittleEndian.PutUint32(siginfo[0:], 11)
	binary.LittleEndian.PutUint32(siginfo[8:], 0xfffffffa) // SI_TKILL (-6)
	binary.LittleEndian.PutUint32(siginfo[16:], 4242)
	notes := append(note(ntPrstatus, prstatus(101, 0x7000)), note(ntSiginfo, siginfo)...)
	p, err := Open(writeTemp(t, synthCore(t, notes, 0x1000, []byte("x"))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if s := p.Info().Signal; s == nil || s.HasAddr || s.SenderPID != 4242 {
		t.Errorf("signal = %+v; want no fault address, sender 4242", s)
	}
}

// TestPopulateSurvivesCoreCutWhileOpen cuts the core file after it was
// mapped: touching the lost pages faults, and Populate must stop touching,
// not crash the program; what is left still reads.
func TestPopulateSurvivesCoreCutWhileOpen(t *testing.T) {
	data := synthCore(t, note(ntPrstatus, prstatus(1, 0)), 0x1000, bytes.Repeat([]byte{7}, 64<<20))
	path := writeTemp(t, data)
	p, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := os.Truncate(path, int64(len(data))/2); err != nil {
		t.Fatal(err)
	}
	p.Populate()
	if b, err := p.Read(0x1000, 16); err != nil || b[0] != 7 {
		t.Errorf("read of the kept part after Populate: %v", err)
	}
}
