package reports

import (
	"github.com/pycoroner/pycoroner/pyheap"
)

// RefFields are the structured fields of a reference, beside its "via"
// text in every JSON answer that has one (refs, grep holders, path hops,
// show edges; docs/json.md): the kind, and the name, index or offset that
// kind has.
type RefFields struct {
	ViaKind   string  `json:"via_kind"`
	ViaName   *string `json:"via_name,omitempty"`
	ViaIndex  *int64  `json:"via_index,omitempty"`
	ViaOffset *int64  `json:"via_offset,omitempty"`
}

func refFields(r pyheap.Ref) RefFields {
	f := RefFields{ViaKind: r.Kind.String()}
	switch r.Kind {
	case pyheap.RefKey, pyheap.RefKeyItself, pyheap.RefAttribute, pyheap.RefSlot, pyheap.RefField, pyheap.RefLocal:
		name := r.Name
		f.ViaName = &name
	case pyheap.RefItem, pyheap.RefStack:
		i := r.Index
		f.ViaIndex = &i
	case pyheap.RefWord:
		o := r.Offset
		f.ViaOffset = &o
		if r.Name != "" {
			name := r.Name
			f.ViaName = &name
		}
	}
	return f
}
