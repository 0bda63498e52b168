package pyheap

// untag turns a frame slot into the object it refers to. From 3.14 frames
// hold _PyStackRef values whose low Py_TAG_BITS are tags (a deferred or
// immortal reference keeps its pointer in the other bits); a tagged int
// (Py_INT_TAG, 3.14+) is no object and gives 0, as NULL does. Before 3.14
// slots are plain pointers and come back unchanged.
func (r *Runtime) untag(v uint64) uint64 {
	bits := r.L.StackRefTagBits
	if bits <= 0 {
		return v
	}
	if tag := r.L.StackRefIntTag; tag > 0 && v&uint64(bits) == uint64(tag) {
		return 0
	}
	return v &^ uint64(bits)
}

// stackRefField reads a _PyStackRef member (a plain pointer before 3.14).
func (r *Runtime) stackRefField(obj uint64, off interface{ Add(uint64) uint64 }) uint64 {
	p, err := r.m.ptr(off.Add(obj))
	if err != nil {
		return 0
	}
	return r.untag(p)
}
