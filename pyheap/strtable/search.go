package strtable

import (
	"bytes"
	"regexp"
	"runtime"
	"sort"
	"sync"
)

// Kinds chooses the entries a search looks at.
type Kinds struct{ Str, Bytes bool }

func (k Kinds) has(flags uint8) bool {
	if flags&FlagBytes != 0 {
		return k.Bytes
	}
	return k.Str
}

// Counts says how many entries of the chosen kinds there are and how
// many of them are cut: what grep reports as searched and cut.
func (t *Table) Counts(k Kinds) (searched, cut int) {
	if c := t.counts; c != nil { // counted by Check
		if k.Str {
			searched, cut = c[0], c[1]
		}
		if k.Bytes {
			searched, cut = searched+c[2], cut+c[3]
		}
		return searched, cut
	}
	for _, f := range t.Flags {
		if k.has(f) {
			searched++
			if f&FlagCut != 0 {
				cut++
			}
		}
	}
	return searched, cut
}

// Search returns, in order, the entries of the chosen kinds whose text re
// matches. When re is anchored at a literal (^lit, lit$, ^lit$), only the
// ends of each entry are compared with it. When every match of re
// contains a literal (RequiredLiteral),
// the literal is looked for over the whole text and re runs only on the
// entries holding it; otherwise re runs on each entry. The text is split
// among the CPUs at entry boundaries.
func (t *Table) Search(re *regexp.Regexp, k Kinds) []int {
	lit := RequiredLiteral(re)
	alit, start, end := anchoredLiteral(re)
	n := t.Len()
	if n == 0 {
		return nil
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), int(len(t.Blob)>>20)))
	// Part w covers entries [bounds[w], bounds[w+1]): about the same
	// share of the text each.
	bounds := make([]int, workers+1)
	for w := 1; w < workers; w++ {
		at := uint32(uint64(len(t.Blob)) * uint64(w) / uint64(workers))
		bounds[w] = max(bounds[w-1], sort.Search(n, func(i int) bool { return t.Off[i] >= at }))
	}
	bounds[workers] = n
	parts := make([][]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			if alit != nil {
				parts[w] = t.searchEnds(re, k, alit, start, end, bounds[w], bounds[w+1])
			} else if lit != nil {
				parts[w] = t.searchLiteral(re, k, lit, bounds[w], bounds[w+1])
			} else {
				parts[w] = t.searchEach(re, k, bounds[w], bounds[w+1])
			}
		}(w)
	}
	wg.Wait()
	var hits []int
	for _, p := range parts {
		hits = append(hits, p...)
	}
	return hits
}

// searchEnds runs re on the entries of [from, to) that start (start) or
// end (end) with lit.
func (t *Table) searchEnds(re *regexp.Regexp, k Kinds, lit []byte, start, end bool, from, to int) []int {
	var hits []int
	n := uint32(len(lit))
	for i := from; i < to; i++ {
		a, b := t.Off[i], t.Off[i+1]
		if b-a < n || (start && end && b-a != n) || !k.has(t.Flags[i]) {
			continue
		}
		text := t.Blob[a:b]
		if start && !bytes.Equal(text[:n], lit) || end && !bytes.Equal(text[b-a-n:], lit) {
			continue
		}
		if re.Match(text) {
			hits = append(hits, i)
		}
	}
	return hits
}

// searchEach runs re on each entry of [from, to).
func (t *Table) searchEach(re *regexp.Regexp, k Kinds, from, to int) []int {
	var hits []int
	for i := from; i < to; i++ {
		if k.has(t.Flags[i]) && re.Match(t.Blob[t.Off[i]:t.Off[i+1]]) {
			hits = append(hits, i)
		}
	}
	return hits
}

// searchLiteral finds lit in the text of entries [from, to) and runs re on
// the entries that hold it whole (an occurrence across two entries is
// neither's).
func (t *Table) searchLiteral(re *regexp.Regexp, k Kinds, lit []byte, from, to int) []int {
	var hits []int
	pos, end := t.Off[from], t.Off[to]
	for pos < end {
		j := bytes.Index(t.Blob[pos:end], lit)
		if j < 0 {
			break
		}
		p := pos + uint32(j)
		// The entry p lies in: the first whose end is past p.
		i := from + sort.Search(to-from, func(x int) bool { return t.Off[from+x+1] > p })
		if i >= to {
			break
		}
		if uint64(p)+uint64(len(lit)) <= uint64(t.Off[i+1]) && k.has(t.Flags[i]) && re.Match(t.Blob[t.Off[i]:t.Off[i+1]]) {
			hits = append(hits, i)
		}
		// Any later occurrence in entry i also crosses its end, or was
		// judged with it.
		pos = t.Off[i+1]
	}
	return hits
}
