// Package elfdwarf opens the DWARF of an ELF file faster than
// debug/elf's File.DWARF, for the compressed debug files distributions
// ship (Debian's python3.X-dbg: 12 MB of zlib that File.DWARF inflates
// in about 0.8 s on a small machine, every run).
//
// It inflates only the sections pycoroner reads (not the location
// lists, a fifth of the data), all of them at once on every CPU, with
// klauspost/compress, about 1.5× faster than compress/zlib. What it
// does not handle the same way (relocatable objects, legacy .zdebug
// sections) goes to File.DWARF unchanged.
//
// It knows ELF and DWARF sections only; nothing of cores or Python.
// Everything it reads is untrusted: a compressed section may not claim
// more than a bounded size, nor inflate past what it claims.
package elfdwarf

import (
	"bufio"
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// The sections dwarf.New takes, in its order ("" for aranges, frame and
// pubnames, which debug/dwarf never reads), and those added after.
var (
	baseSections  = []string{"abbrev", "", "", "info", "line", "", "ranges", "str"}
	extraSections = []string{"addr", "line_str", "rnglists", "str_offsets"}
)

// maxSection bounds what one section may claim inflated: a hostile
// header must not make us allocate without limit. Deflate cannot expand
// more than about 1032 times; neither claim may exceed either bound.
const (
	maxSection = 2 << 30
	maxRatio   = 1100
)

// Load returns the DWARF of f, read from file (what f was opened from:
// debug/elf gives no access to a compressed section's own bytes). It
// may fall back to f.DWARF().
func Load(f *elf.File, file io.ReaderAt) (*dwarf.Data, error) {
	if !ours(f, file) {
		return f.DWARF()
	}
	data, err := inflate(f, file)
	if err != nil {
		return nil, err
	}
	return build(data)
}

// ours says whether Load reads f itself: not a relocatable object (its
// relocations to apply), not 32 bits, no legacy .zdebug_ sections nor
// .debug_types, and a file whose length is known.
func ours(f *elf.File, file io.ReaderAt) bool {
	if f.Type == elf.ET_REL || f.Class != elf.ELFCLASS64 {
		return false
	}
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".zdebug_") || s.Name == ".debug_types" {
			return false
		}
	}
	_, ok := sizeOf(file)
	return ok
}

// sectionNames are the sections read, by index in inflate's result: the
// base ones, then the extra ones ("" for those not read).
var sectionNames = append(append([]string{}, baseSections...), extraSections...)

// inflate reads the sections of sectionNames, nil for those f lacks.
func inflate(f *elf.File, file io.ReaderAt) ([][]byte, error) {
	fileSize, _ := sizeOf(file)
	data := make([][]byte, len(sectionNames))
	errs := make([]error, len(sectionNames))
	var wg sync.WaitGroup
	for i, name := range sectionNames {
		if name == "" {
			continue
		}
		s := f.Section(".debug_" + name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			continue
		}
		// debug/elf trusts a section's offset and size without the
		// file's length: a header may claim gigabytes a file lacks.
		if s.Offset > uint64(fileSize) || s.FileSize > uint64(fileSize)-s.Offset {
			return nil, fmt.Errorf("section %s: %d bytes at %d, past the file's %d", s.Name, s.FileSize, s.Offset, fileSize)
		}
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("section %s: malformed (%v)", s.Name, r)
				}
			}()
			data[i], errs[i] = sectionData(f, file, s)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return data, nil
}

// build makes the DWARF of inflate's sections.
func build(data [][]byte) (*dwarf.Data, error) {
	d, err := dwarf.New(data[0], data[1], data[2], data[3], data[4], data[5], data[6], data[7])
	if err != nil {
		return nil, err
	}
	for i, name := range extraSections {
		if b := data[len(baseSections)+i]; b != nil {
			if err := d.AddSection(".debug_"+name, b); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// sectionData reads a section, inflated when it is SHF_COMPRESSED.
func sectionData(f *elf.File, file io.ReaderAt, s *elf.Section) ([]byte, error) {
	if s.Flags&elf.SHF_COMPRESSED == 0 {
		return s.Data()
	}
	const chdrSize = 24 // Elf64_Chdr
	if s.FileSize < chdrSize || s.FileSize > maxSection {
		return nil, fmt.Errorf("section %s: compressed in %d bytes", s.Name, s.FileSize)
	}
	// s.Size is the inflated size the header claims.
	if s.Size > maxSection || s.Size > s.FileSize*maxRatio {
		return nil, fmt.Errorf("section %s: claims %d bytes inflated from %d", s.Name, s.Size, s.FileSize)
	}
	body := io.NewSectionReader(file, int64(s.Offset)+chdrSize, int64(s.FileSize)-chdrSize)
	var r io.Reader
	switch typ := elf.CompressionType(readU32(f, file, s.Offset)); typ {
	case elf.COMPRESS_ZLIB:
		zr, err := zlib.NewReader(bufio.NewReaderSize(body, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", s.Name, err)
		}
		defer zr.Close()
		r = zr
	case elf.COMPRESS_ZSTD:
		// The frame's header names its window, which the decoder
		// allocates: no more than the section claims (encoders size it
		// to their input), so 17 bytes cannot cost 512 MiB.
		window := min(max(2*s.Size, 1<<20), zstd.MaxWindowSize)
		zr, err := zstd.NewReader(body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(window), zstd.WithDecoderMaxMemory(window))
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", s.Name, err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("section %s: unknown compression type %d", s.Name, typ)
	}
	// Grown as data arrives, from a few times the compressed size (real
	// sections inflate 2 to 6 times): what is allocated is bounded by
	// what the file holds, not by what its header claims.
	out := bytes.NewBuffer(make([]byte, 0, min(s.Size, 8*s.FileSize+4096)))
	if _, err := out.ReadFrom(io.LimitReader(r, int64(s.Size))); err != nil {
		return nil, fmt.Errorf("section %s: inflating %d bytes: %w", s.Name, s.Size, err)
	}
	if uint64(out.Len()) != s.Size {
		return nil, fmt.Errorf("section %s: inflated to %d bytes, not the %d it claims", s.Name, out.Len(), s.Size)
	}
	return out.Bytes(), nil
}

// sizeOf is the length of what a file was opened from, when it says.
func sizeOf(file io.ReaderAt) (int64, bool) {
	switch f := file.(type) {
	case interface{ Size() int64 }:
		return f.Size(), true
	case interface{ Stat() (os.FileInfo, error) }:
		if fi, err := f.Stat(); err == nil {
			return fi.Size(), true
		}
	}
	return 0, false
}

func readU32(f *elf.File, file io.ReaderAt, off uint64) uint32 {
	var b [4]byte
	if _, err := file.ReadAt(b[:], int64(off)); err != nil {
		return 0 // no compression type 0: an error above
	}
	return f.ByteOrder.Uint32(b[:])
}
