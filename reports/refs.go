package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/census"
)

// Holder is one thing that refers to an object: another object (and how:
// its edge's label), a frame's local variable, or a thread's state.
// Its JSON shape depends on Kind; see docs/json.md.
type Holder struct {
	Kind string // "object", "frame" or "thread"

	// kind "object"
	Address      uint64
	Type         string     // __name__ of the referrer's type
	Via          pyheap.Ref // "key 'CACHE'", "item 3", "attribute items", "__dict__"
	Conservative bool       // the edge came from a conservative scan
	Owner        *Owner     // for a dict that is an object's __dict__

	// kinds "frame" and "thread"
	ThreadID   uint64
	ThreadName string
	Interp     int64 // the interpreter the thread state belongs to (0: main)
	// kind "frame"
	Function string
	Filename string
	Line     int
	Name     string // the local variable; for "thread": what holds it
}

// Owner is the object whose __dict__ a dict is (an instance, a module, a class).
type Owner struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Repr    string `json:"repr,omitempty"`
}

// MarshalJSON writes the fields of the holder's kind only.
func (h Holder) MarshalJSON() ([]byte, error) {
	name := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	switch h.Kind {
	case "frame":
		return marshalPlain(struct {
			Kind        string  `json:"kind"`
			ThreadID    uint64  `json:"thread_id"`
			ThreadName  *string `json:"thread_name"`
			Interpreter int64   `json:"interpreter"`
			Function    string  `json:"function"`
			Filename    string  `json:"filename"`
			Line        int     `json:"line"`
			Name        string  `json:"name"`
		}{h.Kind, h.ThreadID, name(h.ThreadName), h.Interp, h.Function, h.Filename, h.Line, h.Name})
	case "thread":
		return marshalPlain(struct {
			Kind        string  `json:"kind"`
			ThreadID    uint64  `json:"thread_id"`
			ThreadName  *string `json:"thread_name"`
			Interpreter int64   `json:"interpreter"`
			Name        string  `json:"name"`
		}{h.Kind, h.ThreadID, name(h.ThreadName), h.Interp, h.Name})
	}
	return marshalPlain(struct {
		Kind    string `json:"kind"`
		Address string `json:"address"`
		Type    string `json:"type"`
		Via     string `json:"via"`
		RefFields
		Conservative bool   `json:"conservative,omitempty"`
		Owner        *Owner `json:"owner,omitempty"`
	}{h.Kind, hexAddr(h.Address), h.Type, h.Via.String(), refFields(h.Via), h.Conservative, h.Owner})
}

// Describe renders the holder on one line of text.
func (h Holder) Describe() (who, via string) {
	switch h.Kind {
	case "frame":
		return fmt.Sprintf("%s › frame %s (%s:%d)", h.threadLabel(), h.Function, filepath.Base(h.Filename), h.Line), "local " + h.Name
	case "thread":
		return h.threadLabel(), h.Name
	}
	who = fmt.Sprintf("<%s at %s>", h.Type, hexAddr(h.Address))
	if h.Owner != nil {
		who += fmt.Sprintf(", __dict__ of %s", ownerText(h.Owner))
	}
	via = h.Via.String()
	if h.Conservative {
		via += " (conservative)"
	}
	return who, via
}

