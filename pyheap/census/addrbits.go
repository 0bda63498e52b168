package census

import (
	"math/bits"
	"sort"
)

// addrBits is the census's set of object addresses: one bit per 8-byte
// word of every memory segment the core holds, so membership is a bit
// test and an object's index in address order is a popcount (rank) — no
// hashing and no sort for the millions of objects a heap has. Addresses
// outside those segments (rare) go to a small map.
//
// Word w of the set is words[2w]; words[2w+1] is free for the census's
// "marked, not yet visited" bits (see pending), so that marking an object
// touches one cache line, not two.
type addrBits struct {
	segs  []bitSeg
	words []uint64 // set word w at 2w, its pending word at 2w+1
	rank  []uint32 // set bits before each word; built by freeze
	extra map[uint64]bool
	n     int // addresses marked while seeding the census
	// listed is the set as the model's GC lists left it (keepListed),
	// while the census runs: set words, and the addresses outside them.
	listed      []uint64
	listedExtra map[uint64]bool
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
	b.words = bigMake[uint64](2 * total) // tens of MB for a core of GBs: bigarray.go
	return b
}

// locateHint returns the bit index of addr, or -1 when no segment holds
// it. last is the caller's own hint (the segment of its last hit), so that
// goroutines can share the set.
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

// hasHint reports whether addr is in the set; hint is as for locateHint.
func (b *addrBits) hasHint(addr uint64, hint *int) bool {
	if bit := b.locateHint(addr, hint); bit >= 0 {
		return b.words[bit/64*2]&(1<<(bit%64)) != 0
	}
	return b.extra[addr]
}

// rankOf is addr's position among all addresses in ascending order, once
// the set is frozen. Addresses in extra are ranked by sortedExtra.
type frozenBits struct {
	*addrBits
	extraSorted []uint64
}

// keepListed remembers the addresses marked so far as those the model's
// GC lists named, for the census's visits (worker.visit).
func (b *addrBits) keepListed() {
	nw := len(b.words) / 2
	b.listed = bigMake[uint64](nw)
	for i := range nw {
		b.listed[i] = b.words[2*i]
	}
	b.listedExtra = make(map[uint64]bool, len(b.extra))
	for a := range b.extra {
		b.listedExtra[a] = true
	}
}

// freeze computes ranks; no more adds after it.
func (b *addrBits) freeze() *frozenBits {
	nw := len(b.words) / 2
	b.rank = bigMake[uint32](nw + 1)
	var sum uint32
	for i := 0; i < nw; i++ {
		b.rank[i] = sum
		sum += uint32(bits.OnesCount64(b.words[2*i]))
	}
	b.rank[nw] = sum
	bigFree(b.listed)
	b.listed, b.listedExtra = nil, nil
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
		return int(f.rank[w]) + bits.OnesCount64(f.words[2*w]&mask) + before
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

// addresses writes every address in ascending order into dst, which has
// room for them all, and returns what it wrote.
func (f *frozenBits) addresses(dst []uint64) []uint64 {
	i := 0
	f.each(func(a uint64) {
		if i < len(dst) {
			dst[i] = a
		}
		i++
	})
	return dst[:min(i, len(dst))]
}

// each calls fn with every address in ascending order.
func (f *frozenBits) each(fn func(addr uint64)) {
	ei := 0
	for _, s := range f.segs {
		nwords := int((s.end-s.start)/8+63) / 64
		for w := 0; w < nwords; w++ {
			word := f.words[2*(s.word+w)]
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

// pending is the census's set of marked, not yet visited addresses: the
// odd words of an addrBits, and above them summary levels with one bit per
// non-zero word of the level below, so that finding the next pending
// object skips empty stretches of the address space in a few steps,
// however sparse the marks are.
type pending struct {
	words []uint64   // the addrBits' words: pending word w at 2w+1
	upper [][]uint64 // upper[0] has a bit per pending word
}

// newPending makes the pending set of the words [lo, hi), taking over the
// bits already pending there.
func newPending(b *addrBits, lo, hi int) *pending {
	p := &pending{words: b.words}
	for n := len(b.words) / 2; ; {
		words := (n + 63) / 64
		p.upper = append(p.upper, make([]uint64, max(words, 1)))
		if words <= 1 {
			break
		}
		n = words
	}
	for w := lo; w < hi; w++ {
		if m := b.words[2*w+1]; m != 0 {
			b.words[2*w+1] = 0
			p.set(w, m)
		}
	}
	return p
}

// set marks bit m of word w (the caller has its set word at hand).
func (p *pending) set(w int, m uint64) {
	old := p.words[2*w+1]
	p.words[2*w+1] = old | m
	if old != 0 {
		return // the levels above are set already
	}
	for _, lv := range p.upper {
		old := lv[w/64]
		lv[w/64] = old | 1<<(w%64)
		if old != 0 {
			return
		}
		w /= 64
	}
}

// take clears and returns pending word w.
func (p *pending) take(w int) uint64 {
	word := p.words[2*w+1]
	p.words[2*w+1] = 0
	for _, lv := range p.upper {
		lv[w/64] &^= 1 << (w % 64)
		if lv[w/64] != 0 {
			break
		}
		w /= 64
	}
	return word
}

// next returns the lowest word at or after w with pending bits, or -1.
func (p *pending) next(w int) int {
	if w < len(p.words)/2 && p.words[2*w+1] != 0 {
		return w
	}
	b := w // a bit index into upper[0]
	for i := 0; i < len(p.upper); i++ {
		uw := b / 64
		if uw >= len(p.upper[i]) {
			return -1
		}
		if word := p.upper[i][uw] & (^uint64(0) << (b % 64)); word != 0 {
			b = uw*64 + bits.TrailingZeros64(word)
			for i > 0 {
				i--
				b = b*64 + bits.TrailingZeros64(p.upper[i][b])
			}
			return b
		}
		b = uw + 1
	}
	return -1
}
