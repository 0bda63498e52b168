package strtable

import (
	"bytes"
	"regexp"
	"runtime"
	"sort"

	"github.com/pycoroner/pycoroner/internal/faultgroup"
)

// Kinds chooses the entries a search looks at.
type Kinds struct{ Str, Bytes bool }

func (k Kinds) has(flags uint8) bool {
	if flags&FlagBytes != 0 {
		return k.Bytes
	}
	return k.Str
}

// Count says how many entries of the chosen kinds there are and how
// many of them are cut: what grep reports as searched and cut.
func (t *Table) Count(k Kinds) (searched, cut int) {
	if k.Str {
		searched, cut = t.Counts[0], t.Counts[1]
	}
	if k.Bytes {
		searched, cut = searched+t.Counts[2], cut+t.Counts[3]
	}
	return searched, cut
}

// Search returns, in order, the entries of the chosen kinds whose text re
// matches. When re is anchored at a literal (^lit, lit$, ^lit$), only the
// ends of each entry are compared with it. When every match of re
// contains a literal (RequiredLiteral),
// the literal is looked for over the whole text and re runs only on the
// entries holding it; otherwise re runs on each entry. The text is split
// among the CPUs at entry boundaries. ErrDamaged when offsets it reads
// are out of order.
func (t *Table) Search(re *regexp.Regexp, k Kinds) ([]int, error) {
	lit := RequiredLiteral(re)
	alit, start, end := anchoredLiteral(re)
	n := t.Len()
	if n == 0 {
		return nil, nil
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
	bad := make([]bool, workers)
	var wg faultgroup.Group // the table may be a saved file's mapping
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			if alit != nil {
				parts[w], bad[w] = t.searchEnds(re, k, alit, start, end, bounds[w], bounds[w+1])
			} else if lit != nil {
				parts[w], bad[w] = t.searchLiteral(re, k, lit, bounds[w], bounds[w+1])
			} else {
				parts[w], bad[w] = t.searchEach(re, k, bounds[w], bounds[w+1])
			}
		})
	}
	wg.Wait()
	var hits []int
	for w, p := range parts {
		if bad[w] {
			return nil, ErrDamaged
		}
		hits = append(hits, p...)
	}
	return hits, nil
}

// searchEnds runs re on the entries of [from, to) that start (start) or
// end (end) with lit.
func (t *Table) searchEnds(re *regexp.Regexp, k Kinds, lit []byte, start, end bool, from, to int) ([]int, bool) {
	var hits []int
	n := uint32(len(lit))
	for i := from; i < to; i++ {
		a, b := t.Off[i], t.Off[i+1]
		if a > b || int(b) > len(t.Blob) {
			return nil, true
		}
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
	return hits, false
}

// searchEach runs re on each entry of [from, to).
func (t *Table) searchEach(re *regexp.Regexp, k Kinds, from, to int) ([]int, bool) {
	var hits []int
	for i := from; i < to; i++ {
		a, b := t.Off[i], t.Off[i+1]
		if a > b || int(b) > len(t.Blob) {
			return nil, true
		}
		if k.has(t.Flags[i]) && re.Match(t.Blob[a:b]) {
			hits = append(hits, i)
		}
	}
	return hits, false
}

// searchLiteral finds lit in the text of entries [from, to) and runs re on
// the entries that hold it whole (an occurrence across two entries is
// neither's).
func (t *Table) searchLiteral(re *regexp.Regexp, k Kinds, lit []byte, from, to int) ([]int, bool) {
	var hits []int
	pos, end := t.Off[from], t.Off[to]
	if pos > end {
		return nil, true
	}
	for pos < end {
		j := bytes.Index(t.Blob[pos:end], lit)
		if j < 0 {
			break
		}
		p := pos + uint32(j)
		// The entry p lies in: the first whose end is past p.
		i := from + sort.Search(to-from, func(x int) bool { return t.Off[from+x+1] > p })
		if i >= to || t.Off[i] > p || t.Off[i+1] <= p || t.Off[i+1] > end {
			// Offsets out of order: the search went astray.
			return nil, true
		}
		if uint64(p)+uint64(len(lit)) <= uint64(t.Off[i+1]) && k.has(t.Flags[i]) && re.Match(t.Blob[t.Off[i]:t.Off[i+1]]) {
			hits = append(hits, i)
		}
		// Any later occurrence in entry i also crosses its end, or was
		// judged with it.
		pos = t.Off[i+1]
	}
	return hits, false
}
