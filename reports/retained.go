package reports

import (
	"fmt"
	"io"
	"strconv"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/pyheap"
)

// RetainedChild is one object a retained report's object dominates directly.
type RetainedChild struct {
	Address         string `json:"address"`
	Type            string `json:"type"`
	RetainedSize    uint64 `json:"retained_size"`
	RetainedObjects uint32 `json:"retained_objects"`
}

// Retained is the answer of `retained`: what would be freed if the object
// went away.
type Retained struct {
	Address         string          `json:"address"`
	Type            string          `json:"type"`
	ShallowSize     uint64          `json:"shallow_size"`
	RetainedSize    uint64          `json:"retained_size"`
	RetainedObjects uint32          `json:"retained_objects"`
	Children        []RetainedChild `json:"children"`
	// ChildrenOmitted counts the dominated children beyond --top.
	ChildrenOmitted int `json:"children_omitted,omitempty"`

	repr     string
	heapSize uint64
}

// BuildRetained reports id's retained size and its top biggest dominated
// children (0: all).
func BuildRetained(g *LeakGraph, id pyheap.ObjectID, top int) *Retained {
	h, u := g.H, dominators.Node(id)
	out := &Retained{
		Address: hexAddr(h.Addr(id)), Type: g.Type(u).ShortName(), ShallowSize: uint64(g.Sizes[u]),
		RetainedSize: g.Tree.Retained(u), RetainedObjects: g.Tree.Count[u], Children: []RetainedChild{},
		repr: h.Runtime().ShortDesc(h.Addr(id)), heapSize: g.HeapSize(),
	}
	kids := g.Tree.Children(u)
	if top > 0 && len(kids) > top {
		out.ChildrenOmitted = len(kids) - top
		kids = kids[:top]
	}
	for _, k := range kids {
		out.Children = append(out.Children, g.child(k))
	}
	return out
}

func (g *LeakGraph) child(k dominators.Node) RetainedChild {
	return RetainedChild{Address: hexAddr(g.H.Addr(pyheap.ObjectID(k))), Type: g.Type(k).ShortName(),
		RetainedSize: g.Tree.Retained(k), RetainedObjects: g.Tree.Count[k]}
}

// JSON is the answer itself.
func (r *Retained) JSON() any { return r }

// WriteText prints the object's sizes and its children as a table.
func (r *Retained) WriteText(w io.Writer) error {
	desc := r.repr
	if desc == "" {
		desc = fmt.Sprintf("<%s at %s>", r.Type, r.Address)
	}
	fmt.Fprintf(w, "%s retains %s in %d objects (%s of the heap); its own size is %s\n",
		desc, byteSize(int64(r.RetainedSize)), r.RetainedObjects, percent(r.RetainedSize, r.heapSize), byteSize(int64(r.ShallowSize)))
	if len(r.Children) == 0 {
		_, err := fmt.Fprintln(w, "it dominates no other object")
		return err
	}
	rows := make([][]string, 0, len(r.Children))
	for _, c := range r.Children {
		rows = append(rows, []string{c.Address, c.Type, byteSize(int64(c.RetainedSize)), strconv.Itoa(int(c.RetainedObjects))})
	}
	if err := table(w, []string{"dominated child", "type", "retained", "objects"}, rows); err != nil {
		return err
	}
	if r.ChildrenOmitted > 0 {
		_, err := fmt.Fprintf(w, "and %d smaller children not shown (--top 0 shows all)\n", r.ChildrenOmitted)
		return err
	}
	return nil
}

func percent(part, whole uint64) string {
	if whole == 0 {
		return "0%"
	}
	p := 100 * float64(part) / float64(whole)
	if p < 1 {
		return fmt.Sprintf("%.2f%%", p)
	}
	return fmt.Sprintf("%.0f%%", p)
}
