package census

import (
	"math/rand"
	"sort"
	"testing"
)

// The census's address set must agree with a plain sorted list: membership,
// and each address's rank in ascending order, including addresses outside
// every segment (kept in a side map).
func TestAddrBitsRanks(t *testing.T) {
	ranges := [][2]uint64{{0x7000, 0x9000}, {0x1000, 0x3000}, {0x100000, 0x100100}}
	rng := rand.New(rand.NewSource(1))
	b := newAddrBits(ranges)
	want := map[uint64]bool{}
	for i := 0; i < 3000; i++ {
		var a uint64
		switch rng.Intn(4) {
		case 0:
			a = 0x1000 + uint64(rng.Intn(0x2000))&^7
		case 1:
			a = 0x7000 + uint64(rng.Intn(0x2000))&^7
		case 2:
			a = 0x100000 + uint64(rng.Intn(0x100))&^7
		default:
			a = 0x50000 + uint64(rng.Intn(1<<20))&^7 // outside every segment
		}
		if added := b.add(a); added == want[a] {
			t.Fatalf("add(0x%x) = %v, already present: %v", a, added, want[a])
		}
		want[a] = true
	}
	var sorted []uint64
	for a := range want {
		sorted = append(sorted, a)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	f := b.freeze()
	for i, a := range sorted {
		if !f.hasHint(a, new(int)) {
			t.Fatalf("has(0x%x) = false", a)
		}
		if got := f.rankOf(a); got != i {
			t.Fatalf("rankOf(0x%x) = %d, want %d", a, got, i)
		}
	}
	var walked []uint64
	f.each(func(a uint64) { walked = append(walked, a) })
	if len(walked) != len(sorted) {
		t.Fatalf("each visited %d addresses, want %d", len(walked), len(sorted))
	}
	for i := range walked {
		if walked[i] != sorted[i] {
			t.Fatalf("each: position %d is 0x%x, want 0x%x", i, walked[i], sorted[i])
		}
	}
	if f.hasHint(0x1008, new(int)) && !want[0x1008] {
		t.Error("has reports an address never added")
	}
}

// add is the census's marking, for tests: it reports whether addr was new.
func (b *addrBits) add(addr uint64) bool {
	var hint int
	if bit := b.locateHint(addr, &hint); bit >= 0 {
		w, m := bit/64*2, uint64(1)<<(bit%64)
		if b.words[w]&m != 0 {
			return false
		}
		b.words[w] |= m
		return true
	}
	if b.extra[addr] {
		return false
	}
	b.extra[addr] = true
	return true
}

// The pending set must hand back every word that has bits, in ascending
// order from where the sweep is, wrapping around, however the bits are
// spread (dense, sparse, across the summary levels' word boundaries).
func TestPendingNext(t *testing.T) {
	for _, spread := range []int{1, 7, 64, 4096, 300000} {
		b := newAddrBits([][2]uint64{{0, 8 * 64 * 400000}})
		nw := len(b.words) / 2
		lo, hi := nw/5, nw-nw/7 // a worker's part
		p := newPending(b, lo, hi)
		rng := rand.New(rand.NewSource(int64(spread)))
		want := map[int]uint64{}
		for i := 0; i < 2000; i++ {
			w := lo + rng.Intn(min(spread, hi-lo))
			m := uint64(1) << rng.Intn(64)
			p.set(w, m)
			want[w] |= m
		}
		from := lo + (hi-lo)/2
		var got []int
		for {
			w := p.next(from)
			if w < 0 {
				if w = p.next(lo); w < 0 {
					break
				}
			}
			if w < lo || w >= hi {
				t.Fatalf("spread %d: next gave word %d outside [%d, %d)", spread, w, lo, hi)
			}
			if m := p.take(w); m != want[w] {
				t.Fatalf("spread %d: word %d has bits %x, want %x", spread, w, m, want[w])
			}
			delete(want, w)
			got = append(got, w)
			from = w
		}
		if len(want) != 0 {
			t.Fatalf("spread %d: %d words never handed back", spread, len(want))
		}
		wrapped := false
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				if wrapped {
					t.Fatalf("spread %d: order %v wraps twice", spread, got)
				}
				wrapped = true
			}
		}
	}
}
