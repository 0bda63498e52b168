package pyheap

import (
	"strings"
	"testing"
)

// TestCensusSaysGCStateDamaged damages the collector's lists of a 3.13
// core and expects the census to say so every time, never to answer
// partially in silence: a generation emptied leaves its objects tracked
// but unlisted, a cut link breaks a list, and all lists emptied is an
// error.
func TestCensusSaysGCStateDamaged(t *testing.T) {
	p := openCore(t, golden313(t))
	base := openRuntime(t, p)
	h, err := base.BuildHeap(HeapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if probs := h.Stats.Incomplete; len(probs) > 0 || h.Stats.GCTracked == 0 {
		t.Fatalf("untouched core: %d GC-tracked, problems %v", h.Stats.GCTracked, probs)
	}
	L := base.L
	interps, err := base.Interpreters()
	if err != nil {
		t.Fatal(err)
	}
	gc := L.InterpGC.Add(interps[0].Addr)
	head := func(g int) uint64 {
		return L.GCGenerationHead.Add(L.GCGenerations.Add(gc) + uint64(g)*uint64(L.GCGenerationSize))
	}
	fullest, most := 0, 0
	for g := 0; g < 3; g++ {
		n := 0
		base.walkGCList("", head(g), func(uint64) { n++ })
		if n > most {
			fullest, most = g, n
		}
	}
	first, _ := p.Uint64(head(fullest))
	for _, c := range []struct {
		name    string
		damage  func(*patchedImage)
		wantErr string // from BuildHeap, or "" for a census with warnings
		want    string // in GCProblems
	}{
		{"generation emptied", func(pi *patchedImage) {
			pi.putU64(head(fullest), head(fullest))
			pi.putU64(head(fullest)+8, head(fullest))
		}, "", "tracked by the GC"},
		{"link cut", func(pi *patchedImage) { pi.putU64(first&^3, 0x10) }, "", "list is broken"},
		{"every list emptied", func(pi *patchedImage) {
			for _, hd := range []uint64{head(0), head(1), head(2), L.GCGenerationHead.Add(L.GCPermanent.Add(gc))} {
				pi.putU64(hd, hd)
				pi.putU64(hd+8, hd)
			}
		}, "none on the garbage collector's lists", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			pi := &patchedImage{Process: p, bytes: map[uint64]byte{}}
			c.damage(pi)
			r, err := Open(pi, Options{})
			if err != nil {
				t.Fatal(err)
			}
			h, err := r.BuildHeap(HeapOptions{})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("BuildHeap: %v, want an error saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			probs := strings.Join(h.Stats.Incomplete, "\n")
			if !strings.Contains(probs, c.want) {
				t.Errorf("GC problems %q, want %q (%d GC-tracked)", probs, c.want, h.Stats.GCTracked)
			}
		})
	}
}
