package elfdwarf

import (
	"crypto/sha256"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"

	"github.com/pycoroner/pycoroner/indexfile"
)

// Cached says where the inflated sections of a compressed debug file are
// kept between runs: inflating Debian's python3.14-dbg file takes about
// half a second on two CPUs, every `stacks --native`; mapping them back
// takes a few milliseconds.
type Cached struct {
	Cache *indexfile.Cache // nil: nothing kept
	Label string           // what the file is, for `pycoroner cache`
	// Trace, when set, is told what was loaded or saved, or why not.
	Trace func(format string, args ...any)
}

// schema is the cache's name for inflated DWARF sections; the version
// changes with the sections kept or their names.
var schema = indexfile.Schema{Kind: "dwarf", Version: 1}

// LoadCached is Load, keeping the inflated sections of a file with
// compressed DWARF in c.Cache. A kept copy is used only when it is whole:
// its key (the debug file's size, modification time and section table)
// and every array's checksums hold; else it is inflated again. A cache
// that cannot be written means nothing is kept, not an error.
func LoadCached(f *elf.File, file io.ReaderAt, c Cached) (*dwarf.Data, error) {
	trace := c.Trace
	if trace == nil {
		trace = func(string, ...any) {}
	}
	if c.Cache == nil || !ours(f, file) || !compressed(f) {
		return Load(f, file)
	}
	key, ok := keyOf(f, file)
	if !ok {
		return Load(f, file)
	}
	x, err := c.Cache.Load(key, schema)
	switch {
	case err == nil:
		data, err := fromIndex(x)
		if err == nil {
			var d *dwarf.Data
			if d, err = build(data); err == nil {
				trace("loaded the DWARF of %s from %s", c.Label, x.Path())
				return d, nil
			}
		}
		trace("%s not used (%v): inflating %s again", x.Path(), err, c.Label)
		x.Close()
	case err != indexfile.ErrNotFound:
		trace("no kept DWARF of %s used: %v", c.Label, err)
	}
	data, err := inflate(f, file)
	if err != nil {
		return nil, err
	}
	d, err := build(data)
	if err != nil {
		return nil, err
	}
	b := indexfile.NewBuilder("DWARF of " + c.Label)
	for i, name := range sectionNames {
		if name != "" && data[i] != nil {
			indexfile.Add(b, name, data[i])
		}
	}
	if path, err := c.Cache.Save(key, schema, b); err != nil {
		trace("the DWARF of %s not kept: %v", c.Label, err)
	} else {
		trace("kept the DWARF of %s in %s", c.Label, path)
	}
	return d, nil
}

// compressed says whether any section read is compressed: only then is
// keeping a copy worth a file.
func compressed(f *elf.File) bool {
	for _, name := range sectionNames {
		if s := f.Section(".debug_" + name); name != "" && s != nil && s.Flags&elf.SHF_COMPRESSED != 0 {
			return true
		}
	}
	return false
}

// keyOf identifies a debug file: its size and modification time, and a
// digest of its section table (names, offsets, sizes, flags) with its
// build-id note, so that a file rewritten within one mtime tick with
// other contents is not taken for the old one.
func keyOf(f *elf.File, file io.ReaderAt) (indexfile.Key, bool) {
	st, ok := file.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return indexfile.Key{}, false
	}
	fi, err := st.Stat()
	if err != nil {
		return indexfile.Key{}, false
	}
	h := sha256.New()
	var b [8]byte
	for _, s := range f.Sections {
		h.Write([]byte(s.Name))
		for _, v := range []uint64{uint64(s.Type), uint64(s.Flags), s.Offset, s.FileSize, s.Size} {
			binary.LittleEndian.PutUint64(b[:], v)
			h.Write(b[:])
		}
	}
	if s := f.Section(".note.gnu.build-id"); s != nil && s.Flags&elf.SHF_COMPRESSED == 0 && s.Size <= 1024 {
		if note, err := s.Data(); err == nil {
			h.Write(note)
		}
	}
	k := indexfile.Key{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	copy(k.Hash[:], h.Sum(nil))
	return k, true
}

// fromIndex is inflate's result from a kept copy: the arrays point into
// its read-only mapping, which stays mapped for the process's life.
func fromIndex(x *indexfile.Index) ([][]byte, error) {
	data := make([][]byte, len(sectionNames))
	for i, name := range sectionNames {
		if name == "" || !x.Has(name) {
			continue
		}
		b, err := indexfile.Get[byte](x, name)
		if err != nil {
			return nil, err
		}
		data[i] = b
	}
	if data[3] == nil {
		return nil, io.ErrUnexpectedEOF // no .debug_info: not what was saved
	}
	return data, nil
}
