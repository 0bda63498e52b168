package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap"
)

// Show is one object decoded, with its references to a depth.
type Show struct {
	Address  string `json:"address"`
	Type     string `json:"type"`
	TypeName string `json:"type_name"`
	Module   string `json:"module"`
	// DefinedIn is the object's own __module__ (a function's, say), which
	// Module, the module of its type, is not; omitted when it has none.
	DefinedIn string `json:"defined_in,omitempty"`
	Size      int64  `json:"size"`
	Repr      string `json:"repr"`
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
	Referrers int    `json:"referrers"`
	// RootReferrers counts the frame locals and thread states that hold
	// the object: refs's frame and thread rows, which Referrers (objects,
	// as gc.get_referrers() counts) leaves out.
	RootReferrers int `json:"root_referrers"`
	// LazyImport is set for a 3.15 lazy-import placeholder: what it will
	// import when first used.
	LazyImport string `json:"lazy_import,omitempty"`
	// Traceback is an exception's __traceback__, outermost first as
	// Python prints it, with each frame's locals: what pdb.pm() would
	// show of a stored exception. Omitted for other objects.
	Traceback    []TraceEntry `json:"traceback,omitempty"`
	TracebackCut bool         `json:"traceback_cut,omitempty"`
	// Raised is the line Python ends a traceback with ("ValueError: bad
	// value"); the repr when the args are not one str.
	Raised string `json:"raised,omitempty"`
	// Chain is the exceptions before this one, nearest first: the one it
	// was raised from (cause) or while handling (context), each with its
	// own traceback. Python prints them above it, oldest first.
	Chain []ChainedException `json:"chain,omitempty"`
	// ChainCut is set when the chain goes on past what is listed (16).
	ChainCut  bool       `json:"chain_cut,omitempty"`
	Edges     []ShowEdge `json:"edges"`
	MoreEdges int        `json:"more_edges,omitempty"`
}

// ShowEdge is one reference of a shown object and, to the depth asked,
// the target's own references.
type ShowEdge struct {
	Via string `json:"via"`
	RefFields
	Address      string `json:"address"`
	Type         string `json:"type"`
	Size         int64  `json:"size"`
	Repr         string `json:"repr"`
	Truncated    bool   `json:"truncated,omitempty"`
	Conservative bool   `json:"conservative,omitempty"`
	// LazyImport: the target is a lazy-import placeholder (a module
	// global not imported yet); what it will import.
	LazyImport string     `json:"lazy_import,omitempty"`
	Edges      []ShowEdge `json:"edges,omitempty"`
	MoreEdges  int        `json:"more_edges,omitempty"`
	// Expanded is false when the target's references were not listed
	// although the depth allowed it: it was shown above, or it is the
	// object's type.
	Expanded *bool `json:"expanded,omitempty"`
}

// Show bounds: edges listed per object, objects listed in all, depth.
const (
	ShowMaxEdges = 200
	ShowMaxNodes = 5000
	ShowMaxDepth = 10
)

// BuildShow decodes the object id and its references to depth levels.
func BuildShow(h *pyheap.Heap, id pyheap.ObjectID, depth int) *Show {
	if depth > ShowMaxDepth {
		depth = ShowMaxDepth
	}
	rt := h.Runtime()
	v := rt.Describe(h.Addr(id))
	t := h.Type(id)
	s := &Show{Address: hexAddr(h.Addr(id)), Type: t.ShortName(), TypeName: t.Name, Module: rt.TypeModule(t),
		Size: h.Size(id), Repr: v.Repr, Truncated: v.Truncated, Referrers: h.ReferrerCount(id),
		RootReferrers: NewHolderFinder(h).RootHolders(id)}
	if v.Err != nil {
		s.Error = v.Err.Error()
	}
	s.LazyImport = lazyImportOf(rt, v)
	if t.Kind == pyheap.KindException {
		s.Traceback, s.TracebackCut = tracebackOf(rt, h.Addr(id))
		s.Raised = raisedLine(rt, h.Addr(id), v.Repr)
		chain, cut := rt.ExceptionChain(h.Addr(id))
		s.ChainCut = cut
		for _, link := range chain {
			tb, cut := tracebackOf(rt, link.Exc)
			s.Chain = append(s.Chain, ChainedException{Relation: link.Relation, Address: hexAddr(link.Exc),
				Raised: raisedLine(rt, link.Exc, rt.Describe(link.Exc).Repr), Traceback: tb, TracebackCut: cut})
		}
	}
	// Only a function says where it was defined: labelling every edge of a
	// big container to look for __module__ made show and path slow.
	for _, e := range functionEdges(h, id, t) {
		if fmt.Sprint(e.Via) == "__module__" {
			if name, err := rt.StrValue(e.Addr); err == nil {
				s.DefinedIn = name
			}
			break
		}
	}
	b := &showBuilder{h: h, seen: map[pyheap.ObjectID]bool{id: true}}
	s.Edges, s.MoreEdges = b.edges(id, depth)
	if s.Edges == nil {
		s.Edges = []ShowEdge{}
	}
	return s
}

