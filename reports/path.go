package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/census"
)

// RefPath is a chain of references from a named root to an object.
type RefPath struct {
	Root PathRoot `json:"root"`
	// Hops are the objects from the root's object to the target, both
	// included: hops[0] is what the root names (its via is null) and the
	// last hop is the target.
	Hops []Hop `json:"hops"`
}

// PathRoot is the named root a path starts at.
type PathRoot struct {
	Kind string `json:"kind"` // module, sys, builtins, local, exception, thread-dict
	Name string `json:"name"`
	// Interpreter is the id of the interpreter whose root it is (0: main).
	Interpreter int64 `json:"interpreter"`
}

// Hop is one object on a path and the reference that led to it.
type Hop struct {
	Via *string `json:"via"`
	*RefFields
	Address      string `json:"address"`
	Type         string `json:"type"`
	Repr         string `json:"repr"`
	Conservative bool   `json:"conservative,omitempty"`

	desc string
	// repr, when set, gives Repr when the hop is written as JSON: the
	// text output never shows it, and a repr (a module dict's first items,
	// each described) was an eighth of a warm `top`.
	repr *lazyRepr
}

// lazyRepr is an object's repr, made once, when first asked for.
type lazyRepr struct {
	rt   *pyheap.Runtime
	addr uint64
	done bool
	s    string
}

func (l *lazyRepr) get() string {
	if !l.done {
		l.s, l.done = l.rt.Describe(l.addr).Repr, true
	}
	return l.s
}

// MarshalJSON writes the hop with its repr, made now if it was left for
// later.
func (h Hop) MarshalJSON() ([]byte, error) {
	type plain Hop // the same fields, without this method
	p := plain(h)
	if h.repr != nil {
		p.Repr = h.repr.get()
	}
	// As the answers are written: reprs keep their < and > (json.Marshal
	// would escape them for HTML).
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// MaxPaths bounds `path --all`.
const MaxPaths = 20

// rootRank orders roots at one distance: a module global explains more
// than a local function object's __globals__ reaching the same dict.
var rootRank = map[pyheap.RootKind]int{
	pyheap.RootModule: 0, pyheap.RootLocal: 1, pyheap.RootException: 2,
	pyheap.RootThreadDict: 3, pyheap.RootSys: 4, pyheap.RootBuiltins: 5,
	pyheap.RootInterned: 6, // holds every interned name: it explains least
}

// BuildPaths finds the shortest reference path from a named root to id;
// with all, one shortest path per root that reaches it (at most max). The
// search is the census's (census.Heap.ShortestPaths); this labels and
// describes its hops.
func BuildPaths(h *pyheap.Heap, id pyheap.ObjectID, all bool, max int) []RefPath {
	if max <= 0 {
		max = MaxPaths
	}
	return labelPaths(h, h.ShortestPaths(id, all, max, rankRoot))
}

// rankRoot orders roots at one distance (rootRank).
func rankRoot(r pyheap.Root) int { return rootRank[r.Kind] }

// labelPaths labels and describes the hops of paths the census found.
func labelPaths(h *pyheap.Heap, found []census.Path) []RefPath {
	return newPathLabeller(h).label(found)
}

// pathLabeller labels and describes paths, each pair's edge labelled and
// each object described once however many paths (or rows: top's 25 share
// their first hops) pass through it: labelling a big dict's edges and
// describing a module's dict are the costly part.
type pathLabeller struct {
	h      *pyheap.Heap
	labels map[hopPair]hopLabel
	hops   map[pyheap.ObjectID]Hop
}

type hopPair struct{ from, to pyheap.ObjectID }

type hopLabel struct {
	via  pyheap.Ref
	cons bool
}

func newPathLabeller(h *pyheap.Heap) *pathLabeller {
	return &pathLabeller{h: h, labels: map[hopPair]hopLabel{}, hops: map[pyheap.ObjectID]Hop{}}
}

func (pl *pathLabeller) label(found []census.Path) []RefPath {
	h, rt := pl.h, pl.h.Runtime()
	out := []RefPath{}
	for _, fp := range found {
		p := RefPath{Root: PathRoot{Kind: string(fp.Root.Kind), Name: fp.Root.Name, Interpreter: fp.Root.Interp}}
		prev := pyheap.ObjectID(-1)
		for _, o := range fp.Objects {
			hop, ok := pl.hops[o]
			if !ok {
				addr := h.Addr(o)
				typ := "?"
				if t, err := rt.TypeOf(addr); err == nil {
					typ = t.ShortName()
				}
				hop = Hop{Address: hexAddr(addr), Type: typ, desc: rt.ShortDesc(addr), repr: &lazyRepr{rt: rt, addr: addr}}
				pl.hops[o] = hop
			}
			if prev >= 0 {
				l, ok := pl.labels[hopPair{prev, o}]
				if !ok {
					l.via, l.cons = h.EdgeLabel(prev, o)
					pl.labels[hopPair{prev, o}] = l
				}
				via, fields := l.via.String(), refFields(l.via)
				hop.Via, hop.RefFields, hop.Conservative = &via, &fields, l.cons
			}
			p.Hops = append(p.Hops, hop)
			prev = o
		}
		out = append(out, p)
	}
	return out
}

// PathText renders a path on one line:
// sys.modules["app"] › __dict__ › key 'CACHE' › <list at 0x7f…>.
func PathText(p RefPath) string {
	parts := []string{p.Root.Name}
	for _, hop := range p.Hops {
		if hop.Via != nil {
			v := *hop.Via
			if hop.Conservative {
				v += " (conservative)"
			}
			parts = append(parts, v)
		}
	}
	if n := len(p.Hops); n > 0 {
		last := p.Hops[n-1]
		desc := last.desc
		if desc == "" {
			desc = fmt.Sprintf("<%s at %s>", last.Type, last.Address)
		}
		parts = append(parts, desc)
	}
	return strings.Join(parts, " › ")
}

// WriteText prints one path per line.
func (ps *Paths) WriteText(w io.Writer) error {
	target, paths := ps.Target, ps.Paths
	if len(paths) == 0 {
		_, err := fmt.Fprintf(w, "no named root reaches %s (it may be garbage, or held only by C code)\n", targetText(target))
		return err
	}
	for _, p := range paths {
		if _, err := fmt.Fprintln(w, PathText(p)); err != nil {
			return err
		}
	}
	return nil
}
