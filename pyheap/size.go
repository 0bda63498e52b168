package pyheap

// shallowSize is what sys.getsizeof reports for one object: the type's
// __sizeof__ (basic size plus items, or the kind's own rule) plus the
// pre-header (the GC header; 3.11+ also two words for a managed dict).
func (r *Runtime) shallowSize(obj uint64, t *Type) int64 {
	L := r.L
	size := t.Basicsize
	switch {
	case t.Kind == KindStr:
		size = r.strSize(obj)
	case t.Kind == KindInt || t.Kind == KindBool:
		if n, ok := r.intDigitCount(obj); ok {
			if L.LongTag >= 0 && n == 0 {
				n = 1 // 3.12+ always counts one digit
			}
			size = L.LongDigits + n*L.LongDigitSize
		}
	case t.Kind == KindList:
		if alloc, err := r.m.i64(obj + uint64(L.ListAllocated)); err == nil && alloc >= 0 && alloc < 1<<40 {
			size = t.Basicsize + alloc*8
		}
	case t.Kind == KindSet || t.Kind == KindFrozenSet:
		table := r.ptrField(obj, L.SetTable)
		mask, err := r.m.i64(obj + uint64(L.SetMask))
		// A small set keeps its table inside the object.
		if err == nil && mask >= 0 && mask < 1<<32 && (table < obj || table >= obj+uint64(t.Basicsize)) {
			size += (mask + 1) * L.SetEntrySize
		}
	case t.Itemsize > 0:
		if n, err := r.varSize(obj); err == nil {
			if n < 0 {
				n = -n
			}
			if n < 1<<40 {
				size += n * t.Itemsize
			}
		}
	}
	if L.TPFlagsHaveGC > 0 && t.Flags&uint64(L.TPFlagsHaveGC) != 0 {
		size += L.GCHeadSize
	}
	if L.TPFlagsManagedDict > 0 && t.Flags&uint64(L.TPFlagsManagedDict) != 0 {
		size += 16
	}
	if size < 0 || size > 1<<32-1 {
		return 0
	}
	return size
}

// strSize is str.__sizeof__: the header and the characters with their NUL.
func (r *Runtime) strSize(obj uint64) int64 {
	L := r.L
	length, err := r.m.i64(obj + uint64(L.UnicodeLength))
	state, err2 := r.m.u32(obj + uint64(L.UnicodeState))
	if err != nil || err2 != nil || length < 0 || length > 1<<40 {
		return L.ASCIISize
	}
	kind := int64((state >> uint(L.UnicodeKindShift)) & (1<<uint(L.UnicodeKindBits) - 1))
	compact := state>>uint(L.UnicodeCompactShift)&1 == 1
	ascii := state>>uint(L.UnicodeASCIIShift)&1 == 1
	switch {
	case compact && ascii:
		return L.ASCIISize + length + 1
	case compact:
		return L.CompactUnicodeSize + (length+1)*kind
	}
	return L.UnicodeDataAny + 8 + (length+1)*kind
}

// intDigitCount reads how many digits an int has, without reading them.
func (r *Runtime) intDigitCount(obj uint64) (int64, bool) {
	L := r.L
	if L.LongTag >= 0 {
		tag, err := r.m.u64(obj + uint64(L.LongTag))
		if err != nil {
			return 0, false
		}
		if tag&3 == 1 {
			return 0, true
		}
		return int64(tag >> uint(L.LongNonSizeBits)), true
	}
	n, err := r.varSize(obj)
	if err != nil {
		return 0, false
	}
	if n < 0 {
		n = -n
	}
	return n, true
}
