// Package strtable lays out the text of every str and bytes object of a
// heap census contiguously, so that grep scans one sequential blob
// instead of visiting each object in the core (whose headers and data
// are spread over most of the core's pages). pycoroner saves the table
// beside the census index and later greps search it: a literal every
// match contains is looked for with bytes.Index over the whole blob, and
// the regexp runs only on the entries that hold it.
//
// The text of an entry is exactly what grep matched before the table
// existed: a str's code points as UTF-8 (lone surrogates as U+FFFD, as Go
// converts runes), a bytes object's bytes, each cut at Limit code points
// (bytes). A saved table is untrusted: Check validates its shape before
// use.
package strtable

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/pycoroner/pycoroner/pyheap"
)

// Flags of an entry.
const (
	FlagBytes uint8 = 1 << 0 // a bytes object (else a str)
	FlagCut   uint8 = 1 << 1 // longer than the limit: only its start is held
	flagsAll        = FlagBytes | FlagCut
)

// MaxBlob bounds a table's text: offsets are 32-bit.
const MaxBlob = 1<<32 - 1

// Table is the text of the str and bytes objects of a census, in object
// order.
type Table struct {
	IDs   []uint32 // object ids, ascending
	Off   []uint32 // entry i is Blob[Off[i]:Off[i+1]]; len(IDs)+1 offsets
	Flags []uint8  // per entry
	Blob  []byte

	// Counts are the entries and the cut ones, of str then of bytes.
	Counts [4]int

	unmap []byte // the anonymous mapping Blob was built in, if any
}

// Len is the number of entries.
func (t *Table) Len() int { return len(t.IDs) }

// Text is entry i's text.
func (t *Table) Text(i int) []byte { return t.Blob[t.Off[i]:t.Off[i+1]] }

// Release frees the memory a built table's text was assembled in; t must
// not be used after.
func (t *Table) Release() {
	if t.unmap != nil {
		unix.Munmap(t.unmap)
		t.unmap, t.Blob = nil, nil
	}
}

// TooBigError: the text of the heap's str and bytes objects exceeds the
// bound Build was given.
type TooBigError struct{ Limit int64 }

func (e *TooBigError) Error() string {
	return fmt.Sprintf("the text of its str and bytes objects exceeds %d MB", e.Limit>>20)
}

// Build reads the text of every str and bytes object of h (exact types,
// as grep searches them), each cut at limit code points (bytes), into a
// table whose text is at most maxBlob bytes (else a *TooBigError).
// Objects whose text cannot be read are left out, as grep leaves them.
// The text is assembled in an anonymous mapping reserved at maxBlob, so
// that growing it never copies it; the memory used is the text's size.
func Build(h *pyheap.Heap, limit int, maxBlob int64) (*Table, error) {
	maxBlob = min(maxBlob, MaxBlob)
	if maxBlob <= 0 {
		return nil, &TooBigError{Limit: maxBlob}
	}
	mem, err := unix.Mmap(-1, 0, int(maxBlob), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("string table: reserving %d MB: %w", maxBlob>>20, err)
	}
	// The entries counted first, so that their arrays are allocated once:
	// growing them by appending cost more than the count (fresh memory is
	// dear on the VMs measured).
	entries := 0
	for i := 0; i < h.Len(); i++ {
		if k := h.Type(pyheap.ObjectID(i)).Kind; k == pyheap.KindStr || k == pyheap.KindBytes {
			entries++
		}
	}
	t := &Table{unmap: mem, IDs: make([]uint32, 0, entries), Flags: make([]uint8, 0, entries), Off: make([]uint32, 1, entries+1)}
	rt := h.Runtime()
	blob := mem[:0:len(mem)]
	for i := 0; i < h.Len(); i++ {
		id := pyheap.ObjectID(i)
		var flags uint8
		var cut bool
		var err error
		switch h.Type(id).Kind {
		case pyheap.KindStr:
			var grown []byte
			grown, cut, err = rt.AppendStrText(blob, h.Addr(id), limit)
			if err == nil && cap(grown) != cap(blob) {
				// append left the mapping: the text is past maxBlob.
				unix.Munmap(mem)
				return nil, &TooBigError{Limit: maxBlob}
			}
			blob = grown
		case pyheap.KindBytes:
			var b []byte
			b, cut, err = rt.Bytes(h.Addr(id), limit)
			if err == nil {
				if len(b) > cap(blob)-len(blob) {
					unix.Munmap(mem)
					return nil, &TooBigError{Limit: maxBlob}
				}
				blob = append(blob, b...)
			}
			flags = FlagBytes
		default:
			continue
		}
		if err != nil {
			continue
		}
		if cut {
			flags |= FlagCut
		}
		t.Counts[2*int(flags&FlagBytes)]++
		if cut {
			t.Counts[2*int(flags&FlagBytes)+1]++
		}
		t.IDs = append(t.IDs, uint32(i))
		t.Flags = append(t.Flags, flags)
		t.Off = append(t.Off, uint32(len(blob)))
	}
	t.Blob = blob
	return t, nil
}

// Check validates the shape of a table read from an untrusted file for a
// census of objects objects, in constant time: lengths agree, the offsets
// span the text, the counts add up. The rest is checked where it is used,
// so that a damaged table is an error, never a crash: each offset against
// its neighbour and the text as the search reads it (Search), each found
// entry's object id against the census (the caller).
func (t *Table) Check(objects int) error {
	n := len(t.IDs)
	if len(t.Off) != n+1 || len(t.Flags) != n {
		return fmt.Errorf("%d entries, %d offsets, %d flags", n, len(t.Off), len(t.Flags))
	}
	if t.Off[0] != 0 || int(t.Off[n]) != len(t.Blob) {
		return fmt.Errorf("offsets from %d to %d, text of %d bytes", t.Off[0], t.Off[n], len(t.Blob))
	}
	c := t.Counts
	if c[0] < 0 || c[1] < 0 || c[2] < 0 || c[3] < 0 || c[0]+c[2] != n || c[1] > c[0] || c[3] > c[2] {
		return fmt.Errorf("counts %v for %d entries", c, n)
	}
	if n > objects {
		return fmt.Errorf("%d entries for %d objects", n, objects)
	}
	return nil
}

// ErrDamaged: the table's offsets are not in order where a search read
// them.
var ErrDamaged = errors.New("string table offsets out of order")
