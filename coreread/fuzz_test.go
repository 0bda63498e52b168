package coreread

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Fuzz targets for the ELF reader. Seeds come from the real golden cores
// (testdata/golden): their headers and notes, and a shrunken copy of each
// core (every segment cut to its first page), plus the synthetic cores of
// core_test.go.

// goldenCores returns the decompressed golden cores (through the
// decompression cache, so only the first run pays for it).
func goldenCores(f *testing.F) [][]byte {
	f.Helper()
	_, self, _, _ := runtime.Caller(0)
	var out [][]byte
	for _, name := range []string{"debian-3.11-gcore", "pyenv-3.13-abort"} {
		path, err := Decompressed(filepath.Join(filepath.Dir(self), "..", "testdata", "golden", name+".core.xz"), DecompressOptions{CacheDir: filepath.Join(os.TempDir(), "pycoroner-test-cache-verified")})
		if err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// shrink keeps a core's headers and notes and the first 512 bytes of each
// of its first 24 segments, rewriting the offsets: a real core small
// enough for the fuzzer.
func shrink(raw []byte) []byte {
	le := binary.LittleEndian
	phoff, phnum := le.Uint64(raw[32:]), int(le.Uint16(raw[56:]))
	phnum = min(phnum, 24)
	out := append([]byte(nil), raw[:64]...)
	le.PutUint64(out[32:], 64)
	le.PutUint16(out[56:], uint16(phnum))
	le.PutUint64(out[40:], 0) // no section headers
	le.PutUint16(out[60:], 0)
	phdrs := make([]byte, phnum*56)
	copy(phdrs, raw[phoff:])
	out = append(out, phdrs...)
	for i := 0; i < phnum; i++ {
		ph := out[64+i*56:]
		off, filesz := le.Uint64(ph[8:]), le.Uint64(ph[32:])
		keep := filesz
		if le.Uint32(ph) == uint32(elf.PT_LOAD) {
			keep = min(filesz, 512)
		}
		if off+keep > uint64(len(raw)) {
			keep = 0
		}
		le.PutUint64(ph[8:], uint64(len(out)))
		le.PutUint64(ph[32:], keep)
		out = append(out, raw[off:off+keep]...)
	}
	return out
}

// noteSegments returns the PT_NOTE contents of a core.
func noteSegments(raw []byte) [][]byte {
	le := binary.LittleEndian
	phoff, phnum := le.Uint64(raw[32:]), int(le.Uint16(raw[56:]))
	var out [][]byte
	for i := 0; i < phnum; i++ {
		ph := raw[phoff+uint64(i)*56:]
		if le.Uint32(ph) == uint32(elf.PT_NOTE) {
			off, size := le.Uint64(ph[8:]), le.Uint64(ph[32:])
			out = append(out, raw[off:off+size])
		}
	}
	return out
}

// descs returns the descriptors of the notes of one type in a note segment.
func descs(notes []byte, typ uint32) [][]byte {
	le := binary.LittleEndian
	var out [][]byte
	for len(notes) >= 12 {
		namesz, descsz, t := uint64(le.Uint32(notes)), uint64(le.Uint32(notes[4:])), le.Uint32(notes[8:])
		start := 12 + align4(namesz)
		if start+descsz > uint64(len(notes)) {
			break
		}
		if t == typ {
			out = append(out, notes[start:start+descsz])
		}
		notes = notes[start+align4(descsz):]
	}
	return out
}

// memFile puts data in an in-memory file.
func memFile(t *testing.T, data []byte) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("fuzzcore", 0)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	f := os.NewFile(uintptr(fd), "fuzzcore")
	if _, err := f.Write(data); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return f
}

// checkOpenError fails on an error a user should never see.
func checkOpenError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || strings.Contains(msg, "malformed ELF file (") {
		t.Fatalf("error %q: several lines, or a recovered panic", msg)
	}
}

// FuzzOpen feeds whole (small) cores to the reader: the ELF header, the
// program headers, the notes and the segments; then reads every segment's
// first and last byte and a string from each.
func FuzzOpen(f *testing.F) {
	for _, raw := range goldenCores(f) {
		f.Add(shrink(raw))
	}
	f.Add(synthCore(&testing.T{}, note(ntPrstatus, prstatus(1, 0)), 0x1000, make([]byte, 4096)))
	for _, seed := range hostileHeaderSeeds() {
		f.Add(seed)
	}
	sysroot := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		mf := memFile(t, data)
		p, err := open(mf, "fuzzcore", Options{Sysroot: sysroot})
		if err != nil {
			mf.Close()
			checkOpenError(t, err)
			return
		}
		defer p.Close()
		for _, s := range p.Segments() {
			for _, a := range []uint64{s.Vaddr, s.Vaddr + s.Memsz - 1} {
				var b [1]byte
				_, err := p.ReadAt(b[:], a)
				if s.Truncated && a-s.Vaddr >= s.Filesz && err != nil && !errors.Is(err, ErrTruncated) {
					t.Fatalf("read of the lost part of a truncated segment at 0x%x: %v", a, err)
				}
			}
			p.CString(s.Vaddr, 256)
		}
		checkSysroot(t, p, sysroot)
	})
}

