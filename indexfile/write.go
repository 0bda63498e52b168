package indexfile

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

// Elem is the element types an array can have.
type Elem interface {
	~uint8 | ~uint32 | ~int32 | ~uint64 | ~int64
}

// elemType is T's ElemType.
func elemType[T Elem]() ElemType {
	var zero T
	signed := zero-1 < zero
	switch unsafe.Sizeof(zero) {
	case 1:
		return Bytes
	case 4:
		if signed {
			return Int32
		}
		return Uint32
	default:
		if signed {
			return Int64
		}
		return Uint64
	}
}

// Builder collects the arrays of an index before it is saved. It keeps
// references to the slices given, not copies: they must not change until
// the index is saved.
type Builder struct {
	label string
	secs  []pending
	names map[string]bool
}

type pending struct {
	name string
	typ  ElemType
	data []byte
}

// NewBuilder starts an index; label says what it is of, for people
// (pycoroner cache lists it), and is cut to the header's room.
func NewBuilder(label string) *Builder {
	return &Builder{label: label, names: map[string]bool{}}
}

// Add adds an array named name (at most 32 bytes, unique in the index).
func Add[T Elem](b *Builder, name string, v []T) {
	if len(name) == 0 || len(name) > maxNameLen || b.names[name] {
		panic(fmt.Sprintf("indexfile: bad or repeated array name %q", name))
	}
	b.names[name] = true
	var data []byte
	if len(v) > 0 {
		var zero T
		data = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(zero)))
	}
	b.secs = append(b.secs, pending{name: name, typ: elemType[T](), data: data})
}

// layout places the arrays: the table after the header, then each array
// aligned, followed by its block checksums.
func (b *Builder) layout() (entries []entry, size uint64) {
	off := alignUp(headerSize + uint64(len(b.secs))*entrySize)
	for _, s := range b.secs {
		e := entry{name: s.name, typ: s.typ, off: off, nbytes: uint64(len(s.data))}
		e.crcOff = alignUp(e.off + e.nbytes)
		off = alignUp(e.crcOff + 4*blocks(e.nbytes))
		entries = append(entries, e)
	}
	return entries, off
}

// Size is the size of the file the index will be.
func (b *Builder) Size() int64 {
	_, n := b.layout()
	return int64(n)
}

// blockCRCs is the checksum of every block of data, little-endian, the
// blocks split among the CPUs.
func blockCRCs(data []byte) []byte {
	n := int(blocks(uint64(len(data))))
	out := make([]byte, 4*n)
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				end := min((i+1)*blockSize, len(data))
				binary.LittleEndian.PutUint32(out[4*i:], crc32.ChecksumIEEE(data[i*blockSize:end]))
			}
		}(w)
	}
	wg.Wait()
	return out
}

// writeTo writes the whole file.
func (b *Builder) writeTo(w io.Writer, key Key, schema Schema) error {
	entries, size := b.layout()
	table := make([]byte, len(entries)*entrySize)
	for i := range entries {
		entries[i].encode(table[i*entrySize:])
	}
	h := header{format: FormatVersion, schema: schema, key: key, sections: uint32(len(entries)),
		block: blockSize, fileSize: size, tableCRC: crc32.ChecksumIEEE(table), label: b.label}
	pos := uint64(0)
	put := func(p []byte) error {
		_, err := w.Write(p)
		pos += uint64(len(p))
		return err
	}
	pad := func(to uint64) error {
		if to < pos {
			panic("indexfile: layout out of order")
		}
		return put(make([]byte, to-pos))
	}
	if err := put(h.encode()); err != nil {
		return err
	}
	if err := put(table); err != nil {
		return err
	}
	for i, s := range b.secs {
		e := entries[i]
		if err := pad(e.off); err != nil {
			return err
		}
		if err := put(s.data); err != nil {
			return err
		}
		if err := pad(e.crcOff); err != nil {
			return err
		}
		if err := put(blockCRCs(s.data)); err != nil {
			return err
		}
	}
	return pad(size)
}
