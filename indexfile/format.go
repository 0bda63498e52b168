package indexfile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
)

// FormatVersion is the version of the file layout this package writes and
// reads; a file of any other version is Invalid (and rebuilt).
const FormatVersion = 1

// magic opens every index file.
var magic = [8]byte{'P', 'Y', 'C', 'I', 'D', 'X', '\r', '\n'}

const (
	headerSize = 256
	entrySize  = 64
	maxNameLen = 32
	// blockSize is the span of one checksum: blocks are verified in
	// parallel and only for the arrays a caller reads.
	blockSize = 1 << 20
	// alignment of every array in the file, so that a mapped array can be
	// used in place as a Go slice.
	alignment = 64
	// maxSections bounds the section table of an untrusted file.
	maxSections = 1024
)

// ElemType is the type of an array's elements.
type ElemType uint32

const (
	Bytes ElemType = 1 + iota
	Uint32
	Int32
	Uint64
	Int64
)

// Size is the size of one element in bytes.
func (t ElemType) Size() int {
	switch t {
	case Bytes:
		return 1
	case Uint32, Int32:
		return 4
	case Uint64, Int64:
		return 8
	}
	return 0
}

func (t ElemType) String() string {
	switch t {
	case Bytes:
		return "bytes"
	case Uint32:
		return "uint32"
	case Int32:
		return "int32"
	case Uint64:
		return "uint64"
	case Int64:
		return "int64"
	}
	return fmt.Sprintf("type %d", uint32(t))
}

// Key is the identity of the input an index was computed from. It holds
// no path: the same core copied elsewhere keeps its index, a core
// rewritten in place gets a new one.
type Key struct {
	Size  int64    // bytes
	MTime int64    // modification time, Unix nanoseconds
	Hash  [32]byte // a digest of the input's content that identifies it (for a core: its notes)
}

// Schema names what an index holds and the version of the caller's
// encoding of it: an index of another schema is Invalid.
type Schema struct {
	Kind    string // at most 16 bytes, e.g. "census"
	Version uint32
}

// fileName is the cache's name for the index of key under schema.
func fileName(key Key, s Schema) string {
	h := sha256.New()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(key.Size))
	binary.LittleEndian.PutUint64(b[8:], uint64(key.MTime))
	h.Write(b[:])
	h.Write(key.Hash[:])
	return s.Kind + "-" + hex.EncodeToString(h.Sum(nil)[:16]) + fileSuffix
}

const fileSuffix = ".pycidx"

// header is the fixed start of a file.
//
//	0   magic [8]
//	8   format version u32
//	12  schema version u32
//	16  schema kind [16]
//	32  key size i64, key mtime i64, key hash [32]
//	80  section count u32, block size u32
//	88  file size u64
//	96  table crc u32 (the section table, right after the header)
//	100 label length u32, label [maxLabel] (what the index is of, for people)
//	... zero
//	252 header crc u32 (bytes 0..252)
type header struct {
	format   uint32
	schema   Schema
	key      Key
	sections uint32
	block    uint32
	fileSize uint64
	tableCRC uint32
	label    string
}

// maxLabel bounds the label kept in the header.
const maxLabel = headerSize - 4 - 104

func (h *header) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, magic[:])
	le := binary.LittleEndian
	le.PutUint32(b[8:], h.format)
	le.PutUint32(b[12:], h.schema.Version)
	copy(b[16:32], h.schema.Kind)
	le.PutUint64(b[32:], uint64(h.key.Size))
	le.PutUint64(b[40:], uint64(h.key.MTime))
	copy(b[48:80], h.key.Hash[:])
	le.PutUint32(b[80:], h.sections)
	le.PutUint32(b[84:], h.block)
	le.PutUint64(b[88:], h.fileSize)
	le.PutUint32(b[96:], h.tableCRC)
	label := h.label
	if len(label) > maxLabel {
		label = label[:maxLabel]
	}
	le.PutUint32(b[100:], uint32(len(label)))
	copy(b[104:], label)
	le.PutUint32(b[headerSize-4:], crc32.ChecksumIEEE(b[:headerSize-4]))
	return b
}

// decodeHeader checks and decodes the header; the reason it is not one
// otherwise.
func decodeHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize {
		return h, fmt.Errorf("truncated: %d bytes, shorter than a header", len(b))
	}
	if [8]byte(b[:8]) != magic {
		return h, fmt.Errorf("not an index file (bad magic)")
	}
	le := binary.LittleEndian
	if crc32.ChecksumIEEE(b[:headerSize-4]) != le.Uint32(b[headerSize-4:]) {
		return h, fmt.Errorf("header checksum mismatch")
	}
	h.format = le.Uint32(b[8:])
	h.schema.Version = le.Uint32(b[12:])
	kind := b[16:32]
	for i, c := range kind {
		if c == 0 {
			kind = kind[:i]
			break
		}
	}
	h.schema.Kind = string(kind)
	h.key.Size = int64(le.Uint64(b[32:]))
	h.key.MTime = int64(le.Uint64(b[40:]))
	copy(h.key.Hash[:], b[48:80])
	h.sections = le.Uint32(b[80:])
	h.block = le.Uint32(b[84:])
	h.fileSize = le.Uint64(b[88:])
	h.tableCRC = le.Uint32(b[96:])
	if n := le.Uint32(b[100:]); n <= maxLabel {
		h.label = string(b[104 : 104+n])
	}
	return h, nil
}

// entry describes one array.
//
//	0  name [32]
//	32 elem type u32, reserved u32
//	40 offset u64 (aligned)
//	48 length in bytes u64
//	56 offset of its block checksums u64 (one u32 per block)
type entry struct {
	name   string
	typ    ElemType
	off    uint64
	nbytes uint64
	crcOff uint64
}

func (e *entry) encode(b []byte) {
	le := binary.LittleEndian
	copy(b[:maxNameLen], e.name)
	le.PutUint32(b[32:], uint32(e.typ))
	le.PutUint64(b[40:], e.off)
	le.PutUint64(b[48:], e.nbytes)
	le.PutUint64(b[56:], e.crcOff)
}

func decodeEntry(b []byte) entry {
	le := binary.LittleEndian
	name := b[:maxNameLen]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return entry{
		name:   string(name),
		typ:    ElemType(le.Uint32(b[32:])),
		off:    le.Uint64(b[40:]),
		nbytes: le.Uint64(b[48:]),
		crcOff: le.Uint64(b[56:]),
	}
}

// blocks is the number of checksum blocks of n bytes.
func blocks(n uint64) uint64 { return (n + blockSize - 1) / blockSize }

func alignUp(n uint64) uint64 { return (n + alignment - 1) &^ (alignment - 1) }
