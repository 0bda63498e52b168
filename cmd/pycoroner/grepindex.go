package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/pycoroner/pycoroner/indexfile"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/strtable"
	"github.com/pycoroner/pycoroner/reports"
)

// grep searches a saved string table (package strtable) when the core has
// one for this census: the text of every str and bytes object laid out in
// one blob, scanned sequentially, instead of every object in the core.
// The first grep on a core with a saved census builds the table, searches
// it and saves it beside the census index, in a file of its own (schema
// "strings"), recording the fingerprint of the census index it was built
// from; it is used only with that census. Without a saved index
// (--no-index, --pid, no cache) grep reads the objects in the core as it
// always did (reports.BuildGrep): building a table would only cost more.

// strIndexSchema names a saved string table and the version of its form.
var strIndexSchema = indexfile.Schema{Kind: "strings", Version: 5}

// strMeta is the small part of a saved table, as JSON.
type strMeta struct {
	Census  string // hex of the census index's fingerprint
	Objects int
	Limit   int    // reports.GrepMaxValue when built
	Counts  [4]int // strtable.Table.Counts
}

// grepParts are the parts of a saved census grep reads: the addresses of
// the objects (to read their text, to name them) and the reverse index
// (their holders). They are read only when used: a saved string table
// answers a grep that finds nothing without them.
const grepParts = pyheap.SavedAddrs | pyheap.SavedReverse

// censusDamaged: a part of the saved census cannot be read (the caller
// takes the census again).
type censusDamaged struct{ err error }

func (e censusDamaged) Error() string { return e.err.Error() }

// grep answers grep for re, from the string table when there is one.
func (hs *heapSession) grep(re *regexp.Regexp, opts reports.GrepOptions) (*reports.Grep, error) {
	fp, ok := "", hs.cache != nil
	if ok {
		fp, ok = hs.censusFingerprint()
	}
	if !ok { // no saved index: read the objects where they lie
		if err := hs.h.Preload(grepParts); err != nil {
			return nil, censusDamaged{err}
		}
		return reports.BuildGrep(hs.h, re, opts), nil
	}
	if x, meta, ok := hs.savedStrings(fp); ok {
		res, err := hs.grepSaved(x, meta, re, opts)
		if err == nil {
			hs.extra = append(hs.extra, x)
			return res, nil
		}
		x.Close()
		if errors.As(err, new(censusDamaged)) {
			return nil, err
		}
		os.Remove(x.Path())
		hs.warnings = append(hs.warnings, fmt.Sprintf("saved string table %s not used: %v; it was built again", x.Path(), err))
	}
	t, err := hs.buildStrings(fp)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return reports.BuildGrep(hs.h, re, opts), nil
	}
	defer t.Release()
	hits, err := searchTable(hs.h, t, re, opts)
	if err != nil { // not expected of a table just built from this census
		hs.warnings = append(hs.warnings, fmt.Sprintf("string table not used (%v)", err))
		return reports.BuildGrep(hs.h, re, opts), nil
	}
	// The answer copies what it shows of the text: t can be released.
	return answerTable(hs.h, t, re, hits, opts), nil
}

// buildStrings builds the string table of hs's census (fingerprint fp)
// and saves it; nil, with a warning, when it cannot be built (grep then
// reads the objects where they lie). The caller releases the table.
func (hs *heapSession) buildStrings(fp string) (*strtable.Table, error) {
	// A census just taken and saved gives its arrays back for the
	// restored heap (as for a dominator tree: restoreSaved): the table
	// is built beside the mapped index, whose pages go once it is built,
	// not beside the arrays grep no longer needs (21 bytes per object).
	step := time.Now()
	if err := hs.restoreSaved(nil, false, pyheap.SavedAddrs); err != nil {
		return nil, censusDamaged{err}
	}
	if err := hs.h.Preload(grepParts); err != nil {
		return nil, censusDamaged{err}
	}
	budget, _, _ := memoryBudget()
	maxBlob := int64(strtable.MaxBlob)
	if budget > 0 {
		maxBlob = min(maxBlob, budget/2)
	}
	traceStep("strings: census restored, its arrays given back", &step)
	t, err := strtable.Build(hs.h, reports.GrepMaxValue, maxBlob)
	traceStep("strings: table", &step)
	if err != nil {
		hs.warnings = append(hs.warnings, fmt.Sprintf("no string table (%v): grep read every object of the core, and will again (docs/limits.md)", err))
		return nil, nil
	}
	if hs.index != nil {
		hs.index.Evict() // the addresses and types the table was built from
	}
	if err := hs.saveStrings(t, fp); err != nil {
		hs.warnings = append(hs.warnings, fmt.Sprintf("string table not saved (%v): the next grep reads every object of the core again", err))
	}
	traceStep("strings: saved", &step)
	return t, nil
}