// hostileHeaderSeeds are small cores whose program headers were once
// costly or fatal: sums that wrap, segments overlapping in memory and in the
// file, note segments on the same notes.
func hostileHeaderSeeds() [][]byte {
	load := func(vaddr, memsz, off, filesz uint64) elf.Prog64 {
		return elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Vaddr: vaddr, Memsz: memsz, Off: off, Filesz: filesz}
	}
	page := make([]byte, 512)
	notes := note(ntPrstatus, prstatus(7, 0))
	noteAt := elf.Prog64{Type: uint32(elf.PT_NOTE), Off: bodyOff(4), Filesz: uint64(len(notes))}
	huge := ^uint64(0) - 99
	return [][]byte{
		rawCore([]elf.Prog64{load(0x10000, huge, bodyOff(1), huge)}, page),
		rawCore([]elf.Prog64{load(0x1000, 0x49090000491000, bodyOff(2), 0x200), load(0x3000, 0x1000, bodyOff(2)+1<<20, 0x1000)}, page),
		rawCore([]elf.Prog64{noteAt, noteAt, noteAt, load(0x1000, 0x1000, bodyOff(4)+uint64(len(notes)), 0x200)}, append(notes, page...)),
		rawCore([]elf.Prog64{load(0x1000, 0x1000, bodyOff(3), 0x200), load(0x2000, 0x1000, bodyOff(3), 0x200), load(0x3000, 0x1000, bodyOff(3), 0x200)}, page),
	}
}

// FuzzNotes feeds one PT_NOTE segment (seeded with the golden cores' real
// notes: NT_PRSTATUS, NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE) to the
// note parser, then resolves the files NT_FILE names under a sysroot.
func FuzzNotes(f *testing.F) {
	for _, raw := range goldenCores(f) {
		for _, n := range noteSegments(raw) {
			f.Add(n)
		}
	}
	sysroot := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &Process{data: data, opts: Options{Sysroot: sysroot}, files: map[string]*mappedFile{}, auxv: map[uint64]uint64{}}
		defer closeFiles(p)
		err := p.readNotes(&elf.Prog{ProgHeader: elf.ProgHeader{Type: elf.PT_NOTE, Filesz: uint64(len(data))}}, uint64(len(data)))
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error of several lines: %q", err)
		}
		if len(p.threads) > len(data)/(12+112) {
			t.Fatalf("%d threads from %d bytes of notes", len(p.threads), len(data))
		}
		p.setupFiles()
		checkSysroot(t, p, sysroot)
	})
}

// FuzzFileNote feeds NT_FILE descriptors (seeded with the golden cores')
// to the parser and resolves the files under a sysroot that holds a file
// and a symlink to /bin/sh: nothing outside the sysroot may be opened.
func FuzzFileNote(f *testing.F) {
	for _, raw := range goldenCores(f) {
		for _, n := range noteSegments(raw) {
			for _, d := range descs(n, ntFile) {
				f.Add(d)
			}
		}
	}
	f.Add(fileNote([][3]uint64{{0x1000, 0x2000, 0}, {0x2000, 0x3000, 1}}, []string{"/usr/lib/inside.so", "/usr/lib/escape.so"}))
	f.Add(fileNote([][3]uint64{{0x1000, 0x2000, 0}}, []string{"/../../../../bin/sh"}))
	sysroot := f.TempDir()
	os.MkdirAll(filepath.Join(sysroot, "usr/lib"), 0o755)
	os.WriteFile(filepath.Join(sysroot, "usr/lib/inside.so"), []byte("\x7fELF not really"), 0o644)
	os.Symlink("/bin/sh", filepath.Join(sysroot, "usr/lib/escape.so"))
	f.Fuzz(func(t *testing.T, desc []byte) {
		p := &Process{opts: Options{Sysroot: sysroot}, files: map[string]*mappedFile{}, auxv: map[uint64]uint64{}}
		defer closeFiles(p)
		if err := p.parseFileNote(desc); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error of several lines: %q", err)
		}
		if len(p.maps) > len(desc)/24 {
			t.Fatalf("%d mappings from %d bytes", len(p.maps), len(desc))
		}
		p.setupFiles()
		checkSysroot(t, p, sysroot)
		for _, m := range p.maps {
			var b [8]byte
			p.readFromFile(b[:], m.Start)
		}
		checkSysroot(t, p, sysroot)
	})
}

// checkSysroot fails when a file behind the image was opened outside the
// sysroot (through .., or a symlink).
func checkSysroot(t *testing.T, p *Process, sysroot string) {
	t.Helper()
	root, _ := filepath.EvalSymlinks(sysroot)
	for _, mf := range p.files {
		if mf.f == nil {
			continue
		}
		real, err := filepath.EvalSymlinks(fmt.Sprintf("/proc/self/fd/%d", mf.f.Fd()))
		if err != nil {
			continue
		}
		if real != root && !strings.HasPrefix(real, root+"/") {
			t.Fatalf("%s (named %q) was opened at %s, outside the sysroot %s", mf.info.DiskPath, mf.info.Path, real, root)
		}
	}
}

// closeFiles closes the files a test-made Process opened (its data is not
// an mmap, so Close does not apply).
func closeFiles(p *Process) {
	for _, mf := range p.files {
		mf.close()
	}
}
