package reports

import (
	"io"

	"github.com/pycoroner/pycoroner/pyheap"
)

// Envelope is the JSON of every command that answers from a heap census
// or from sys.modules: the answer itself under "result", and beside it
// whether it is complete and what makes it less than exact. Without it a
// JSON consumer would get a bare array and never see that the census
// missed the GC's lists: the warnings went to stderr only, which scripts
// drop. A person reading the text still gets them on stderr.
type Envelope struct {
	Result any `json:"result"`
	// Complete is false when the census is known to miss objects (a GC
	// list broken or disagreeing with the heap, the collector running when
	// the core was taken) or the answer stopped early on an error.
	Complete bool     `json:"complete"`
	Warnings []string `json:"warnings"`
	// Census is the census the answer comes from (heap commands only);
	// OldCensus that of diff's older core.
	Census    *CensusFacts `json:"census,omitempty"`
	OldCensus *CensusFacts `json:"old_census,omitempty"`
}

// CensusFacts is the JSON form of a census's own account (the text's
// "census:" line).
type CensusFacts struct {
	Objects                int      `json:"objects"`
	GCTracked              int      `json:"gc_tracked"`
	References             int      `json:"references"`
	ConservativeReferences int      `json:"conservative_references"`
	UnreadablePointers     int      `json:"unreadable_pointers"`
	FromIndex              bool     `json:"from_index"`
	GCCollecting           bool     `json:"gc_collecting"`
	Incomplete             []string `json:"incomplete"`
}

// CensusFactsOf is st as JSON.
func CensusFactsOf(st pyheap.HeapStats) *CensusFacts {
	inc := st.Incomplete
	if inc == nil {
		inc = []string{}
	}
	return &CensusFacts{
		Objects: st.Objects, GCTracked: st.GCTracked, References: st.Edges,
		ConservativeReferences: st.Conservative, UnreadablePointers: st.Unreadable,
		FromIndex: st.Restored, GCCollecting: st.GCCollecting, Incomplete: inc,
	}
}

// Complete reports whether the census is not known to miss objects.
func (c *CensusFacts) Complete() bool {
	return c == nil || (!c.GCCollecting && len(c.Incomplete) == 0)
}

// Enveloped is an answer with its warnings and census: its text is the
// answer's own (the warnings go to stderr), its JSON the Envelope.
type Enveloped struct {
	Answer
	Envelope Envelope
}

// Envelop wraps a: warnings are everything the command warns about;
// partial says the answer itself stopped early.
func Envelop(a Answer, warnings []string, partial bool, census, oldCensus *CensusFacts) *Enveloped {
	if warnings == nil {
		warnings = []string{}
	}
	return &Enveloped{Answer: a, Envelope: Envelope{
		Result:    a.JSON(),
		Complete:  !partial && census.Complete() && oldCensus.Complete(),
		Warnings:  warnings,
		Census:    census,
		OldCensus: oldCensus,
	}}
}

// JSON is the envelope.
func (e *Enveloped) JSON() any { return &e.Envelope }

// WriteText is the answer's text.
func (e *Enveloped) WriteText(w io.Writer) error { return e.Answer.WriteText(w) }
