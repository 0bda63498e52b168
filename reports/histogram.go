package reports

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/pycoroner/pycoroner/pyheap"
)

// HistogramRow is the count and total shallow size of one type (or, by
// module, of every type of one module).
type HistogramRow struct {
	Type   string `json:"type,omitempty"` // tp_name; absent when grouped by module
	Module string `json:"module"`
	Count  int    `json:"count"`
	Size   int64  `json:"size"`
	Types  int    `json:"types,omitempty"` // grouped by module: how many types
	// ConservativeCount and ConservativeSize are the row's objects walked
	// (in part) by a conservative scan, and their shallow size.
	ConservativeCount int   `json:"conservative_count,omitempty"`
	ConservativeSize  int64 `json:"conservative_size,omitempty"`

	addr uint64
}

// Histogram is the answer of `histogram`.
type Histogram struct {
	By     string // "type" or "module"
	Rows   []HistogramRow
	Groups int // rows before --top
	Total  HistogramRow
	Stats  pyheap.HeapStats
	// ConservativeTypes are the rows (by type) with objects walked
	// conservatively, the biggest first, whatever --top and --by say.
	ConservativeTypes []HistogramRow
}

// HistogramSource is what a histogram is counted from: a census
// (*pyheap.Heap) or a tally (*pyheap.HeapTally), which give the same
// totals.
type HistogramSource interface {
	Runtime() *pyheap.Runtime
	TypeTotals() (types []*pyheap.Type, counts []int, sizes []int64)
	ConservativeModules() map[*pyheap.Type]pyheap.ConservativeTotal
	CensusStats() pyheap.HeapStats
}

// BuildHistogram counts objects and their shallow sizes per type (by
// "type") or per the module that defines their type (by "module"), the
// biggest total size first; top > 0 keeps that many rows.
func BuildHistogram(h HistogramSource, by string, top int) *Histogram {
	rt := h.Runtime()
	perType := map[*pyheap.Type]*HistogramRow{}
	conservType := map[*pyheap.Type]bool{}
	out := &Histogram{By: by, Stats: h.CensusStats()}
	// Counts and sizes per type, and the few objects that need a look of
	// their own (modules): counted once per census and saved with its
	// index, so that a warm histogram reads no object's type or size.
	types, counts, sizes := h.TypeTotals()
	for i, t := range types {
		if counts[i] == 0 {
			continue
		}
		row := perType[t]
		if row == nil {
			row = &HistogramRow{Type: t.Name, Module: rt.TypeModule(t), addr: t.Addr}
			perType[t] = row
			conservType[t] = rt.ConservativeType(t)
		}
		row.Count += counts[i]
		row.Size += sizes[i]
		out.Total.Count += counts[i]
		out.Total.Size += sizes[i]
		if conservType[t] {
			row.ConservativeCount += counts[i]
			row.ConservativeSize += sizes[i]
			out.Total.ConservativeCount += counts[i]
			out.Total.ConservativeSize += sizes[i]
		}
	}
	for t, c := range h.ConservativeModules() {
		row := perType[t]
		if row == nil || conservType[t] {
			continue // counted with its type (none: ConservativeModules picks modules)
		}
		row.ConservativeCount += c.Count
		row.ConservativeSize += c.Size
		out.Total.ConservativeCount += c.Count
		out.Total.ConservativeSize += c.Size
	}
	for _, r := range perType {
		if r.ConservativeCount > 0 {
			out.ConservativeTypes = append(out.ConservativeTypes, *r)
		}
	}
	sort.Slice(out.ConservativeTypes, func(i, j int) bool {
		a, b := out.ConservativeTypes[i], out.ConservativeTypes[j]
		if a.ConservativeSize != b.ConservativeSize {
			return a.ConservativeSize > b.ConservativeSize
		}
		return a.Type < b.Type
	})
	var rows []HistogramRow
	if by == "module" {
		perModule := map[string]*HistogramRow{}
		for _, r := range perType {
			m := perModule[r.Module]
			if m == nil {
				m = &HistogramRow{Module: r.Module}
				perModule[r.Module] = m
			}
			m.Count += r.Count
			m.Size += r.Size
			m.Types++
			m.ConservativeCount += r.ConservativeCount
			m.ConservativeSize += r.ConservativeSize
		}
		for _, m := range perModule {
			rows = append(rows, *m)
		}
	} else {
		for _, r := range perType {
			rows = append(rows, *r)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		switch {
		case a.Size != b.Size:
			return a.Size > b.Size
		case a.Count != b.Count:
			return a.Count > b.Count
		case a.Type != b.Type:
			return a.Type < b.Type
		case a.Module != b.Module:
			return a.Module < b.Module
		}
		return a.addr < b.addr
	})
	out.Rows, out.Groups = rows, len(rows)
	if top > 0 && len(rows) > top {
		out.Rows = rows[:top]
	}
	if out.Rows == nil {
		out.Rows = []HistogramRow{}
	}
	return out
}

