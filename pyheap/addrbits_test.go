package pyheap

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
		if !f.has(a) {
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
	if f.has(0x1008) && !want[0x1008] {
		t.Error("has reports an address never added")
	}
}
