package elfdwarf

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/pycoroner/pycoroner/indexfile"
)

// A C file whose DWARF has what pycoroner reads: units, ranges of
// inlined and out-of-line code, line tables, call sites.
const cSource = `
#include <stdio.h>
#include <stdlib.h>
static int leaf(int x) { return x * 3 + 1; }
__attribute__((noinline)) int middle(int x) { if (x > 7) abort(); return leaf(x) + leaf(x + 1); }
__attribute__((noinline)) int tail(int x) { return middle(x ^ 5); }
int main(int argc, char **argv) { printf("%d\\n", tail(argc)); return 0; }
`

// buildC compiles cSource with gcc -g -O2 into dir.
func buildC(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gcc is not installed (apt-get install gcc)")
		}
		t.Skip("gcc is not installed")
	}
	src, bin := filepath.Join(dir, "prog.c"), filepath.Join(dir, "prog")
	if err := os.WriteFile(src, []byte(cSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-g", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// TestSameAsFileDWARF compares Load with debug/elf's own File.DWARF on
// a gcc-built program with its debug sections compressed with zlib, with
// zstd and not at all: every entry, every line.
func TestSameAsFileDWARF(t *testing.T) {
	dir := t.TempDir()
	prog := buildC(t, dir)
	files := map[string]string{}
	for _, how := range []string{"zlib", "zstd", "none"} {
		out := filepath.Join(dir, how)
		if b, err := exec.Command("objcopy", "--compress-debug-sections="+how, prog, out).CombinedOutput(); err != nil {
			t.Fatalf("objcopy --compress-debug-sections=%s: %v %s", how, err, b)
		}
		files[how] = out
	}
	for name, path := range files {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ef, err := elf.NewFile(f)
			if err != nil {
				t.Fatal(err)
			}
			info := ef.Section(".debug_info")
			if info == nil {
				t.Fatal("no .debug_info")
			}
			if compressed := info.Flags&elf.SHF_COMPRESSED != 0; compressed != (name != "none") {
				t.Fatalf(".debug_info compressed: %v, after objcopy %s", compressed, name)
			}
			want, err := ef.DWARF()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(ef, f)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, want, got)
		})
	}
}

func compare(t *testing.T, want, got *dwarf.Data) {
	t.Helper()
	wr, gr := want.Reader(), got.Reader()
	n, units := 0, 0
	for {
		we, werr := wr.Next()
		ge, gerr := gr.Next()
		if (werr != nil) != (gerr != nil) || !reflect.DeepEqual(we, ge) {
			t.Fatalf("entry %d: File.DWARF %+v (%v), Load %+v (%v)", n, we, werr, ge, gerr)
		}
		if we == nil {
			break
		}
		n++
		if we.Tag == dwarf.TagCompileUnit {
			units++
			wl, werr := want.LineReader(we)
			gl, gerr := got.LineReader(ge)
			if (werr != nil) != (gerr != nil) || (wl == nil) != (gl == nil) {
				t.Fatalf("unit at %d: line readers differ: %v, %v", we.Offset, werr, gerr)
			}
			for wl != nil {
				var wle, gle dwarf.LineEntry
				werr, gerr := wl.Next(&wle), gl.Next(&gle)
				if (werr != nil) != (gerr != nil) {
					t.Fatalf("unit at %d: line entries end apart: %v, %v", we.Offset, werr, gerr)
				}
				if werr != nil {
					break
				}
				if wle.Address != gle.Address || wle.Line != gle.Line || wle.File.Name != gle.File.Name {
					t.Fatalf("unit at %d: line entry %+v, want %+v", we.Offset, gle, wle)
				}
			}
		}
	}
	if units == 0 {
		t.Fatalf("no compile unit among %d entries: nothing compared", n)
	}
	t.Logf("%d entries in %d units alike", n, units)
}

// TestHostileCompressedSections: a compressed section that claims more
// than it can hold, or whose data is not what it claims, is an error,
// never a panic or an allocation of what it claims.
func TestHostileCompressedSections(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "zlib")
	if b, err := exec.Command("objcopy", "--compress-debug-sections=zlib", buildC(t, dir), prog).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v %s", err, b)
	}
	raw, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	info := ef.Section(".debug_info")
	if info == nil || info.Flags&elf.SHF_COMPRESSED == 0 {
		t.Fatal("objcopy left .debug_info uncompressed")
	}
	cases := []struct {
		name string
		edit func(b []byte)
	}{
		{"claims 1 TB", func(b []byte) { binary.LittleEndian.PutUint64(b[info.Offset+8:], 1<<40) }},
		{"claims more than deflate can give", func(b []byte) {
			binary.LittleEndian.PutUint64(b[info.Offset+8:], info.FileSize*2000)
		}},
		{"claims twice its size", func(b []byte) { binary.LittleEndian.PutUint64(b[info.Offset+8:], info.Size*2) }},
		{"unknown compression", func(b []byte) { binary.LittleEndian.PutUint32(b[info.Offset:], 77) }},
		{"its header claims 2 GiB of the file, 2 GiB inflated", func(b []byte) {
			shoff := binary.LittleEndian.Uint64(b[0x28:])
			shentsize := uint64(binary.LittleEndian.Uint16(b[0x3a:]))
			for i, sec := range ef.Sections {
				if sec.Name == ".debug_info" {
					binary.LittleEndian.PutUint64(b[shoff+uint64(i)*shentsize+0x20:], 2<<30-1)
				}
			}
			binary.LittleEndian.PutUint64(b[info.Offset+8:], 2<<30-1)
		}},
		{"data overwritten", func(b []byte) {
			for i := info.Offset + 24; i < info.Offset+info.FileSize && i < info.Offset+4096; i++ {
				b[i] = 0xa5
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := append([]byte(nil), raw...)
			c.edit(b)
			r := strings.NewReader(string(b))
			ef, err := elf.NewFile(r)
			if err != nil {
				return // debug/elf refused it already
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = Load(ef, r)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("Load accepted a %s .debug_info", c.name)
			}
			t.Log(err)
			if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
				t.Errorf("Load allocated %d MiB for a file of %d KiB", got>>20, len(b)>>10)
			}
		})
	}
}

