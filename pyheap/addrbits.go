package pyheap

import (
	"math/bits"
	"sort"
)

// addrBits is the census's set of object addresses: one bit per 8-byte
// word of every memory segment the core holds, so membership is a bit
// test and an object's index in address order is a popcount (rank) — no
// hashing and no sort for the millions of objects a heap has. Addresses
// outside those segments (rare) go to a small map.
type addrBits struct {
	segs  []bitSeg
	words []uint64
	rank  []uint32 // set bits before each word; built by freeze
	extra map[uint64]bool
	n     int
	last  int
}

type bitSeg struct {
	start, end uint64 // [start, end)
	word       int    // first bitmap word of this segment
}

func newAddrBits(ranges [][2]uint64) *addrBits {
	b := &addrBits{extra: map[uint64]bool{}}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
	total := 0
	for _, rg := range ranges {
		start, end := rg[0]&^7, (rg[1]+7)&^7
		if end <= start {
			continue
		}
		if len(b.segs) > 0 && start < b.segs[len(b.segs)-1].end {
			continue // overlapping segments: keep the first
		}
		b.segs = append(b.segs, bitSeg{start, end, total})
		total += int((end-start)/8+63) / 64
	}
	b.words = make([]uint64, total)
	return b
}

// locate returns the bit index of addr, or -1 when no segment holds it.
func (b *addrBits) locate(addr uint64) int { return b.locateHint(addr, &b.last) }

// locateHint is locate with the caller's own last-hit hint, so that
// goroutines can share a frozen set.
func (b *addrBits) locateHint(addr uint64, last *int) int {
	if *last < len(b.segs) {
		s := b.segs[*last]
		if addr >= s.start && addr < s.end {
			return s.word*64 + int((addr-s.start)/8)
		}
	}
	lo, hi := 0, len(b.segs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if b.segs[mid].end > addr {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if i := lo; i < len(b.segs) && addr >= b.segs[i].start {
		*last = i
		return b.segs[i].word*64 + int((addr-b.segs[i].start)/8)
	}
	return -1
}

// add inserts addr and reports whether it was new.
func (b *addrBits) add(addr uint64) bool {
	if bit := b.locate(addr); bit >= 0 {
		w, m := bit/64, uint64(1)<<(bit%64)
		if b.words[w]&m != 0 {
			return false
		}
		b.words[w] |= m
		b.n++
		return true
	}
	if b.extra[addr] {
		return false
	}
	b.extra[addr] = true
	b.n++
	return true
}

func (b *addrBits) has(addr uint64) bool {
	if bit := b.locate(addr); bit >= 0 {
		return b.words[bit/64]&(1<<(bit%64)) != 0
	}
	return b.extra[addr]
}

// rankOf is addr's position among all addresses in ascending order, once
// the set is frozen. Addresses in extra are ranked by sortedExtra.
type frozenBits struct {
	*addrBits
	extraSorted []uint64
}

// freeze computes ranks; no more adds after it.
func (b *addrBits) freeze() *frozenBits {
	b.rank = make([]uint32, len(b.words)+1)
	var sum uint32
	for i, w := range b.words {
		b.rank[i] = sum
		sum += uint32(bits.OnesCount64(w))
	}
	b.rank[len(b.words)] = sum
	f := &frozenBits{addrBits: b}
	for a := range b.extra {
		f.extraSorted = append(f.extraSorted, a)
	}
	sort.Slice(f.extraSorted, func(i, j int) bool { return f.extraSorted[i] < f.extraSorted[j] })
	return f
}

// rankOf returns the position of addr (which must be in the set) in
// ascending address order over the whole set.
func (f *frozenBits) rankOf(addr uint64) int {
	var hint int
	return f.rankHint(addr, &hint)
}

// rankHint is rankOf with the caller's own segment hint (safe to call from
// several goroutines).
func (f *frozenBits) rankHint(addr uint64, hint *int) int {
	// extra addresses below addr come first or interleave; count them.
	before := 0
	if len(f.extraSorted) > 0 {
		before = sort.Search(len(f.extraSorted), func(i int) bool { return f.extraSorted[i] >= addr })
	}
	if bit := f.locateHint(addr, hint); bit >= 0 {
		w := bit / 64
		mask := uint64(1)<<(bit%64) - 1
		return int(f.rank[w]) + bits.OnesCount64(f.words[w]&mask) + before
	}
	// addr is in extra: count bitmap addresses below it.
	i := sort.Search(len(f.segs), func(i int) bool { return f.segs[i].start > addr })
	below := 0
	if i > 0 {
		s := f.segs[i-1]
		endWord := s.word + int((s.end-s.start)/8+63)/64
		below = int(f.rank[endWord])
		if addr < s.end { // cannot happen: it would be in the bitmap
			below = int(f.rank[s.word])
		}
	}
	return below + before
}

// each calls fn with every address in ascending order.
func (f *frozenBits) each(fn func(addr uint64)) {
	ei := 0
	for _, s := range f.segs {
		nwords := int((s.end-s.start)/8+63) / 64
		for w := 0; w < nwords; w++ {
			word := f.words[s.word+w]
			for word != 0 {
				tz := bits.TrailingZeros64(word)
				addr := s.start + uint64(w*64+tz)*8
				for ei < len(f.extraSorted) && f.extraSorted[ei] < addr {
					fn(f.extraSorted[ei])
					ei++
				}
				fn(addr)
				word &= word - 1
			}
		}
	}
	for ; ei < len(f.extraSorted); ei++ {
		fn(f.extraSorted[ei])
	}
}

// levelBits is a bit set with a fast "next set bit from here": each level
// has one bit per non-zero word of the level below, so finding the next
// pending object skips empty stretches of the address space in a few
// steps, however sparse the marks are.
type levelBits struct {
	levels [][]uint64 // levels[0] holds the bits themselves
}

func newLevelBits(n int) *levelBits {
	l := &levelBits{}
	for {
		words := (n + 63) / 64
		l.levels = append(l.levels, make([]uint64, max(words, 1)))
		if words <= 1 {
			return l
		}
		n = words
	}
}

func (l *levelBits) set(bit int) {
	for _, lv := range l.levels {
		w, old := bit/64, lv[bit/64]
		lv[w] = old | 1<<(bit%64)
		if old != 0 {
			return // the levels above are set already
		}
		bit = w
	}
}

// takeWord clears and returns word w of the lowest level.
func (l *levelBits) takeWord(w int) uint64 {
	word := l.levels[0][w]
	l.levels[0][w] = 0
	for _, lv := range l.levels[1:] {
		lv[w/64] &^= 1 << (w % 64)
		if lv[w/64] != 0 {
			break
		}
		w /= 64
	}
	return word
}

// next returns the lowest set bit at or after from, or -1.
func (l *levelBits) next(from int) int {
	b := from
	for i := 0; i < len(l.levels); i++ {
		w := b / 64
		if w >= len(l.levels[i]) {
			return -1
		}
		if word := l.levels[i][w] & (^uint64(0) << (b % 64)); word != 0 {
			b = w*64 + bits.TrailingZeros64(word)
			for i > 0 {
				i--
				b = b*64 + bits.TrailingZeros64(l.levels[i][b])
			}
			return b
		}
		b = w + 1
	}
	return -1
}
