package reports

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/pyheap"
)

// Instance is one object of the type asked for, with its holders.
type Instance struct {
	Address         string   `json:"address"`
	Type            string   `json:"type"`
	ShallowSize     uint64   `json:"shallow_size"`
	RetainedSize    uint64   `json:"retained_size"`
	RetainedObjects uint32   `json:"retained_objects"`
	Holders         []Holder `json:"holders"`
}

// Instances is the answer of `instances`: Count objects of the type, the
// Instances listed being the biggest retained.
type Instances struct {
	Type      string     `json:"type"`
	Count     int        `json:"count"`
	Instances []Instance `json:"instances"`
}

// BuildInstances lists the objects of the types name matches (see
// LeakGraph.MatchesType), largest retained first, top of them (0: all).
func BuildInstances(g *LeakGraph, name string, top int) (*Instances, error) {
	want := map[uint32]bool{}
	for _, ti := range g.FindType(name) {
		want[ti] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no object of a type named %q in the census (give tp_name, __name__ or module.__name__, as histogram prints them)", name)
	}
	var nodes []dominators.Node
	for u, ti := range g.TypeOf {
		if want[ti] {
			nodes = append(nodes, dominators.Node(u))
		}
	}
	slices.SortStableFunc(nodes, func(a, b dominators.Node) int {
		if c := cmp.Compare(g.Tree.Retained(b), g.Tree.Retained(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	out := &Instances{Type: name, Count: len(nodes), Instances: []Instance{}}
	if top > 0 && len(nodes) > top {
		nodes = nodes[:top]
	}
	finder := NewHolderFinder(g.H)
	for _, u := range nodes {
		id := pyheap.ObjectID(u)
		out.Instances = append(out.Instances, Instance{Address: hexAddr(g.H.Addr(id)), Type: g.Type(u).ShortName(),
			ShallowSize: uint64(g.Sizes[u]), RetainedSize: g.Tree.Retained(u), RetainedObjects: g.Tree.Count[u],
			Holders: finder.Holders(id)})
	}
	return out, nil
}

// JSON is the answer itself.
func (in *Instances) JSON() any { return in }

// WriteText prints each instance with its holders.
func (in *Instances) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%d objects of type %s", in.Count, in.Type)
	if len(in.Instances) < in.Count {
		fmt.Fprintf(w, "; the %d with the largest retained size shown (--top 0 shows all)", len(in.Instances))
	}
	fmt.Fprintln(w)
	for _, o := range in.Instances {
		fmt.Fprintf(w, "\n%s %s: retains %s in %d objects (shallow %s), %d holder(s)\n", o.Address, o.Type,
			byteSize(int64(o.RetainedSize)), o.RetainedObjects, byteSize(int64(o.ShallowSize)), len(o.Holders))
		for _, h := range o.Holders {
			who, via := h.Describe()
			fmt.Fprintf(w, "  %s: %s\n", who, via)
		}
	}
	return nil
}