type showBuilder struct {
	h     *pyheap.Heap
	seen  map[pyheap.ObjectID]bool
	nodes int
}

func (b *showBuilder) edges(id pyheap.ObjectID, depth int) ([]ShowEdge, int) {
	if depth <= 0 {
		return nil, 0
	}
	h, rt := b.h, b.h.Runtime()
	all := h.Edges(id)
	var out []ShowEdge
	for i, e := range all {
		if i >= ShowMaxEdges || b.nodes >= ShowMaxNodes {
			return out, len(all) - i
		}
		b.nodes++
		v := rt.Describe(e.Addr)
		se := ShowEdge{Via: e.Via.String(), RefFields: refFields(e.Via), Address: hexAddr(e.Addr), Type: v.Type, Size: h.Size(e.Target), Repr: v.Repr,
			Truncated: v.Truncated, Conservative: e.Conservative, LazyImport: lazyImportOf(rt, v)}
		if depth > 1 {
			if b.seen[e.Target] || e.Via.IsField("__class__") {
				no := false
				se.Expanded = &no
			} else {
				b.seen[e.Target] = true
				se.Edges, se.MoreEdges = b.edges(e.Target, depth-1)
			}
		}
		out = append(out, se)
	}
	return out, 0
}

// WriteText prints the object and an indented tree of its references.
func (s *Show) WriteText(w io.Writer) error {
	if s.DefinedIn != "" {
		// A function's module is where it was defined, not builtins, the
		// module of the function type.
		fmt.Fprintf(w, "%s at %s (%s from %s, defined in module %s)\n", s.Type, s.Address, s.TypeName, s.Module, s.DefinedIn)
	} else {
		fmt.Fprintf(w, "%s at %s (%s, module %s)\n", s.Type, s.Address, s.TypeName, s.Module)
	}
	fmt.Fprintf(w, "  size      %d bytes (shallow, as sys.getsizeof)\n", s.Size)
	fmt.Fprintf(w, "  repr      %s\n", s.Repr)
	if s.LazyImport != "" {
		fmt.Fprintf(w, "  lazy      a lazy import of '%s', not imported yet\n", s.LazyImport)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  error     %s\n", s.Error)
	}
	fmt.Fprintf(w, "  referrers %s (pycoroner refs lists each reference)\n", referrerCounts(s.Referrers, s.RootReferrers))
	s.writeTraceback(w)
	fmt.Fprintf(w, "  references (%d):\n", len(s.Edges)+s.MoreEdges)
	writeShowEdges(w, s.Edges, s.MoreEdges, 2)
	return nil
}

func writeShowEdges(w io.Writer, edges []ShowEdge, more, indent int) {
	pad := strings.Repeat("  ", indent)
	for _, e := range edges {
		via := e.Via
		if e.Conservative {
			via += " (conservative)"
		}
		note := ""
		if e.LazyImport != "" {
			note = "  [lazy import, not imported yet]"
		}
		if e.Expanded != nil && !*e.Expanded {
			note += "  …"
		}
		fmt.Fprintf(w, "%s%s → %s %s (%s, %d bytes)%s\n", pad, via, e.Type, e.Address, e.Repr, e.Size, note)
		writeShowEdges(w, e.Edges, e.MoreEdges, indent+1)
	}
	if more > 0 {
		fmt.Fprintf(w, "%s… %d more\n", pad, more)
	}
}

// lazyImportOf is what a lazy-import placeholder will import, "" for any
// other object.
func lazyImportOf(rt *pyheap.Runtime, v pyheap.Value) string {
	if v.Type != "lazy_import" {
		return ""
	}
	name, ok, err := rt.LazyImportName(v.Address)
	if !ok || err != nil {
		return ""
	}
	return name
}

// functionEdges is the references of id when it is a function, else none.
func functionEdges(h *pyheap.Heap, id pyheap.ObjectID, t *pyheap.Type) []pyheap.Edge {
	if t == nil || t.Name != "function" {
		return nil
	}
	return h.Edges(id)
}

// describeValue is id's type, address and repr, without its references.
func describeValue(h *pyheap.Heap, id pyheap.ObjectID) Value {
	v := h.Runtime().Describe(h.Addr(id))
	return Value{Type: h.Type(id).ShortName(), Address: hexAddr(h.Addr(id)), Repr: v.Repr}
}