// TestZstdWindowBounded: a zstd frame may name a window of 512 MiB in a
// few bytes; a section that claims a few bytes inflated must not make
// the decoder allocate it.
func TestZstdWindowBounded(t *testing.T) {
	// A frame by hand (RFC 8878): magic, a descriptor with no content
	// size and not single-segment, so a window descriptor follows naming
	// 2^(10+19) bytes, then one last raw block of 8 bytes.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 19 << 3, 8<<3 | 1, 0, 0}
	frame = append(frame, "12345678"...)
	var h zstd.Header
	if err := h.Decode(frame); err != nil || h.WindowSize != 1<<29 {
		t.Fatalf("the frame names a window of %d bytes (%v), want 512 MiB: nothing tested", h.WindowSize, err)
	}
	payload := bytes.NewBuffer(frame)
	chdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(chdr, uint32(elf.COMPRESS_ZSTD))
	binary.LittleEndian.PutUint64(chdr[8:], 8)
	file := bytes.NewReader(append(chdr, payload.Bytes()...))
	f := &elf.File{FileHeader: elf.FileHeader{ByteOrder: binary.LittleEndian, Class: elf.ELFCLASS64}}
	s := &elf.Section{SectionHeader: elf.SectionHeader{Name: ".debug_info", Flags: elf.SHF_COMPRESSED, FileSize: uint64(file.Size()), Size: 8}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := sectionData(f, file, s)
	runtime.ReadMemStats(&after)
	t.Logf("%d bytes of zstd frame: %q, %v", payload.Len(), got, err)
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("inflating 8 bytes allocated %d MiB", n>>20)
	}
}

// TestLoadCached: the first load of a compressed file keeps its sections,
// the next maps them, and both give what File.DWARF gives; a kept copy
// damaged on disk is not used but made again; an uncompressed file keeps
// nothing.
func TestLoadCached(t *testing.T) {
	dir := t.TempDir()
	prog := buildC(t, dir)
	zlibbed := filepath.Join(dir, "zlib")
	if b, err := exec.Command("objcopy", "--compress-debug-sections=zlib", prog, zlibbed).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v %s", err, b)
	}
	cache := &indexfile.Cache{Dir: filepath.Join(dir, "cache")}
	load := func(path string) (*dwarf.Data, *dwarf.Data, string) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		ef, err := elf.NewFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ef.DWARF()
		if err != nil {
			t.Fatal(err)
		}
		var said strings.Builder
		got, err := LoadCached(ef, f, Cached{Cache: cache, Label: path, Trace: func(format string, args ...any) {
			fmt.Fprintf(&said, format+"\n", args...)
		}})
		if err != nil {
			t.Fatal(err)
		}
		return want, got, said.String()
	}
	kept := func() []string {
		files, _ := filepath.Glob(filepath.Join(cache.Dir, "dwarf-*.pycidx"))
		return files
	}
	steps := []struct {
		name, path, said string
		damage           bool
		files            int
	}{
		{"first load", zlibbed, "kept the DWARF of", false, 1},
		{"second load", zlibbed, "loaded the DWARF of", false, 1},
		{"damaged copy", zlibbed, "inflating " + zlibbed + " again", true, 1},
		{"after the damage", zlibbed, "loaded the DWARF of", false, 1},
		{"uncompressed", prog, "", false, 1},
	}
	for _, s := range steps {
		if s.damage {
			files := kept()
			if len(files) != 1 {
				t.Fatalf("%s: kept %v, want one file", s.name, files)
			}
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0xff
			if err := os.WriteFile(files[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		want, got, said := load(s.path)
		compare(t, want, got)
		if (s.said == "") != (said == "") || !strings.Contains(said, s.said) {
			t.Errorf("%s: said %q, want %q", s.name, said, s.said)
		}
		if n := len(kept()); n != s.files {
			t.Errorf("%s: %d files kept, want %d", s.name, n, s.files)
		}
	}
}
