package census

import (
	"fmt"
	"math/bits"
	"sort"
)

// addrIndex is the address set of a laid-out census (a flat heap): the
// census's bitmap of object addresses (one bit per 8-byte word of the
// core's segments, as addrBits), the set bits counted before each word
// (rank), and the word holding every selEvery-th object (sel); so an
// address's id is a rank (a few reads), and an id's address a short walk
// from its sample. It stands in for an array of 8 bytes per object: on 21
// M objects in a 1.2 GB core, 28 MB against 168 MB, in the saved index
// (written by the first command) and in what later commands map.
//
// Ids are ranks over the bitmap's addresses and extra (addresses outside
// every segment, sorted; rare) together, in address order.
type addrIndex struct {
	segs  []uint64 // per segment three values: start, end, first word
	words []uint64 // the set, one word per 64 bits (no pending words)
	rank  []uint32 // set bits in the words before each word; len(words)+1
	sel   []uint32 // sel[k]: the word holding bitmap object k*selEvery
	extra []uint64 // sorted addresses outside the segments
	// extraID[j] is extra[j]'s id (derived, not saved).
	extraID []uint32
}

// selEvery is how many objects apart the select samples are: at the
// density of a Python heap (one object per 7-8 words) 64 objects span
// about 8 bitmap words, one cache line of rank.
const selEvery = 64

// newAddrIndex lays f out (copying its set words; f keeps its own).
func newAddrIndex(f *frozenBits) *addrIndex {
	nw := len(f.words) / 2
	x := &addrIndex{words: bigMake[uint64](nw), rank: f.rank, extra: f.extraSorted}
	for w := range nw {
		x.words[w] = f.words[2*w]
	}
	for _, s := range f.segs {
		x.segs = append(x.segs, s.start, s.end, uint64(s.word))
	}
	x.sel = selectSamples(x.words, x.rank)
	x.deriveExtraIDs()
	return x
}

// selectSamples computes sel from words and rank.
func selectSamples(words []uint64, rank []uint32) []uint32 {
	total := int(rank[len(words)])
	sel := make([]uint32, (total+selEvery-1)/selEvery)
	k := 0
	for w := range words {
		for k < len(sel) && k*selEvery < int(rank[w+1]) {
			sel[k] = uint32(w)
			k++
		}
	}
	return sel
}

func (x *addrIndex) deriveExtraIDs() {
	x.extraID = make([]uint32, len(x.extra))
	for j, a := range x.extra {
		x.extraID[j] = uint32(x.bitmapBelow(a) + j)
	}
}

// len is the number of addresses.
func (x *addrIndex) len() int { return int(x.rank[len(x.words)]) + len(x.extra) }

// seg returns the segment holding addr, or -1.
func (x *addrIndex) seg(addr uint64) int {
	n := len(x.segs) / 3
	i := sort.Search(n, func(i int) bool { return x.segs[3*i+1] > addr })
	if i < n && addr >= x.segs[3*i] {
		return i
	}
	return -1
}

// bitmapBelow counts the bitmap's addresses below addr.
func (x *addrIndex) bitmapBelow(addr uint64) int {
	n := len(x.segs) / 3
	i := sort.Search(n, func(i int) bool { return x.segs[3*i+1] > addr })
	if i == n {
		return int(x.rank[len(x.words)])
	}
	start, word := x.segs[3*i], x.segs[3*i+2]
	if addr <= start {
		return int(x.rank[word])
	}
	bit := int(word)*64 + int((addr-start+7)/8) // first bit at or above addr
	w := bit / 64
	if w >= len(x.words) {
		return int(x.rank[len(x.words)])
	}
	return int(x.rank[w]) + bits.OnesCount64(x.words[w]&(uint64(1)<<(bit%64)-1))
}

// find is addr's id, if addr is in the set.
func (x *addrIndex) find(addr uint64) (ObjectID, bool) {
	if addr%8 != 0 {
		return -1, false
	}
	extraBelow := 0
	if len(x.extra) > 0 {
		j := sort.Search(len(x.extra), func(j int) bool { return x.extra[j] >= addr })
		if j < len(x.extra) && x.extra[j] == addr {
			return ObjectID(x.extraID[j]), true
		}
		extraBelow = j
	}
	i := x.seg(addr)
	if i < 0 {
		return -1, false
	}
	bit := int(x.segs[3*i+2])*64 + int((addr-x.segs[3*i])/8)
	w, m := bit/64, uint64(1)<<(bit%64)
	if x.words[w]&m == 0 {
		return -1, false
	}
	return ObjectID(int(x.rank[w]) + bits.OnesCount64(x.words[w]&(m-1)) + extraBelow), true
}