// marshalPlain is json.Marshal without HTML escaping ("<module>" stays
// readable), as WriteJSON writes everything else.
func marshalPlain(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func ownerText(o *Owner) string {
	if o.Repr != "" {
		return o.Repr
	}
	return fmt.Sprintf("<%s at %s>", o.Type, o.Address)
}

// threadLabel names the holder's thread, and its interpreter when that is
// a subinterpreter (one OS thread can have a state in several).
func (h Holder) threadLabel() string {
	l := threadLabel(h.ThreadID, h.ThreadName)
	if h.Interp != 0 {
		l = pyheap.InterpLabel(h.Interp) + " › " + l
	}
	return l
}

func threadLabel(id uint64, name string) string {
	if name == "" {
		return fmt.Sprintf("thread %d", id)
	}
	return fmt.Sprintf("thread %d (%s)", id, name)
}

// HolderFinder lists the holders of objects of one census: the search
// is the census's (census.Holders); this names what it finds.
type HolderFinder struct {
	h   *pyheap.Heap
	idx *census.Holders[*pyheap.Type]
	// ns maps the frames running a module or class body to their
	// namespace dict; read on first need (nsRead).
	ns     map[pyheap.FrameKey]uint64
	nsRead bool
}

// NewHolderFinder indexes the census's frame and thread roots.
func NewHolderFinder(h *pyheap.Heap) *HolderFinder {
	return &HolderFinder{h: h, idx: h.NewHolders(pyheap.RootLocal, pyheap.RootException, pyheap.RootThreadDict)}
}

// Holders lists what refers to id: frames first, then threads, then
// objects by address, one entry per reference.
func (f *HolderFinder) Holders(id pyheap.ObjectID) []Holder {
	h := f.h
	var objs []Holder
	held := map[uint64]bool{}
	for _, ref := range f.idx.Referrals(id) {
		src := ref.From
		t := h.Type(src)
		held[h.Addr(src)] = true
		for _, e := range ref.Edges {
			hd := Holder{Kind: "object", Address: h.Addr(src), Type: t.ShortName(), Via: e.Via, Conservative: e.Conservative}
			if t.Kind == pyheap.KindDict {
				hd.Owner = f.owner(src)
			}
			objs = append(objs, hd)
		}
		if len(ref.Edges) == 0 { // the census saw an edge that labelling does not: say so
			objs = append(objs, Holder{Kind: "object", Address: h.Addr(src), Type: t.ShortName(), Via: pyheap.Ref{Kind: pyheap.RefUnknown}})
		}
	}
	return append(f.rootHolders(id, held), objs...)
}

// RootHolders counts the frame and thread entries Holders lists for id,
// without labelling its referrers' edges (show's count).
func (f *HolderFinder) RootHolders(id pyheap.ObjectID) int {
	held := map[uint64]bool{}
	for _, src := range f.h.Referrers(id) {
		held[f.h.Addr(src)] = true
	}
	return len(f.rootHolders(id, held))
}

// rootHolders lists the frames and threads that hold id; held is the
// addresses of the objects that refer to it.
func (f *HolderFinder) rootHolders(id pyheap.ObjectID, held map[uint64]bool) []Holder {
	out := []Holder{}
	for _, r := range f.idx.RootsOf(id) {
		switch r.Kind {
		case pyheap.RootLocal:
			if f.inNamespace(r, held) {
				continue
			}
			out = append(out, Holder{Kind: "frame", ThreadID: r.ThreadID, ThreadName: r.ThreadName, Interp: r.Interp,
				Function: r.Function, Filename: r.Filename, Line: r.Line, Name: r.Local})
		case pyheap.RootException:
			out = append(out, Holder{Kind: "thread", ThreadID: r.ThreadID, ThreadName: r.ThreadName, Interp: r.Interp, Name: "exception being handled"})
		case pyheap.RootThreadDict:
			out = append(out, Holder{Kind: "thread", ThreadID: r.ThreadID, ThreadName: r.ThreadName, Interp: r.Interp, Name: "thread state dict"})
		}
	}
	return out
}

// inNamespace reports whether the local root r is an entry of its frame's
// namespace dict (a module body's globals, a class body's namespace)
// that is among the object's referrers. The frame holds no reference of
// its own there: the dict does, and is listed (gc.get_referrers() names
// the dict only). Listing both counted one reference twice.
func (f *HolderFinder) inNamespace(r pyheap.Root, held map[uint64]bool) bool {
	if !f.nsRead {
		f.ns, f.nsRead = f.h.Runtime().NamespaceFrames(), true
	}
	d, ok := f.ns[pyheap.FrameKeyOf(r)]
	return ok && held[d]
}

// owner names the object whose __dict__ the dict d is: a referrer that is
// not a dict (a dict holding d as a value is no owner) and refers to d as
// its __dict__.
func (f *HolderFinder) owner(d pyheap.ObjectID) *Owner {
	h := f.h
	src, ok := f.idx.Owner(d,
		func(src pyheap.ObjectID) bool { return h.Type(src).Kind != pyheap.KindDict },
		func(e pyheap.Edge) bool { return e.Via.IsField("__dict__") })
	if !ok {
		return nil
	}
	o := &Owner{Address: hexAddr(h.Addr(src)), Type: h.Type(src).ShortName()}
	if k := h.Type(src).Kind; k == pyheap.KindModule || k == pyheap.KindType {
		o.Repr = h.Runtime().ShortDesc(h.Addr(src))
	}
	return o
}

// Refs is the answer of `refs`: the holders of one object, the first
// Max of them.
type Refs struct {
	Target  Value
	Holders []Holder
	// Total counts every holder, listed or not; Objects the distinct
	// objects among them (show's referrers), Roots the frame and thread
	// entries (show's root_referrers).
	Total, Objects, Roots int
}

// RefsDefaultMax is how many holders refs lists unless told: None or a
// class has tens of thousands of referrers, a table nobody reads and
// seconds of paths with --paths. As many as show lists references.
const RefsDefaultMax = ShowMaxEdges

// BuildRefs lists the holders of the object id, at most max of them (0:
// all); the rest are counted.
func BuildRefs(h *pyheap.Heap, id pyheap.ObjectID, max int) *Refs {
	all := NewHolderFinder(h).Holders(id)
	r := &Refs{Target: valueOf(h.Runtime().Describe(h.Addr(id))), Total: len(all)}
	objs := map[uint64]bool{}
	for _, hd := range all {
		if hd.Kind == "object" {
			objs[hd.Address] = true
		} else {
			r.Roots++
		}
	}
	r.Objects = len(objs)
	if max > 0 && len(all) > max {
		all = all[:max]
	}
	r.Holders = all
	return r
}

// More is how many holders --max left out.
func (r *Refs) More() int { return r.Total - len(r.Holders) }

// Warnings says what --max left out, as grep's do.
func (r *Refs) Warnings() []string {
	if n := r.More(); n > 0 {
		return []string{fmt.Sprintf("%d more referrer(s) not shown (--max 0 shows all)", n)}
	}
	return nil
}

// header is the first line of refs: the rows (one per reference, listed
// or not), then the referrers they come from, counted as show counts them.
func (r *Refs) header() string {
	return fmt.Sprintf("%d reference(s) to %s, from %s\n", r.Total, targetText(r.Target), referrerCounts(r.Objects, r.Roots))
}

// referrerCounts says how many objects, and frames or threads, refer to
// an object, as show and refs both say it.
func referrerCounts(objects, roots int) string {
	s := fmt.Sprintf("%d object(s)", objects)
	if roots > 0 {
		s += fmt.Sprintf(", %d frame local(s) or thread(s)", roots)
	}
	return s
}

// targetText names an object once: its repr when that already gives its
// type and address ("<FileIO at 0x… name='/dev/null'>"), else "<type at
// address> repr".
func targetText(v Value) string {
	if strings.Contains(v.Repr, v.Address) {
		return v.Repr
	}
	return fmt.Sprintf("<%s at %s> %s", v.Type, v.Address, v.Repr)
}

// WriteText renders the holders as a table.
func (r *Refs) WriteText(w io.Writer) error {
	fmt.Fprint(w, r.header())
	if len(r.Holders) == 0 {
		return nil
	}
	return writeHolders(w, r.Holders)
}

func writeHolders(w io.Writer, hs []Holder) error {
	rows := make([][]string, 0, len(hs))
	for _, h := range hs {
		who, via := h.Describe()
		rows = append(rows, []string{h.Kind, who, via})
	}
	return table(w, []string{"kind", "referrer", "via"}, rows)
}
