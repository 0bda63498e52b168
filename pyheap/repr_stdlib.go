package pyheap

import (
	"fmt"
	"strings"
)

// stdRepr renders what Python's repr() shows for objects pycoroner would
// otherwise print as <T object at 0x...>: deque, defaultdict and
// OrderedDict (their contents), struct sequences (named fields), Enum
// members (<Color.RED: 1>), and instances of int, str and float
// subclasses that do not define __repr__ (their value). ok is false for
// everything else.
func (r *Runtime) stdRepr(addr uint64, t *Type, depth int) (string, bool) {
	tw := r.typeWalkOf(t)
	if tw.std != nil {
		switch tw.std.name {
		case "collections.deque":
			return r.dequeRepr(addr, t, tw, depth), true
		case "collections.defaultdict":
			factory := "None"
			for _, m := range tw.std.st.Refs {
				if m.Name == "default_factory" {
					if p := r.ptrField(addr, m.Offset); p != 0 {
						factory = r.reprOf(p, depth-1)
					}
				}
			}
			body, _ := r.dictRepr(addr, depth)
			return fmt.Sprintf("%s(%s, %s)", t.ShortName(), factory, body), true
		case "collections.OrderedDict":
			return r.odictRepr(addr, t, tw, depth), true
		case "_io.TextIOWrapper":
			return r.textIORepr(addr, t, tw, depth)
		case "_io.BufferedReader", "_io.BufferedWriter", "_io.BufferedRandom":
			if name, ok := r.fileName(r.stdRef(addr, tw, "raw"), depth); ok {
				return fmt.Sprintf("<%s name=%s>", t.Name, name), true
			}
		}
	}
	if tw.solidKind == KindTuple && !t.Heap(r) {
		if s, ok := r.structSeqRepr(addr, t, depth); ok {
			return s, true
		}
	}
	if t.Heap(r) {
		if s, ok := r.enumRepr(addr, t, depth); ok {
			return s, true
		}
		if s, ok := r.scalarSubclassRepr(addr, t); ok {
			return s, true
		}
	}
	return "", false
}

func (r *Runtime) dequeRepr(addr uint64, t *Type, tw *typeWalk, depth int) string {
	var parts []string
	n, _ := r.varSize(addr)
	r.eachDequeItem(addr, tw.std.st, func(i int, it uint64) bool {
		if i >= previewItems {
			parts = append(parts, fmt.Sprintf("... (%d items)", n))
			return false
		}
		if depth <= 0 {
			parts = append(parts, "...")
		} else {
			parts = append(parts, r.reprOf(it, depth-1))
		}
		return true
	})
	s := t.ShortName() + "([" + strings.Join(parts, ", ") + "]"
	if maxlen, err := r.m.i64(tw.std.st.Offset("maxlen").Add(addr)); err == nil && maxlen >= 0 {
		s += fmt.Sprintf(", maxlen=%d", maxlen)
	}
	return s + ")"
}

// odictRepr follows the node list, which keeps the order move_to_end
// and friends set; the values come from the dict part.
func (r *Runtime) odictRepr(addr uint64, t *Type, tw *typeWalk, depth int) string {
	st := tw.std.st
	name := t.ShortName()
	node := r.ptrField(addr, st.Offset("od_first"))
	if node == 0 {
		return name + "()"
	}
	values := map[uint64]uint64{}
	r.eachDictItem(addr, func(k, v uint64) bool {
		values[k] = v
		return len(values) < maxDictEntries
	})
	var parts []string
	for i := 0; node != 0 && i < len(values); i++ {
		if i >= previewItems {
			parts = append(parts, fmt.Sprintf("... (%d items)", len(values)))
			break
		}
		key := r.ptrField(node, st.Offset("_odictnode:key"))
		k, v := "...", "..."
		if depth > 0 {
			k, v = r.reprOf(key, depth-1), r.reprOf(values[key], depth-1)
		}
		if r.Minor() >= 12 {
			parts = append(parts, k+": "+v)
		} else {
			parts = append(parts, "("+k+", "+v+")")
		}
		node = r.ptrField(node, st.Offset("_odictnode:next"))
	}
	if r.Minor() >= 12 { // 3.12 prints the dict form
		return name + "({" + strings.Join(parts, ", ") + "})"
	}
	return name + "([" + strings.Join(parts, ", ") + "])"
}

// structSeqRepr renders a struct sequence (sys.version_info,
// os.stat_result) as tp_name(field=value, ...): ob_size counts the
// visible fields, and the type's tp_members names every field in order.
// (From 3.12 a static type's dict is not in the type object, so the
// members array is the one place the names are.)
func (r *Runtime) structSeqRepr(addr uint64, t *Type, depth int) (string, bool) {
	ti := r.stdTypes()["type"]
	if ti == nil || ti.Offset("tp_members") < 0 {
		return "", false
	}
	members := r.ptrField(t.Addr, ti.Offset("tp_members"))
	memberSize := ti.Value("size:PyMemberDef")
	if members == 0 || memberSize <= 0 {
		return "", false
	}
	items, n, err := r.SeqItems(addr, KindTuple, previewItems*4)
	if err != nil || n > 1024 {
		return "", false
	}
	parts := make([]string, 0, len(items))
	for i, it := range items {
		namep := r.ptrField(members+uint64(int64(i)*memberSize), r.L.MemberDefName)
		if namep == 0 {
			return "", false
		}
		name, err := r.m.img.CString(namep, 256)
		if err != nil {
			return "", false
		}
		v := "..."
		if depth > 0 {
			v = r.reprOf(it, depth-1)
		}
		parts = append(parts, name+"="+v)
	}
	if int64(len(items)) < n {
		parts = append(parts, "...")
	}
	return t.Name + "(" + strings.Join(parts, ", ") + ")", true
}

