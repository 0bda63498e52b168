package strtable

import (
	"encoding/binary"
	"math/bits"
	"regexp"
)

// The exact index answers a pattern that is one literal anchored at both
// ends (^lit$: the text is lit) without reading the table's text: the
// object ids of the entries grouped by a hash of their text, so that a
// lookup reads one small group. The caller confirms each candidate by
// reading its text from the core and running the regexp on it.

// ExactIndex groups the object ids of a table's entries by the hash of
// their text: bucket b's ids are IDs[Off[b]:Off[b+1]], in object order,
// each with the high half of its text's hash in Tags (so that a lookup
// rarely names an object whose text is not the literal: each candidate
// costs the caller a read in the core).
type ExactIndex struct {
	Off  []uint32
	IDs  []uint32
	Tags []uint32
}

// Hash is the hash the exact index groups texts by (64-bit, 8 bytes at a
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

// buckets is how many buckets an index of n entries has: about two
// entries each.
func buckets(n int) int { return max(1, n/2) }

// BuildExact groups t's entries by the hash of their text.
func (t *Table) BuildExact() *ExactIndex {
	n := t.Len()
	nb := buckets(n)
	bucket := make([]uint32, n)
	tag := make([]uint32, n)
	x := &ExactIndex{Off: make([]uint32, nb+1), IDs: make([]uint32, n), Tags: make([]uint32, n)}
	for i := 0; i < n; i++ {
		h := Hash(t.Text(i))
		b := uint32(h % uint64(nb))
		bucket[i], tag[i] = b, uint32(h>>32)
		x.Off[b+1]++
	}
	for b := 0; b < nb; b++ {
		x.Off[b+1] += x.Off[b]
	}
	next := make([]uint32, nb)
	copy(next, x.Off[:nb])
	for i := 0; i < n; i++ {
		b := bucket[i]
		x.IDs[next[b]], x.Tags[next[b]] = t.IDs[i], tag[i]
		next[b]++
	}
	return x
}

// Check validates the shape of an index read from an untrusted file for
// a table of entries entries: one bucket per two entries, offsets
// spanning the ids. Each bucket's offsets and ids are checked when read
// (Candidates and the caller).
func (x *ExactIndex) Check(entries int) bool {
	nb := buckets(entries)
	return len(x.Off) == nb+1 && len(x.IDs) == entries && len(x.Tags) == entries && x.Off[0] == 0 && int(x.Off[nb]) == entries
}

// Candidates are the object ids whose text may be lit (in object order);
// false when the bucket's offsets are out of order (a damaged index).
func (x *ExactIndex) Candidates(lit []byte) ([]uint32, bool) {
	nb := uint64(len(x.Off) - 1)
	h := Hash(lit)
	b := h % nb
	from, to := x.Off[b], x.Off[b+1]
	if from > to || int(to) > len(x.IDs) || len(x.Tags) != len(x.IDs) {
		return nil, false
	}
	var ids []uint32
	for i := from; i < to; i++ {
		if x.Tags[i] == uint32(h>>32) {
			ids = append(ids, x.IDs[i])
		}
	}
	return ids, true
}

// ExactLiteral is the text every match of re is whole (^lit$), if re is
// such a pattern.
func ExactLiteral(re *regexp.Regexp) ([]byte, bool) {
	lit, start, end := anchoredLiteral(re)
	return lit, lit != nil && start && end
}