// errStringsNotSaved: the table was built, but the cache did not keep it
// (a full disk, a limit too small); why is among the session's warnings.
var errStringsNotSaved = errors.New("the string table was built but not saved")

// stringTable makes sure the census of hs has a saved string table (for
// pycoroner index): found valid, or built and saved. It says the file.
func (hs *heapSession) stringTable() (string, error) {
	fp, ok := "", hs.cache != nil
	if ok {
		fp, ok = hs.censusFingerprint()
	}
	if !ok {
		return "", errors.New("no saved census to build a string table beside")
	}
	if x, _, ok := hs.savedStrings(fp); ok {
		x.Close()
		return x.Path(), nil
	}
	t, err := hs.buildStrings(fp)
	if err != nil || t == nil {
		return "", err
	}
	t.Release()
	x, _, ok := hs.savedStrings(fp)
	if !ok {
		return "", errStringsNotSaved
	}
	x.Close()
	return x.Path(), nil
}

// searchTable searches t, a table of h's census, for re: the entries
// that match, each checked against the census (a table that names an
// object of another kind is not this census's).
func searchTable(h *pyheap.Heap, t *strtable.Table, re *regexp.Regexp, opts reports.GrepOptions) ([]int, error) {
	found, err := t.Search(re, strtable.Kinds{Str: opts.Str, Bytes: opts.Bytes})
	if err != nil {
		return nil, err
	}
	for _, i := range found {
		if int(t.IDs[i]) >= h.Len() {
			return nil, fmt.Errorf("entry %d: object %d of %d", i, t.IDs[i], h.Len())
		}
		id := pyheap.ObjectID(t.IDs[i])
		isBytes := t.Flags[i]&strtable.FlagBytes != 0
		kind := h.Type(id).Kind
		if (isBytes && kind != pyheap.KindBytes) || (!isBytes && kind != pyheap.KindStr) {
			return nil, fmt.Errorf("entry %d: object %d is a %s", i, id, h.Type(id).Name)
		}
	}
	return found, nil
}

// answerTable is grep's answer for the entries found of t.
func answerTable(h *pyheap.Heap, t *strtable.Table, re *regexp.Regexp, found []int, opts reports.GrepOptions) *reports.Grep {
	hits := make([]reports.GrepHit, len(found))
	for j, i := range found {
		hits[j] = reports.GrepHit{ID: pyheap.ObjectID(t.IDs[i]), Bytes: t.Flags[i]&strtable.FlagBytes != 0, Text: t.Text(i), Cut: t.Flags[i]&strtable.FlagCut != 0}
	}
	searched, cut := t.Count(strtable.Kinds{Str: opts.Str, Bytes: opts.Bytes})
	return reports.BuildGrepHits(h, re.String(), hits, searched, cut, opts)
}

// savedStrings maps the saved string table of hs's census (fingerprint
// fp), its meta read and checked. A table that cannot be used is removed,
// with a warning when it was damaged (not merely of an older census).
func (hs *heapSession) savedStrings(fp string) (*indexfile.Index, strMeta, bool) {
	var meta strMeta
	x, ok := hs.loadSide(strIndexSchema, "string table", "built again", func(x *indexfile.Index) (err error) {
		meta, err = strMetaOf(x, fp, hs.h.Len())
		return err
	})
	return x, meta, ok
}

func strMetaOf(x *indexfile.Index, fp string, objects int) (strMeta, error) {
	meta, err := readSideMeta[strMeta](x, fp)
	if err != nil {
		return meta, err
	}
	if meta.Objects != objects || meta.Limit != reports.GrepMaxValue {
		return meta, fmt.Errorf("table of %d objects cut at %d, the census has %d objects and grep cuts at %d", meta.Objects, meta.Limit, objects, reports.GrepMaxValue)
	}
	return meta, nil
}

// grepSaved answers grep from a saved table: from its exact index when re
// is a whole literal (^lit$), else by searching its text.
func (hs *heapSession) grepSaved(x *indexfile.Index, meta strMeta, re *regexp.Regexp, opts reports.GrepOptions) (*reports.Grep, error) {
	if lit, ok := strtable.ExactLiteral(re); ok {
		return hs.grepExact(x, meta, lit, re, opts)
	}
	t, err := restoreTable(x, meta, hs.h.Len())
	if err != nil {
		return nil, err
	}
	hits, err := searchTable(hs.h, t, re, opts)
	if err != nil {
		return nil, err
	}
	if len(hits) > 0 {
		if err := hs.h.Preload(grepParts); err != nil {
			return nil, censusDamaged{err}
		}
	}
	return answerTable(hs.h, t, re, hits, opts), nil
}

