package census

// AddrFilter is a set of addresses with false positives: a bit per
// address hash. A caller looking for a few targets among the references
// of a holder of millions asks it first, and the set itself only when it
// says yes.
type AddrFilter [64]uint64

// Add puts addr in the filter.
func (f *AddrFilter) Add(addr uint64) {
	b := (addr >> 4) & 4095
	f[b>>6] |= 1 << (b & 63)
}

// MayHave is false when addr was not added; true when it was, and for
// about one address in 4096 more (per address added).
func (f *AddrFilter) MayHave(addr uint64) bool {
	b := (addr >> 4) & 4095
	return f[b>>6]&(1<<(b&63)) != 0
}

// FilteredLabeller is a Reader that can report only those of obj's
// labelled references whose target the filter may have, skipping the
// others without a call each (the items of a list of millions): what
// Labelled reports, less some of the references to targets not in f.
type FilteredLabeller[T any] interface {
	LabelledAmong(obj uint64, t T, f *AddrFilter, emit func(target uint64, via Ref, conservative bool))
}

// labelledAmong is the model's LabelledAmong when it has one, else its
// Labelled filtered here.
func (h *Heap[T]) labelledAmong(obj uint64, t T, f *AddrFilter, emit func(target uint64, via Ref, conservative bool)) {
	if fl, ok := h.main.(FilteredLabeller[T]); ok {
		fl.LabelledAmong(obj, t, f, emit)
		return
	}
	h.main.Labelled(obj, t, func(target uint64, via Ref, conservative bool) {
		if f.MayHave(target) {
			emit(target, via, conservative)
		}
	})
}