// enumRepr renders an Enum member as <Class.NAME: value>: an instance
// whose metaclass is EnumMeta (EnumType from 3.11) with _name_ and _value_.
func (r *Runtime) enumRepr(addr uint64, t *Type, depth int) (string, bool) {
	meta, err := r.TypeOf(t.Addr)
	if err != nil || !r.hasBaseNamed(meta, "EnumMeta", "EnumType") {
		return "", false
	}
	attrs, _, err := r.Attributes(addr, t, 64)
	if err != nil {
		return "", false
	}
	var name, value uint64
	for _, a := range attrs {
		switch k, _ := r.StrValue(a.Key); k {
		case "_name_":
			name = a.Value
		case "_value_":
			value = a.Value
		}
	}
	if name == 0 || value == 0 {
		return "", false
	}
	n, err := r.StrValue(name)
	if err != nil {
		return "", false // a Flag combination has no single name
	}
	return fmt.Sprintf("<%s.%s: %s>", t.ShortName(), n, r.reprOf(value, max(depth-1, 0))), true
}

// hasBaseNamed reports whether t or a class it derives from is named one
// of names.
func (r *Runtime) hasBaseNamed(t *Type, names ...string) bool {
	for i := 0; t != nil && i < 64; i++ {
		for _, n := range names {
			if t.ShortName() == n {
				return true
			}
		}
		bp := r.ptrField(t.Addr, r.L.TypeBase)
		if bp == 0 {
			return false
		}
		if t, _ = r.typeAt(bp); t == nil {
			return false
		}
	}
	return false
}

// scalarSubclassRepr: an instance of a class derived from int, str or
// float prints as the value when no class on the way defines __repr__
// (IntEnum members and the like are handled before).
func (r *Runtime) scalarSubclassRepr(addr uint64, t *Type) (string, bool) {
	cur := t
	for i := 0; cur != nil && cur.Heap(r) && i < 64; i++ {
		if dict := r.ptrField(cur.Addr, r.L.TypeDict); dict != 0 {
			if _, ok := r.DictLookupStr(dict, "__repr__"); ok {
				return "", false
			}
		}
		bp := r.ptrField(cur.Addr, r.L.TypeBase)
		if bp == 0 {
			return "", false
		}
		cur, _ = r.typeAt(bp)
	}
	if cur == nil {
		return "", false
	}
	switch cur.Kind {
	case KindInt, KindStr, KindFloat:
		s, err := r.repr(addr, cur, 0)
		return s, err == nil
	}
	return "", false
}

// stdRef is the object a standard-library C type's member points to, 0
// when the version's struct has no such member or it is NULL.
func (r *Runtime) stdRef(addr uint64, tw *typeWalk, member string) uint64 {
	for _, m := range tw.std.st.Refs {
		if m.Name == member {
			return r.ptrField(addr, m.Offset)
		}
	}
	return 0
}

// fileName is the repr of the name of the file a FileIO (raw) was
// opened on, which FileIO keeps in its __dict__: what makes a file
// object a temp file's, in stacks --locals as in Python's repr.
func (r *Runtime) fileName(raw uint64, depth int) (string, bool) {
	if raw == 0 {
		return "", false
	}
	rt, err := r.TypeOf(raw)
	if err != nil || rt.Name != "_io.FileIO" {
		return "", false
	}
	d := r.stdRef(raw, r.typeWalkOf(rt), "dict")
	if d == 0 {
		return "", false
	}
	name, ok := r.DictLookupStr(d, "name")
	if !ok {
		return "", false
	}
	return r.reprOf(name, depth-1), true
}

// textIORepr is TextIOWrapper's repr: <_io.TextIOWrapper name='x'
// mode='r' encoding='UTF-8'>, name and mode when it has them (open()
// sets mode in its __dict__).
func (r *Runtime) textIORepr(addr uint64, t *Type, tw *typeWalk, depth int) (string, bool) {
	enc := r.stdRef(addr, tw, "encoding")
	if enc == 0 {
		return "", false
	}
	var b strings.Builder
	b.WriteString("<" + t.Name)
	raw := r.stdRef(addr, tw, "raw")
	if raw == 0 {
		// Not the fast path: the name is the buffer's raw's.
		if buf := r.stdRef(addr, tw, "buffer"); buf != 0 {
			if bt, err := r.TypeOf(buf); err == nil && strings.HasPrefix(bt.Name, "_io.Buffered") {
				raw = r.stdRef(buf, r.typeWalkOf(bt), "raw")
			}
		}
	}
	if name, ok := r.fileName(raw, depth); ok {
		b.WriteString(" name=" + name)
	}
	if d := r.stdRef(addr, tw, "dict"); d != 0 {
		if mode, ok := r.DictLookupStr(d, "mode"); ok {
			b.WriteString(" mode=" + r.reprOf(mode, depth-1))
		}
	}
	b.WriteString(" encoding=" + r.reprOf(enc, depth-1) + ">")
	return b.String(), true
}