// Warnings says what makes the census less than exact.
func (hg *Histogram) Warnings() []string { return CensusWarnings(hg.Stats) }

// CensusWarnings says what makes a census less than exact.
func CensusWarnings(st pyheap.HeapStats) []string {
	var out []string
	if st.GCCollecting {
		out = append(out, "the garbage collector was running when the core was taken: its lists were being rearranged, so some objects may be missing or counted from the wrong generation")
	}
	return append(out, st.Incomplete...)
}

// CensusSummary is the one-line account of a census.
func CensusSummary(st pyheap.HeapStats) string {
	took := "in " + st.Duration.Round(time.Millisecond).String()
	if st.Restored {
		took = "from the saved index (the census took " + st.Duration.Round(time.Millisecond).String() + ")"
	}
	s := fmt.Sprintf("census: %d objects (%d GC-tracked), %d references (%d conservative), %d unreadable pointers, %s",
		st.Objects, st.GCTracked, st.Edges, st.Conservative, st.Unreadable, took)
	if st.GCCollecting {
		s += "; WARNING: the GC was collecting"
	}
	if n := len(st.Incomplete); n > 0 {
		s += fmt.Sprintf("; WARNING: INCOMPLETE, the GC's lists disagree with the heap (%d problem(s), see the warnings)", n)
	}
	return s
}

// WriteText prints the rows as a table and the census summary.
func (hg *Histogram) WriteText(w io.Writer) error {
	var header []string
	rows := make([][]string, 0, len(hg.Rows)+1)
	if hg.By == "module" {
		header = []string{"module", "types", "count", "size"}
		for _, r := range hg.Rows {
			rows = append(rows, []string{r.Module, strconv.Itoa(r.Types), strconv.Itoa(r.Count), byteSize(r.Size)})
		}
	} else {
		header = []string{"type", "module", "count", "size"}
		for _, r := range hg.Rows {
			rows = append(rows, []string{r.Type, r.Module, strconv.Itoa(r.Count), byteSize(r.Size)})
		}
	}
	if err := table(w, header, rows); err != nil {
		return err
	}
	shown := ""
	if len(hg.Rows) < hg.Groups {
		shown = fmt.Sprintf("; the top %d of %d rows shown (--top 0 shows all)", len(hg.Rows), hg.Groups)
	}
	fmt.Fprintf(w, "total: %d objects, %s (shallow sizes, as sys.getsizeof)%s\n", hg.Total.Count, byteSize(hg.Total.Size), shown)
	fmt.Fprintln(w, hg.ConservativeSummary())
	_, err := fmt.Fprintln(w, CensusSummary(hg.Stats))
	return err
}

// ConservativeSummary says how much of the heap rests on conservative
// scans, and of which types.
func (hg *Histogram) ConservativeSummary() string {
	t := hg.Total
	if t.ConservativeCount == 0 {
		return "walked conservatively: none (every object's references come from a walker for its type)"
	}
	pct := 0.0
	if t.Size > 0 {
		pct = 100 * float64(t.ConservativeSize) / float64(t.Size)
	}
	s := fmt.Sprintf("walked conservatively: %d objects, %s (%.2f%% of the heap's bytes): their references rest on words that look like pointers; by type:",
		t.ConservativeCount, byteSize(t.ConservativeSize), pct)
	for i, r := range hg.ConservativeTypes {
		if i == 8 {
			s += fmt.Sprintf(" and %d more types", len(hg.ConservativeTypes)-i)
			break
		}
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(" %s %d (%s)", r.Type, r.ConservativeCount, byteSize(r.ConservativeSize))
	}
	return s
}

// byteSize prints a size in bytes with a readable unit.
func byteSize(n int64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
