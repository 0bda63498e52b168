package pyheap

// stdSized sets *size to what the type's __sizeof__ returns for the
// standard-library C types whose size counts memory outside the struct
// (a deque's blocks, an OrderedDict's nodes, an array's items, an
// Element's children), and reports whether it did. The GC header is added
// by shallowSize, as sys.getsizeof adds it.
func (r *Runtime) stdSized(obj uint64, t *Type, size *int64) bool {
	if t.Kind != KindOther {
		return false
	}
	tw := r.typeWalkOf(t)
	if (t.Name == "generator" || t.Name == "coroutine" || t.Name == "async_generator") && r.L.GenIFrame.Has() {
		return r.genSized(obj, size)
	}
	sw := tw.std
	if sw == nil {
		return false
	}
	st := sw.st
	switch st.Special {
	case "deque":
		// deque.__sizeof__: the blocks from leftindex to the last item
		// (ceil((leftindex+len)/BLOCKLEN)).
		n, err := r.varSize(obj)
		left, err2 := r.m.i64(st.Offset("leftindex").Add(obj))
		blockLen := st.Value("len:BLOCK:data")
		if err != nil || err2 != nil || n < 0 || n > 1<<40 || left < 0 || blockLen <= 0 {
			return false
		}
		*size = t.Basicsize + (left+n+blockLen-1)/blockLen*st.Value("size:BLOCK")
		return true
	case "odict":
		// _PyDict_SizeOf plus the fast-nodes array and one node per item.
		fast, err := r.m.i64(st.Offset("od_fast_nodes_size").Add(obj))
		used, err2 := r.m.i64(r.L.DictUsed.Add(obj))
		if err != nil || err2 != nil || fast < 0 || fast > 1<<40 || used < 0 || used > 1<<40 {
			return false
		}
		s := t.Basicsize + r.dictExtraSize(obj) + 8*fast
		if r.ptrField(obj, st.Offset("od_first")) != 0 {
			s += used * st.Value("size:_odictnode")
		}
		*size = s
		return true
	case "array":
		alloc, err := r.m.i64(st.Offset("allocated").Add(obj))
		descr := r.ptrField(obj, st.Offset("ob_descr"))
		if err != nil || descr == 0 || alloc < 0 || alloc > 1<<40 {
			return false
		}
		item, err := r.m.i32(st.Offset("arraydescr:itemsize").Add(descr))
		if err != nil || item <= 0 || item > 16 {
			return false
		}
		*size = t.Basicsize + alloc*int64(item)
		return true
	case "bytearray":
		// bytearray.__sizeof__: the struct and its allocation; from 3.15
		// the allocation is a bytes object's, counted with its header.
		if st.Offset("ob_bytes_object").Has() {
			if b := r.ptrField(obj, st.Offset("ob_bytes_object")); b != 0 {
				bt, err := r.TypeOf(b)
				if err != nil || bt.Kind != KindBytes {
					return false
				}
				*size = t.Basicsize + r.shallowSize(b, bt)
				return true
			}
		}
		alloc, err := r.m.i64(st.Offset("ob_alloc").Add(obj))
		if err != nil || alloc < 0 || alloc > 1<<40 {
			return false
		}
		*size = t.Basicsize + alloc
		return true
	case "bytesio":
		// BytesIO.__sizeof__ counts its buffer when it alone owns it.
		s := t.Basicsize
		if buf := r.ptrField(obj, st.Offset("buf")); buf != 0 {
			refs, err := r.m.i64(r.L.ObRefcnt.Add(buf))
			bt, err2 := r.TypeOf(buf)
			if err != nil || err2 != nil {
				return false
			}
			if refs == 1 {
				s += r.shallowSize(buf, bt)
			}
		}
		*size = s
		return true
	case "ringbuf":
		// SimpleQueue.__sizeof__ (3.15+; before, the default
		// tp_basicsize) counts the ring buffer's capacity. Whether the
		// build has it is asked of the type's own dict, not the version.
		if !st.Offset("buf.items_cap").Has() {
			return false
		}
		dict := r.ptrField(t.Addr, r.L.TypeDict)
		if dict == 0 {
			return false
		}
		if _, ok := r.DictLookupStr(dict, "__sizeof__"); !ok {
			return false
		}
		capacity, err := r.m.i64(st.Offset("buf.items_cap").Add(obj))
		if err != nil || capacity < 0 || capacity > 1<<40 {
			return false
		}
		*size = t.Basicsize + 8*capacity
		return true
	case "element":
		s := t.Basicsize
		if extra := r.ptrField(obj, st.Offset("extra")); extra != 0 {
			s += st.Value("size:ElementObjectExtra")
			children := r.ptrField(extra, st.Offset("ElementObjectExtra:children"))
			if children != extra+uint64(st.Offset("ElementObjectExtra:_children")) {
				alloc, err := r.m.i64(st.Offset("ElementObjectExtra:allocated").Add(extra))
				if err != nil || alloc < 0 || alloc > 1<<40 {
					return false
				}
				s += 8 * alloc
			}
		}
		*size = s
		return true
	}
	return false
}

// genSized is gen.__sizeof__ from 3.11: the generator up to its embedded
// interpreter frame, the frame's header, and a slot per local and stack
// entry of its code (co_nlocalsplus + co_stacksize). (Py_SIZE means
// nothing for a generator: it has no ob_size.)
func (r *Runtime) genSized(obj uint64, size *int64) bool {
	ci := r.stdTypes()["code"]
	code := r.ptrField(obj, r.L.GenCode) // 3.11; later the frame has it
	if !r.L.GenCode.Has() {
		code = r.ptrField(r.L.GenIFrame.Add(obj), r.L.IFrameCode)
	}
	if ci == nil || code == 0 || !ci.Offset("co_stacksize").Has() || !ci.Offset("co_nlocalsplus").Has() {
		return false
	}
	stack, err := r.m.i32(ci.Offset("co_stacksize").Add(code))
	nlocals, err2 := r.m.i32(ci.Offset("co_nlocalsplus").Add(code))
	if err != nil || err2 != nil || stack < 0 || nlocals < 0 || stack > 1<<20 || nlocals > 1<<20 {
		return false
	}
	*size = int64(r.L.GenIFrame) + int64(r.L.IFrameLocalsplus) + int64(nlocals+stack)*8
	return true
}
