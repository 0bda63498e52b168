package pyheap

import (
	"bytes"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// applyDebugOffsets takes every field that the process's own
// _Py_DebugOffsets (3.13+, at _PyRuntime+0) describes from there, so a
// patch release that moved a field is still read right.
func (r *Runtime) applyDebugOffsets() {
	if len(r.L.Debug) == 0 {
		return
	}
	cookie := r.m.img.InCore(r.Addr, 8)
	if !bytes.Equal(cookie, debugCookie) {
		r.warn("_PyRuntime at 0x%x has no _Py_DebugOffsets cookie; using the %s table", r.Addr, r.L.Version)
		return
	}
	if hex, err := r.m.u64(r.Addr + 8); err == nil && hex>>24 == 3 {
		r.HexVersion = hex
	}
	if err := r.checkDebugOffsets(r.Addr, r.claimedHex); err != nil {
		r.warn("the process's _Py_DebugOffsets fail validation (%v); using the %s table alone", err, r.L.Version)
		return
	}
	L := *r.L
	changed := 0
	layout.EachDebugField(&L, func(name, path string, v *int64) {
		off, ok := L.Debug[path]
		if !ok {
			return
		}
		got, err := r.m.u64(r.Addr + uint64(off))
		if err != nil || got > 1<<20 {
			return
		}
		if int64(got) != *v {
			changed++
		}
		*v = int64(got)
	})
	if err := r.validate(&L, r.Addr, false); err != nil {
		r.warn("_Py_DebugOffsets in the core disagree with the interpreter state (%v); using the %s table", err, r.L.Version)
		return
	}
	L.Source = r.L.Source + ", with the process's _Py_DebugOffsets"
	if changed > 0 {
		r.warn("_Py_DebugOffsets moved %d field(s) from the committed %s table", changed, r.L.Version)
	}
	r.L = &L
}
