package reports

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/graph/heapdiff"
	"github.com/pycoroner/pycoroner/pyheap"
)

// DiffType is one type's count and size in each core.
type DiffType struct {
	Type       string `json:"type"` // tp_name
	Module     string `json:"module"`
	CountOld   int    `json:"count_old"`
	CountNew   int    `json:"count_new"`
	CountDelta int    `json:"count_delta"`
	SizeOld    uint64 `json:"size_old"`
	SizeNew    uint64 `json:"size_new"`
	SizeDelta  int64  `json:"size_delta"`
}

// DiffGrowth is an object present in both cores that refers to many new
// objects in the new one.
type DiffGrowth struct {
	Address         string   `json:"address"`
	Type            string   `json:"type"`
	Path            *RefPath `json:"path"` // in the new core; null: no named root reaches it
	NewReferents    int      `json:"new_referents"`
	NewRetainedSize uint64   `json:"new_retained_size"`
}

// DiffNew lists the new objects of one type (--new TYPE).
type DiffNew struct {
	Type    string          `json:"type"`
	Count   int             `json:"count"` // all of them; Objects may be fewer
	Objects []RetainedChild `json:"objects"`
}

// Diff is the answer of `diff`. Types lists the types whose count or size
// changed, the biggest size change first.
type Diff struct {
	// The counts the text's first line says: objects in both cores, new in
	// NEW, freed since OLD, and the types whose count and size did not
	// change (left out of Types).
	ObjectsInBoth  int `json:"objects_in_both"`
	NewObjects     int `json:"new_objects"`
	FreedObjects   int `json:"freed_objects"`
	TypesUnchanged int `json:"types_unchanged"`

	Types  []DiffType   `json:"types"`
	Growth []DiffGrowth `json:"growth"`
	New    *DiffNew     `json:"new,omitempty"`

	textTop int // type rows the text shows (0: all)
}

// DiffOptions choose what diff lists.
type DiffOptions struct {
	NewType   string // list the new objects of this type
	MaxNew    int    // at most this many of them (0: all)
	MinGrowth int    // new referents that make a growth point (default 10)
	TextTop   int    // type rows the text shows (0: all; JSON has all)
}

// typeKey names a type the same way in both cores.
func typeKey(g *LeakGraph, t *pyheap.Type) string {
	return g.H.Runtime().TypeModule(t) + "\x00" + t.Name
}

// BuildDiff compares two censuses of one process, object by object
// (graph/heapdiff); cur needs its dominator tree, old only its arrays.
func BuildDiff(old, cur *LeakGraph, opts DiffOptions) (*Diff, error) {
	// The snapshots compare out-edges: a leak graph whose dominator tree
	// was restored from a saved index has none until asked.
	for _, g := range []*LeakGraph{old, cur} {
		if g.Graph.Off == nil {
			g.AddGraph()
		}
	}
	keys := map[string]uint32{}
	var names []*pyheap.Type
	var modules []string
	typeKeys := func(g *LeakGraph) []uint32 {
		perType := make([]uint32, len(g.Types))
		for i, t := range g.Types {
			k := typeKey(g, t)
			id, ok := keys[k]
			if !ok {
				id = uint32(len(names))
				keys[k] = id
				names = append(names, t)
				modules = append(modules, g.H.Runtime().TypeModule(t))
			}
			perType[i] = id
		}
		out := make([]uint32, len(g.TypeOf))
		for u, ti := range g.TypeOf {
			out[u] = perType[ti]
		}
		return out
	}
	snap := func(g *LeakGraph) heapdiff.Snapshot[pyheap.ObjectID] {
		s := heapdiff.Snapshot[pyheap.ObjectID]{Addr: make([]uint64, g.H.Len()), Type: typeKeys(g), Size: g.Sizes, Edges: g.Graph}
		for i := range s.Addr {
			s.Addr[i] = g.H.Addr(pyheap.ObjectID(i))
		}
		if g.Tree != nil {
			s.Retained = g.Tree.Retained
		}
		return s
	}
	res, err := heapdiff.Compare(snap(old), snap(cur), heapdiff.Options{MinGrowth: opts.MinGrowth})
	if err != nil {
		return nil, err
	}
	d := &Diff{Types: []DiffType{}, Growth: []DiffGrowth{}, ObjectsInBoth: res.Matched, NewObjects: res.Added, FreedObjects: res.Freed, textTop: opts.TextTop}
	for _, t := range res.Types {
		if t.CountDelta() == 0 && t.SizeDelta() == 0 {
			d.TypesUnchanged++
			continue
		}
		d.Types = append(d.Types, DiffType{Type: names[t.Type].Name, Module: modules[t.Type],
			CountOld: t.CountOld, CountNew: t.CountNew, CountDelta: t.CountDelta(),
			SizeOld: t.SizeOld, SizeNew: t.SizeNew, SizeDelta: t.SizeDelta()})
	}
	h := cur.H
	paths := newPathLabeller(h)
	for _, gp := range res.Growth {
		id := pyheap.ObjectID(gp.Node)
		dg := DiffGrowth{Address: hexAddr(h.Addr(id)), Type: cur.Type(gp.Node).ShortName(),
			NewReferents: gp.NewReferents, NewRetainedSize: gp.NewRetained}
		dg.Path = paths.rootPath(id)
		d.Growth = append(d.Growth, dg)
	}
	if opts.NewType != "" {
		want := map[uint32]bool{}
		for _, ti := range cur.FindType(opts.NewType) {
			want[ti] = true
		}
		if len(want) == 0 {
			return nil, fmt.Errorf("no type named %q in the new core", opts.NewType)
		}
		var nodes []dominators.Node
		for u, ti := range cur.TypeOf {
			if want[ti] && res.IsNew(dominators.Node(u)) {
				nodes = append(nodes, dominators.Node(u))
			}
		}
		slices.SortStableFunc(nodes, func(a, b dominators.Node) int {
			ra, rb := cur.Tree.Retained(a), cur.Tree.Retained(b)
			if ra != rb {
				if ra > rb {
					return -1
				}
				return 1
			}
			return int(a) - int(b)
		})
		d.New = &DiffNew{Type: opts.NewType, Count: len(nodes), Objects: []RetainedChild{}}
		if opts.MaxNew > 0 && len(nodes) > opts.MaxNew {
			nodes = nodes[:opts.MaxNew]
		}
		for _, u := range nodes {
			d.New.Objects = append(d.New.Objects, cur.child(u))
		}
	}
	return d, nil
}