// grepExact answers ^lit$ from the exact index: the few objects whose
// text hashes as lit's are read from the core, as grep without a table
// reads them, and matched; the table's text is not read.
func (hs *heapSession) grepExact(x *indexfile.Index, meta strMeta, lit []byte, re *regexp.Regexp, opts reports.GrepOptions) (*reports.Grep, error) {
	h := hs.h
	var ex strtable.ExactIndex
	var err error
	if ex.Tags, err = indexfile.Get[uint32](x, "exact_tags"); err != nil {
		return nil, err
	}
	if ex.IDs, err = indexfile.Get[uint32](x, "exact_ids"); err != nil {
		return nil, err
	}
	t := strtable.Table{Counts: meta.Counts}
	entries, _ := t.Count(strtable.Kinds{Str: true, Bytes: true})
	if !ex.Check(entries) {
		return nil, fmt.Errorf("exact index of %d tags and %d ids for %d entries", len(ex.Tags), len(ex.IDs), entries)
	}
	cands := ex.Candidates(lit)
	slices.Sort(cands)
	if len(cands) > 0 {
		if err := h.Preload(grepParts); err != nil {
			return nil, censusDamaged{err}
		}
	}
	rt := h.Runtime()
	var hits []reports.GrepHit
	for _, c := range cands {
		if int(c) >= h.Len() {
			return nil, fmt.Errorf("exact index: object %d of %d", c, h.Len())
		}
		id := pyheap.ObjectID(c)
		hit := reports.GrepHit{ID: id}
		var err error
		switch h.Type(id).Kind {
		case pyheap.KindStr:
			if !opts.Str {
				continue
			}
			hit.Text, hit.Cut, err = rt.AppendStrText(nil, h.Addr(id), reports.GrepMaxValue)
		case pyheap.KindBytes:
			if !opts.Bytes {
				continue
			}
			hit.Bytes = true
			hit.Text, hit.Cut, err = rt.Bytes(h.Addr(id), reports.GrepMaxValue)
		default:
			return nil, fmt.Errorf("exact index: object %d is a %s", c, h.Type(id).Name)
		}
		if err == nil && re.Match(hit.Text) {
			hits = append(hits, hit)
		}
	}
	searched, cut := t.Count(strtable.Kinds{Str: opts.Str, Bytes: opts.Bytes})
	return reports.BuildGrepHits(h, re.String(), hits, searched, cut, opts), nil
}

// restoreTable is the saved table of x, its shape checked.
func restoreTable(x *indexfile.Index, meta strMeta, objects int) (*strtable.Table, error) {
	t := &strtable.Table{Counts: meta.Counts}
	var err error
	if t.IDs, err = indexfile.Get[uint32](x, "ids"); err != nil {
		return nil, err
	}
	if t.Off, err = indexfile.Get[uint32](x, "offsets"); err != nil {
		return nil, err
	}
	if t.Flags, err = indexfile.Get[byte](x, "flags"); err != nil {
		return nil, err
	}
	if t.Blob, err = indexfile.Get[byte](x, "text"); err != nil {
		return nil, err
	}
	if err := t.Check(objects); err != nil {
		return nil, err
	}
	return t, nil
}

// saveStrings saves t beside hs's census index (fingerprint fp).
func (hs *heapSession) saveStrings(t *strtable.Table, fp string) error {
	meta, err := json.Marshal(strMeta{Census: fp, Objects: hs.h.Len(), Limit: reports.GrepMaxValue, Counts: t.Counts})
	if err != nil {
		return err
	}
	b := indexfile.NewBuilder("string table of " + absPath(hs.proc.Path()))
	indexfile.Add(b, "ids", t.IDs)
	indexfile.Add(b, "offsets", t.Off)
	indexfile.Add(b, "flags", t.Flags)
	indexfile.Add(b, "text", t.Blob)
	ex := t.BuildExact()
	indexfile.Add(b, "exact_tags", ex.Tags)
	indexfile.Add(b, "exact_ids", ex.IDs)
	indexfile.Add(b, "meta", meta)
	saved, err := hs.cache.Save(hs.key, strIndexSchema, b)
	if err != nil {
		return err
	}
	indexTrace("saved %s", saved)
	return nil
}
