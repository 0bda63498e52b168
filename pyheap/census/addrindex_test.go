package census

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// randomSet is a frozen address set with addresses in three segments and
// outside them, and the same addresses sorted.
func randomSet(t *testing.T, seed int64, n int) (*frozenBits, []uint64) {
	t.Helper()
	ranges := [][2]uint64{{0x7000, 0x9000}, {0x1000, 0x3008}, {0x100000, 0x100100}}
	rng := rand.New(rand.NewSource(seed))
	b := newAddrBits(ranges)
	want := map[uint64]bool{}
	for range n {
		var a uint64
		switch rng.Intn(5) {
		case 0, 1:
			a = 0x1000 + uint64(rng.Intn(0x2008))&^7
		case 2:
			a = 0x7000 + uint64(rng.Intn(0x2000))&^7
		case 3:
			a = 0x100000 + uint64(rng.Intn(0x100))&^7
		default:
			if seed%2 == 0 {
				continue // half the sets have no address outside the segments
			}
			a = []uint64{0x500, 0x4000, 0x200000}[rng.Intn(3)] + uint64(rng.Intn(1<<16))&^7
		}
		b.add(a)
		want[a] = true
	}
	var sorted []uint64
	for a := range want {
		sorted = append(sorted, a)
	}
	slices.Sort(sorted)
	return b.freeze(), sorted
}

// The laid-out address index answers as a sorted array would: each id's
// address, each address's id, in order, and nothing for an address not in
// the set; on sets with and without addresses outside the segments.
func TestAddrIndexAgreesWithSortedAddresses(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		f, sorted := randomSet(t, seed, 1500*int(seed))
		x := newAddrIndex(f)
		if err := x.check(len(sorted), false); err != nil {
			t.Fatalf("seed %d: check of a sound index: %v", seed, err)
		}
		if x.len() != len(sorted) {
			t.Fatalf("seed %d: len %d, want %d", seed, x.len(), len(sorted))
		}
		for id, a := range sorted {
			if got := x.addr(ObjectID(id)); got != a {
				t.Fatalf("seed %d: addr(%d) = 0x%x, want 0x%x", seed, id, got, a)
			}
			if got, ok := x.find(a); !ok || got != ObjectID(id) {
				t.Fatalf("seed %d: find(0x%x) = %d %v, want %d", seed, a, got, ok, id)
			}
			if _, ok := x.find(a + 4); ok {
				t.Fatalf("seed %d: find of a misaligned address succeeded", seed)
			}
			if _, found := slices.BinarySearch(sorted, a+8); !found {
				if got, ok := x.find(a + 8); ok {
					t.Fatalf("seed %d: find(0x%x) = %d, not in the set", seed, a+8, got)
				}
			}
		}
		var walked []uint64
		x.each(func(id ObjectID, a uint64) bool {
			if int(id) != len(walked) {
				t.Fatalf("seed %d: each gave id %d at position %d", seed, id, len(walked))
			}
			walked = append(walked, a)
			return true
		})
		if !slices.Equal(walked, sorted) {
			t.Fatalf("seed %d: each walked %d addresses, not the set's %d in order", seed, len(walked), len(sorted))
		}
	}
}

// Saved address arrays that do not hold together are refused: each
// lookup of a damaged index would give a wrong or out-of-range answer.
func TestAddrIndexCheckRefusesDamage(t *testing.T) {
	f, sorted := randomSet(t, 3, 3000)
	n := len(sorted)
	tests := []struct {
		name   string
		damage func(x *addrIndex)
		want   string
		more   int // objects added by the damage
	}{
		{"a bit flipped in the set", func(x *addrIndex) { x.words[3] ^= 1 << 5 }, "rank", 0},
		{"rank off by one", func(x *addrIndex) { x.rank[4]++ }, "rank", 0},
		{"rank too short", func(x *addrIndex) { x.rank = x.rank[:len(x.rank)-1] }, "rank entries", 0},
		{"segments out of order", func(x *addrIndex) { x.segs[0], x.segs[3] = x.segs[3], x.segs[0] }, "out of order", 0},
		{"segment words wrong", func(x *addrIndex) { x.segs[5]++ }, "segment", 0},
		{"a bit past a segment's end", func(x *addrIndex) {
			// the middle segment [0x7000, 0x9000) ends on a word; the
			// first, [0x1000, 0x3008), does not
			last := int(x.segs[2]) + int((x.segs[1]-x.segs[0])/8+63)/64 - 1
			x.words[last] |= 1 << 63
			for w := last + 1; w < len(x.rank); w++ {
				x.rank[w]++
			}
		}, "past the end", 1},
		{"select sample wrong", func(x *addrIndex) { x.sel[2] += 3 }, "select sample", 0},
		{"select samples short", func(x *addrIndex) { x.sel = x.sel[1:] }, "select samples", 0},
		{"extra inside a segment", func(x *addrIndex) { x.extra[0] = 0x1008 }, "extra address", 0},
		{"extra out of order", func(x *addrIndex) { x.extra[0], x.extra[1] = x.extra[1], x.extra[0] }, "extra address", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newAddrIndex(f)
			y := &addrIndex{segs: slices.Clone(x.segs), words: slices.Clone(x.words), rank: slices.Clone(x.rank),
				sel: slices.Clone(x.sel), extra: slices.Clone(x.extra)}
			tt.damage(y)
			err := y.check(n+tt.more, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
