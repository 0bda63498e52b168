package coreread

import (
	"debug/elf"
	"math"
	"sort"
)

// A hostile core's program headers may overlap in memory or in the file,
// or describe sums that wrap past 2^64. The reader keeps a consistent
// subset, so that every later walk costs at most the file's size, not the
// count of headers times the size of what they share: kernels and gcore
// never write overlapping segments, so nothing real is lost.

// loadSegment turns a PT_LOAD into a Segment whose sums cannot wrap and
// whose file part lies inside the core's size bytes. lost says that the
// file ends before the segment's data.
func loadSegment(pr *elf.Prog, size uint64) (s Segment, lost bool) {
	s = Segment{Vaddr: pr.Vaddr, Memsz: pr.Memsz, Off: pr.Off, Filesz: pr.Filesz, Flags: pr.Flags}
	if s.Memsz > math.MaxUint64-s.Vaddr {
		s.Memsz = math.MaxUint64 - s.Vaddr // the last byte of the address space is never mapped
	}
	if s.Filesz > s.Memsz {
		s.Filesz = s.Memsz
	}
	switch {
	case s.Off >= size:
		if s.Filesz > 0 {
			lost, s.Truncated = true, true
		}
		s.Filesz = 0
	case s.Filesz > size-s.Off:
		s.Filesz = size - s.Off
		lost, s.Truncated = true, true
	}
	return s, lost
}

// dropOverlaps sorts the segments by address and drops those that overlap
// an earlier one in memory (lookups assume disjoint segments) or in the
// file (their data would be scanned once per header), with a warning.
func (p *Process) dropOverlaps(segs []Segment) []Segment {
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].Vaddr < segs[j].Vaddr })
	var memOverlaps, fileOverlaps int
	kept := segs[:0]
	for _, s := range segs {
		if n := len(kept); n > 0 && s.Vaddr-kept[n-1].Vaddr < kept[n-1].Memsz {
			memOverlaps++
			continue
		}
		kept = append(kept, s)
	}
	// File ranges: sort the indexes of the segments with data by offset.
	idx := make([]int, 0, len(kept))
	for i, s := range kept {
		if s.Filesz > 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return kept[idx[a]].Off < kept[idx[b]].Off })
	drop := map[int]bool{}
	var end uint64
	for k, i := range idx {
		s := kept[i]
		if k > 0 && s.Off < end {
			drop[i] = true
			fileOverlaps++
			continue
		}
		end = s.Off + s.Filesz
	}
	out := kept[:0]
	for i, s := range kept {
		if !drop[i] {
			out = append(out, s)
		}
	}
	if memOverlaps > 0 {
		p.warn("%d memory segments (PT_LOAD) overlap another in memory and are ignored: the core is malformed", memOverlaps)
	}
	if fileOverlaps > 0 {
		p.warn("%d memory segments (PT_LOAD) share file data with another and are ignored: the core is malformed", fileOverlaps)
	}
	return out
}

// distinctNotes returns the PT_NOTE segments in file order without those
// that overlap an earlier one: the same notes are read once, however many
// headers point at them.
func distinctNotes(notes []*elf.Prog, p *Process) []*elf.Prog {
	sort.SliceStable(notes, func(i, j int) bool { return notes[i].Off < notes[j].Off })
	var out []*elf.Prog
	var end uint64
	skipped := 0
	for _, pr := range notes {
		if len(out) > 0 && pr.Off < end {
			skipped++
			continue
		}
		out = append(out, pr)
		end = pr.Off + pr.Filesz
		if end < pr.Off {
			end = math.MaxUint64
		}
	}
	if skipped > 0 {
		p.warn("%d note segments (PT_NOTE) overlap another and are ignored: the core is malformed", skipped)
	}
	return out
}
