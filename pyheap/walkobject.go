package pyheap

// walkObject reports obj's references (its type excluded): fast paths for
// leaves and the commonest containers, the walkers for everything else.
func walkObject(r *Runtime, obj uint64, t *Type, emit emitFunc) {
	switch t.Kind {
	case KindNone, KindBool, KindInt, KindFloat, KindStr, KindBytes:
		return // leaves: only the type, which is implicit
	case KindTuple, KindList:
		n, err := r.varSize(obj)
		if err != nil || n <= 0 || n > maxDictEntries {
			return
		}
		base := r.L.TupleItems.Add(obj)
		if t.Kind == KindList {
			if base = r.ptrField(obj, r.L.ListItems); base == 0 {
				return
			}
		}
		raw, err := r.m.bytes(base, int(n)*8)
		if err != nil {
			return
		}
		for j := 0; j < int(n); j++ {
			if it := le64(raw[8*j:]); it != 0 {
				emit(it, Ref{}, false)
			}
		}
		return
	}
	r.walkRefs(obj, t, false, emit)
}