// JSON is the answer itself.
func (d *Diff) JSON() any { return d }

// WriteText prints the type table, the growth points and the new objects.
func (d *Diff) WriteText(w io.Writer) error {
	top := d.textTop
	fmt.Fprintf(w, "%d objects in both cores, %d new, %d freed; %d types changed (%d unchanged)\n",
		d.ObjectsInBoth, d.NewObjects, d.FreedObjects, len(d.Types), d.TypesUnchanged)
	types := d.Types
	if top > 0 && len(types) > top {
		types = types[:top]
	}
	rows := make([][]string, 0, len(types))
	for _, t := range types {
		rows = append(rows, []string{t.Type, t.Module, strconv.Itoa(t.CountOld), strconv.Itoa(t.CountNew),
			fmt.Sprintf("%+d", t.CountDelta), signedSize(t.SizeDelta)})
	}
	if err := table(w, []string{"type", "module", "old", "new", "delta", "size delta"}, rows); err != nil {
		return err
	}
	if len(types) < len(d.Types) {
		fmt.Fprintf(w, "the top %d of %d changed types shown (--top 0 shows all)\n", len(types), len(d.Types))
	}
	if len(d.Growth) == 0 {
		fmt.Fprintln(w, "\nno growth point: no object of the old core refers to many new objects")
	} else {
		fmt.Fprintln(w, "\ngrowth points (objects in both cores that refer to many new ones):")
		for _, g := range d.Growth {
			where := fmt.Sprintf("<%s at %s>", g.Type, g.Address)
			if g.Path != nil {
				where = PathText(*g.Path)
			}
			fmt.Fprintf(w, "  +%d new referents retaining %s: %s\n", g.NewReferents, byteSize(int64(g.NewRetainedSize)), where)
		}
	}
	if d.New != nil {
		fmt.Fprintf(w, "\n%d new %s objects", d.New.Count, d.New.Type)
		if len(d.New.Objects) < d.New.Count {
			fmt.Fprintf(w, " (the %d biggest shown)", len(d.New.Objects))
		}
		fmt.Fprintln(w, ":")
		for _, o := range d.New.Objects {
			fmt.Fprintf(w, "  %s %s retains %s in %d objects\n", o.Address, o.Type, byteSize(int64(o.RetainedSize)), o.RetainedObjects)
		}
	}
	return nil
}

func signedSize(n int64) string {
	if n < 0 {
		return "-" + byteSize(-n)
	}
	return "+" + byteSize(n)
}
