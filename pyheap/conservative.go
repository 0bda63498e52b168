package pyheap

// ConservativeType reports whether instances of t are walked, in part, by
// a conservative scan: words of the object that no walker accounts for
// and that are followed when they look like pointers to objects. Such an
// object's references may miss what it holds outside its struct, or
// include integers that look like pointers.
func (r *Runtime) ConservativeType(t *Type) bool {
	switch t.Kind {
	case KindOther, KindException:
	default:
		return false // walked by kind
	}
	tw := r.typeWalkOf(t)
	if tw.leaf || tw.kind != nil || tw.fields != nil || !tw.conservOK {
		return false
	}
	if t.Basicsize > 1<<16 {
		return false // walkInstance does not scan such objects at all
	}
	for off := tw.solidSize; off+8 <= t.Basicsize; off += 8 {
		if off < 16 || off == tw.weaklist || (t.Dictoffset > 0 && off == t.Dictoffset) {
			continue
		}
		if _, ok := tw.slotNames[off]; !ok {
			return true
		}
	}
	return false
}

// ConservativeObject is ConservativeType for one object, counting also a
// module whose C state is scanned (its m_traverse cannot be run here).
func (r *Runtime) ConservativeObject(addr uint64, t *Type) bool {
	if t.Kind == KindModule {
		_, size := r.moduleState(addr)
		return size > 0 && r.moduleStateLayout(addr, size) == nil
	}
	return r.ConservativeType(t)
}