// addr is id's address (id must be below len).
func (x *addrIndex) addr(id ObjectID) uint64 {
	k := int(id)
	if len(x.extra) > 0 {
		// extras with an id below k come before it
		j := sort.Search(len(x.extraID), func(j int) bool { return int(x.extraID[j]) >= k })
		if j < len(x.extraID) && int(x.extraID[j]) == k {
			return x.extra[j]
		}
		k -= j
	}
	w := int(x.sel[k/selEvery])
	for int(x.rank[w+1]) <= k {
		w++
	}
	word := x.words[w]
	for range k - int(x.rank[w]) {
		word &= word - 1
	}
	bit := w*64 + bits.TrailingZeros64(word)
	n := len(x.segs) / 3
	i := sort.Search(n, func(i int) bool { return int(x.segs[3*i+2]) > w }) - 1
	return x.segs[3*i] + uint64(bit-int(x.segs[3*i+2])*64)*8
}

// each calls fn with every id and address in order, until fn says stop.
func (x *addrIndex) each(fn func(id ObjectID, addr uint64) bool) {
	id, ej := 0, 0
	for i := 0; i < len(x.segs)/3; i++ {
		start, end, word := x.segs[3*i], x.segs[3*i+1], int(x.segs[3*i+2])
		nwords := int((end-start)/8+63) / 64
		for w := range nwords {
			for bitsLeft := x.words[word+w]; bitsLeft != 0; bitsLeft &= bitsLeft - 1 {
				a := start + uint64(w*64+bits.TrailingZeros64(bitsLeft))*8
				for ; ej < len(x.extra) && x.extra[ej] < a; ej++ {
					if !fn(ObjectID(id), x.extra[ej]) {
						return
					}
					id++
				}
				if !fn(ObjectID(id), a) {
					return
				}
				id++
			}
		}
	}
	for ; ej < len(x.extra); ej++ {
		if !fn(ObjectID(id), x.extra[ej]) {
			return
		}
		id++
	}
}

// check says whether saved arrays make an address index of n objects:
// always their shapes (each lookup stays in bounds), and unless trusted
// (checked by an earlier process) their values, so that ids and
// addresses correspond one to one.
func (x *addrIndex) check(n int, trusted bool) error {
	nw := len(x.words)
	if len(x.segs)%3 != 0 || len(x.rank) != nw+1 {
		return fmt.Errorf("address index: %d segment values, %d rank entries for %d words", len(x.segs), len(x.rank), nw)
	}
	total := 0
	var prevEnd uint64
	for i := 0; i < len(x.segs)/3; i++ {
		start, end, word := x.segs[3*i], x.segs[3*i+1], x.segs[3*i+2]
		if start%8 != 0 || end%8 != 0 || end <= start || start < prevEnd || word != uint64(total) || (end-start)/8 > 1<<40 {
			return fmt.Errorf("address index: segment %d [0x%x, 0x%x) at word %d is out of order", i, start, end, word)
		}
		total += int((end-start)/8+63) / 64
		prevEnd = end
		if total > nw {
			return fmt.Errorf("address index: segments need more than %d words", nw)
		}
	}
	if total != nw {
		return fmt.Errorf("address index: segments need %d words, %d saved", total, nw)
	}
	if x.rank[0] != 0 || int(x.rank[nw])+len(x.extra) != n || int64(x.rank[nw]) > int64(nw)*64 {
		return fmt.Errorf("address index: %d + %d addresses for %d objects", x.rank[nw], len(x.extra), n)
	}
	if want := (int(x.rank[nw]) + selEvery - 1) / selEvery; len(x.sel) != want {
		return fmt.Errorf("address index: %d select samples, want %d", len(x.sel), want)
	}
	if trusted {
		return nil
	}
	for w, word := range x.words {
		if x.rank[w+1] != x.rank[w]+uint32(bits.OnesCount64(word)) {
			return fmt.Errorf("address index: rank of word %d is wrong", w+1)
		}
	}
	for i := 0; i < len(x.segs)/3; i++ {
		start, end, word := x.segs[3*i], x.segs[3*i+1], int(x.segs[3*i+2])
		used := int((end - start) / 8)
		if last := word + (used+63)/64 - 1; used%64 != 0 && x.words[last]>>(used%64) != 0 {
			return fmt.Errorf("address index: bits past the end of segment %d", i)
		}
	}
	for k, w := range x.sel {
		if int(w) >= nw || int(x.rank[w]) > k*selEvery || int(x.rank[w+1]) <= k*selEvery {
			return fmt.Errorf("address index: select sample %d is wrong", k)
		}
	}
	for j, a := range x.extra {
		if a%8 != 0 || j > 0 && a <= x.extra[j-1] || x.seg(a) >= 0 {
			return fmt.Errorf("address index: extra address 0x%x is out of order or inside a segment", a)
		}
	}
	return nil
}
