package strtable

import (
	"encoding/binary"
	"math/bits"
	"regexp"
	"sort"
)

// The exact index answers a pattern that is one literal anchored at both
// ends (^lit$: the text is lit) without reading the table's text: the
// object ids of the entries sorted by a 32-bit tag of their text's hash,
// so that a lookup is a binary search that names almost only the objects
// of that text. The caller confirms each candidate by reading its text
// from the core and running the regexp on it.

// ExactIndex is the table's object ids (IDs) sorted by the tags of their
// texts (Tags, ascending; equal tags keep object order).
type ExactIndex struct {
	Tags []uint32
	IDs  []uint32
}

// Hash is the hash the exact index tags texts by (64-bit, 8 bytes at a
// time; stable across processes, unlike hash/maphash).
func Hash(b []byte) uint64 {
	const m = 0x9E3779B97F4A7C15
	h := uint64(len(b)) * m
	for ; len(b) >= 8; b = b[8:] {
		hi, lo := bits.Mul64(h^binary.LittleEndian.Uint64(b), m)
		h = hi ^ lo
	}
	var tail [8]byte
	copy(tail[:], b)
	hi, lo := bits.Mul64(h^binary.LittleEndian.Uint64(tail[:])^uint64(len(b)), m)
	h = hi ^ lo
	return h ^ h>>29
}

func tag(b []byte) uint32 { return uint32(Hash(b) >> 32) }

// BuildExact sorts t's entries by the tags of their texts: a radix sort
// of (tag, id) pairs, 11 bits a pass (scattered writes to a few thousand
// places at a time, not to millions: a bucketed hash table built in place
// cost a second on 6 M entries).
func (t *Table) BuildExact() *ExactIndex {
	n := t.Len()
	keys := make([]uint64, n)
	for i := 0; i < n; i++ {
		keys[i] = uint64(tag(t.Text(i)))<<32 | uint64(t.IDs[i])
	}
	tmp := make([]uint64, n)
	for shift := 32; shift < 64; shift += 11 {
		var count [1 << 11]int
		for _, k := range keys {
			count[(k>>shift)&(1<<11-1)]++
		}
		pos := 0
		for d := range count {
			pos, count[d] = pos+count[d], pos
		}
		for _, k := range keys {
			d := (k >> shift) & (1<<11 - 1)
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	x := &ExactIndex{Tags: make([]uint32, n), IDs: make([]uint32, n)}
	for i, k := range keys {
		x.Tags[i], x.IDs[i] = uint32(k>>32), uint32(k)
	}
	return x
}

// Check validates the shape of an index read from an untrusted file for
// a table of entries entries.
func (x *ExactIndex) Check(entries int) bool {
	return len(x.Tags) == entries && len(x.IDs) == entries
}

// Candidates are the object ids whose text may be lit, in object order
// (a new slice).
func (x *ExactIndex) Candidates(lit []byte) []uint32 {
	tg := tag(lit)
	i := sort.Search(len(x.Tags), func(i int) bool { return x.Tags[i] >= tg })
	var ids []uint32
	for ; i < len(x.Tags) && i < len(x.IDs) && x.Tags[i] == tg; i++ {
		ids = append(ids, x.IDs[i])
	}
	return ids
}

// ExactLiteral is the text every match of re is whole (^lit$), if re is
// such a pattern.
func ExactLiteral(re *regexp.Regexp) ([]byte, bool) {
	lit, start, end := anchoredLiteral(re)
	return lit, lit != nil && start && end
}