// TraceEntry is one entry of an exception's traceback (Show.Traceback).
type TraceEntry struct {
	Frame    string           `json:"frame"`
	Function string           `json:"function"`
	Filename string           `json:"filename"`
	Line     int              `json:"line"`
	Locals   map[string]Value `json:"locals"`
	// HiddenGlobals counts a module body's locals, its module's globals,
	// left out of Locals (as stacks leaves them out).
	HiddenGlobals int    `json:"hidden_globals,omitempty"`
	Error         string `json:"error,omitempty"`

	localOrder []string
}

func tracebackOf(rt *pyheap.Runtime, exc uint64) ([]TraceEntry, bool) {
	entries, cut, err := rt.Traceback(exc)
	if err != nil {
		return []TraceEntry{{Error: err.Error(), Locals: map[string]Value{}}}, true
	}
	out := make([]TraceEntry, 0, len(entries))
	for _, e := range entries {
		te := TraceEntry{Frame: hexAddr(e.Frame), Function: e.Function, Filename: e.Filename, Line: e.Line, Locals: map[string]Value{}}
		if e.Err != nil {
			te.Error = e.Err.Error()
		}
		if e.LocalsAreGlobals {
			te.HiddenGlobals = len(e.Locals)
		} else {
			for _, l := range e.Locals {
				te.Locals[l.Name] = valueOf(rt.Describe(l.Value))
				te.localOrder = append(te.localOrder, l.Name)
			}
		}
		out = append(out, te)
	}
	return out, cut
}

// ChainedException is one exception of Show.Chain.
type ChainedException struct {
	Relation     string       `json:"relation"` // "cause" or "context"
	Address      string       `json:"address"`
	Raised       string       `json:"raised"`
	Traceback    []TraceEntry `json:"traceback"`
	TracebackCut bool         `json:"traceback_cut,omitempty"`
}

func raisedLine(rt *pyheap.Runtime, exc uint64, repr string) string {
	if line := rt.ExceptionLine(exc); line != "" {
		return line
	}
	return repr
}

// chainSentences are what Python prints between two tracebacks of a
// chain.
var chainSentences = map[string]string{
	"cause":   "The above exception was the direct cause of the following exception:",
	"context": "During handling of the above exception, another exception occurred:",
}

// writeTraceback prints an exception's traceback as Python does: the
// chain first, oldest first, then its own, most recent call last, each
// frame's locals under it, and the line it was raised with.
func (s *Show) writeTraceback(w io.Writer) {
	if len(s.Traceback) == 0 && len(s.Chain) == 0 {
		return
	}
	if s.ChainCut {
		fmt.Fprintf(w, "  (the chain goes on before the %d exceptions shown)\n\n", len(s.Chain))
	}
	for i := len(s.Chain) - 1; i >= 0; i-- {
		c := s.Chain[i]
		fmt.Fprintf(w, "  (%s at %s)\n", c.Raised, c.Address)
		writeTraceEntries(w, c.Traceback, c.TracebackCut)
		fmt.Fprintf(w, "    %s\n\n  %s\n\n", c.Raised, chainSentences[c.Relation])
	}
	writeTraceEntries(w, s.Traceback, s.TracebackCut)
	if s.Raised != "" {
		fmt.Fprintf(w, "    %s\n", s.Raised)
	}
}

// repeatShown is how many times Python prints a repeated traceback line
// before it says "[Previous line repeated N more times]".
const repeatShown = 3

func writeTraceEntries(w io.Writer, entries []TraceEntry, cut bool) {
	if len(entries) == 0 {
		return
	}
	fmt.Fprintln(w, "  traceback (most recent call last):")
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		// A recursion: the same place over and over, said once.
		same := 0
		for j := i + 1; j < len(entries) && entries[j].Filename == e.Filename && entries[j].Line == e.Line && entries[j].Function == e.Function; j++ {
			same++
		}
		if same >= repeatShown {
			for k := 0; k < repeatShown; k++ {
				writeTraceEntry(w, entries[i+k])
			}
			fmt.Fprintf(w, "    [Previous line repeated %d more times]\n", same+1-repeatShown)
			i += same
			continue
		}
		writeTraceEntry(w, e)
	}
	if cut {
		fmt.Fprintln(w, "    … (the chain goes on past what could be read)")
	}
}

func writeTraceEntry(w io.Writer, e TraceEntry) {
	{
		if e.Error != "" && e.Function == "" {
			fmt.Fprintf(w, "    <unreadable entry: %s>\n", e.Error)
			return
		}
		fmt.Fprintf(w, "    File \"%s\", line %d, in %s\n", e.Filename, e.Line, e.Function)
		for _, name := range e.localOrder {
			v := e.Locals[name]
			fmt.Fprintf(w, "      %s = %s (%s)\n", name, v.Repr, v.Type)
		}
		if e.HiddenGlobals > 0 {
			fmt.Fprintf(w, "      (a module body: its %d locals are its module's globals)\n", e.HiddenGlobals)
		}
		if e.Error != "" {
			fmt.Fprintf(w, "      (%s)\n", e.Error)
		}
	}
}
