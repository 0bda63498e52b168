package pyheap

// shallowSize is what sys.getsizeof reports for one object: the type's
// __sizeof__ (basic size plus items, or the kind's own rule) plus the
// pre-header (the GC header; 3.11+ also two words for a managed dict).
func (r *Runtime) shallowSize(obj uint64, t *Type) int64 {
	L := r.L
	size := t.Basicsize
	switch {
	case r.stdSized(obj, t, &size): // standard-library C types (size_stdlib.go)
	case t.Kind == KindStr:
		size = r.strSize(obj)
	case t.Kind == KindInt || t.Kind == KindBool:
		if n, ok := r.intDigitCount(obj); ok {
			if r.L.Minor >= 11 && n == 0 {
				n = 1 // 3.11+ int.__sizeof__ counts at least one digit
			}
			size = int64(L.LongDigits) + n*L.LongDigitSize
		}
	case t.Kind == KindList:
		if alloc, err := r.m.i64(L.ListAllocated.Add(obj)); err == nil && alloc >= 0 && alloc < 1<<40 {
			size = t.Basicsize + alloc*8
		}
	case t.Kind == KindDict || (t.Kind == KindOther && L.TPFlagsDictSubclass.In(t.Flags)):
		size = t.Basicsize + r.dictExtraSize(obj)
	case t.Kind == KindType:
		// type.__sizeof__: the heap type struct and its shared keys.
		if flags, err := r.m.u64(L.TypeFlags.Add(obj)); err == nil && L.TPFlagsHeapType.In(flags) {
			size = t.Basicsize
			if keys := r.ptrField(obj, L.HeapTypeCachedKeys); keys != 0 {
				size += r.keysSize(keys)
			}
		}
	case t.Kind == KindSet || t.Kind == KindFrozenSet:
		table := r.ptrField(obj, L.SetTable)
		mask, err := r.m.i64(L.SetMask.Add(obj))
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
			if t.Kind == KindCode { // code.__sizeof__ uses _PyObject_VAR_SIZE, rounded to a word
				size = (size + 7) &^ 7
			}
		}
	}
	if L.TPFlagsHaveGC.In(t.Flags) {
		size += L.GCHeadSize
	}
	if L.TPFlagsManagedDict.In(t.Flags) || L.TPFlagsManagedWeakref.In(t.Flags) {
		// The pre-header (3.11: the managed dict's words; 3.12+:
		// Py_TPFLAGS_PREHEADER, a subclass of an exception, which has a
		// dict slot of its own, has the weakref's alone).
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
	length, err := r.m.i64(L.UnicodeLength.Add(obj))
	state, err2 := r.m.u32(L.UnicodeState.Add(obj))
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
	return int64(L.UnicodeDataAny) + 8 + (length+1)*kind
}

// intDigitCount reads how many digits an int has, without reading them.
func (r *Runtime) intDigitCount(obj uint64) (int64, bool) {
	L := r.L
	if L.HasLongTag() {
		tag, err := r.m.u64(L.LongTag.Add(obj))
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

// usableFraction is CPython's USABLE_FRACTION: how many entries a keys
// table of n slots holds.
func usableFraction(n int64) int64 { return (n << 1) / 3 }

// dictExtraSize is what dict.__sizeof__ adds to the dict struct: the
// values array of a split table, and the keys table when the dict alone
// owns it (dk_refcnt == 1).
func (r *Runtime) dictExtraSize(obj uint64) int64 {
	L := r.L
	keys := r.ptrField(obj, L.DictKeys)
	if keys == 0 {
		return 0
	}
	var extra int64
	if r.ptrField(obj, L.DictValues) != 0 {
		if L.HasLog2DictKeys() { // 3.11+: shared_keys_usable_size
			nent, err1 := r.m.i64(L.DictKeysNentries.Add(keys))
			usable, err2 := r.m.i64(L.DictKeysUsable.Add(keys))
			if err1 == nil && err2 == nil && nent >= 0 && usable >= 0 && nent+usable < 1<<32 {
				extra += (nent + usable) * 8
			}
		} else if n := r.keysSlots(keys); n > 0 {
			extra += usableFraction(n) * 8
		}
	}
	if refcnt, err := r.m.i64(L.DictKeysRefcnt.Add(keys)); err == nil && refcnt == 1 {
		extra += r.keysSize(keys)
	}
	return extra
}

// keysSlots is the size of a keys table's hash index (a power of two).
func (r *Runtime) keysSlots(keys uint64) int64 {
	L := r.L
	if L.DictKeysSize.Has() {
		n, err := r.m.i64(L.DictKeysSize.Add(keys))
		if err != nil || n <= 0 || n > 1<<32 {
			return 0
		}
		return n
	}
	log2, err := r.m.u8(L.DictKeysLog2Size.Add(keys))
	if err != nil || log2 > 32 {
		return 0
	}
	return 1 << log2
}

// keysSize is CPython's _PyDict_KeysSize: header, index and entries.
func (r *Runtime) keysSize(keys uint64) int64 {
	L := r.L
	n := r.keysSlots(keys)
	if n == 0 {
		return 0
	}
	if L.DictKeysSize.Has() { // 3.8-3.10: index entries as wide as the table needs
		return L.DictKeysStructSize + indexWidth(n)*n + usableFraction(n)*L.DictKeyEntrySize
	}
	log2idx, err := r.m.u8(L.DictKeysLog2IndexBytes.Add(keys))
	kind, err2 := r.m.u8(L.DictKeysKind.Add(keys))
	if err != nil || err2 != nil || log2idx > 40 {
		return 0
	}
	entry := L.DictKeyEntrySize
	if int64(kind) != L.DictKeysKindGeneral {
		entry = L.DictUnicodeEntrySize
	}
	return L.DictKeysStructSize + 1<<log2idx + usableFraction(n)*entry
}
