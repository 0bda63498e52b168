package layout

import (
	"debug/dwarf"
	"fmt"
	"reflect"
	"strings"
)

// dwarfIndex finds named types and enumerators in one DWARF tree.
type dwarfIndex struct {
	data   *dwarf.Data
	types  map[string][]dwarf.Offset // struct tags, unions and typedefs; a few candidates each
	enums  map[string]int64
	hasDef map[string]bool
}

func newDWARFIndex(d *dwarf.Data) (*dwarfIndex, error) {
	ix := &dwarfIndex{data: d, types: map[string][]dwarf.Offset{}, enums: map[string]int64{}, hasDef: map[string]bool{}}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("read DWARF: %w", err)
		}
		if e == nil {
			break
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			continue // descend into the unit
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagTypedef, dwarf.TagBaseType:
			name, _ := e.Val(dwarf.AttrName).(string)
			decl, _ := e.Val(dwarf.AttrDeclaration).(bool)
			// A typedef may name a struct that this unit only declares:
			// keep a few candidates and take the first complete one.
			switch {
			case name == "" || decl:
			case e.Tag == dwarf.TagStructType || e.Tag == dwarf.TagUnionType:
				if !ix.hasDef[name] { // a definition goes first
					ix.hasDef[name] = true
					ix.types[name] = append([]dwarf.Offset{e.Offset}, ix.types[name]...)
				}
			case len(ix.types[name]) < 8:
				ix.types[name] = append(ix.types[name], e.Offset)
			}
		case dwarf.TagEnumerationType:
			if !e.Children {
				continue
			}
			for {
				c, err := r.Next()
				if err != nil {
					return nil, fmt.Errorf("read DWARF enum: %w", err)
				}
				if c == nil || c.Tag == 0 {
					break
				}
				if c.Tag == dwarf.TagEnumerator {
					name, _ := c.Val(dwarf.AttrName).(string)
					if _, seen := ix.enums[name]; !seen {
						switch v := c.Val(dwarf.AttrConstValue).(type) {
						case int64:
							ix.enums[name] = v
						case uint64:
							ix.enums[name] = int64(v)
						}
					}
				}
			}
			continue
		}
		if e.Children {
			r.SkipChildren()
		}
	}
	return ix, nil
}

// structType resolves a struct tag or typedef name to its struct definition.
func (ix *dwarfIndex) typeNamed(name string) (dwarf.Type, error) {
	var first dwarf.Type
	for _, off := range ix.types[name] {
		t, err := ix.data.Type(off)
		if err != nil {
			return nil, fmt.Errorf("DWARF type %s: %w", name, err)
		}
		if st, ok := underlying(t).(*dwarf.StructType); ok && st.Incomplete {
			if first == nil {
				first = t
			}
			continue
		}
		return t, nil
	}
	if first != nil {
		return first, nil
	}
	return nil, errMissing
}

var errMissing = fmt.Errorf("not in this version")

func underlying(t dwarf.Type) dwarf.Type {
	for i := 0; i < 32; i++ {
		switch tt := t.(type) {
		case *dwarf.TypedefType:
			t = tt.Type
		case *dwarf.QualType:
			t = tt.Type
		default:
			return t
		}
	}
	return t
}

// member finds PATH in the struct, looking through anonymous members.
// It returns the byte offset and the field (for bit-field facts).
func member(t dwarf.Type, path []string) (int64, *dwarf.StructField, error) {
	st, ok := underlying(t).(*dwarf.StructType)
	if !ok {
		return 0, nil, fmt.Errorf("%s is not a struct", t)
	}
	want := path[0]
	for _, f := range st.Field {
		if f.Name == want {
			if len(path) == 1 {
				return f.ByteOffset, f, nil
			}
			off, ff, err := member(f.Type, path[1:])
			return f.ByteOffset + off, ff, err
		}
	}
	for _, f := range st.Field {
		if f.Name == "" {
			if off, ff, err := member(f.Type, path); err == nil {
				return f.ByteOffset + off, ff, nil
			}
		}
	}
	return 0, nil, errMissing
}

// resolveDWARF evaluates one tag alternative against DWARF. C-probe entries
// are not answerable from DWARF and return errMissing.
func (ix *dwarfIndex) resolve(spec string) (int64, error) {
	parts := strings.SplitN(spec, ":", 3)
	switch parts[0] {
	case "size":
		t, err := ix.typeNamed(parts[1])
		if err != nil {
			return 0, err
		}
		return t.Size(), nil
	case "enum":
		v, ok := ix.enums[parts[1]]
		if !ok {
			return 0, errMissing
		}
		return v, nil
	case "off", "bitoff", "bitsize":
		if len(parts) != 3 {
			return 0, fmt.Errorf("bad layout spec %q", spec)
		}
		t, err := ix.typeNamed(parts[1])
		if err != nil {
			return 0, err
		}
		off, f, err := member(t, strings.Split(parts[2], "."))
		if err != nil {
			return 0, err
		}
		switch parts[0] {
		case "off":
			return off, nil
		case "bitsize":
			if f.BitSize == 0 {
				return 0, fmt.Errorf("%s is not a bit-field", spec)
			}
			return f.BitSize, nil
		default:
			return bitOffset(f)
		}
	}
	return 0, errMissing
}

// bitOffset gives the bit position of a bit-field counted from the least
// significant bit of the struct that holds it (x86-64 is little-endian).
func bitOffset(f *dwarf.StructField) (int64, error) {
	if f.BitSize == 0 {
		return 0, fmt.Errorf("%s is not a bit-field", f.Name)
	}
	if f.BitOffset == 0 || f.DataBitOffset != 0 {
		// DWARF 4+: DW_AT_data_bit_offset, from the start of the struct.
		return f.DataBitOffset, nil
	}
	// DWARF 2/3: DW_AT_bit_offset counts from the most significant bit of
	// a storage unit of ByteSize bytes that starts at ByteOffset.
	size := f.ByteSize * 8
	return f.ByteOffset*8 + size - f.BitOffset - f.BitSize, nil
}

// FromDWARF fills every DWARF-answerable field of a Layout from d, starting
// from base (which supplies C-probe constants; may be nil). Fields DWARF
// does not know keep base's value, or Missing.
func FromDWARF(d *dwarf.Data, base *Layout) (*Layout, error) {
	ix, err := newDWARFIndex(d)
	if err != nil {
		return nil, err
	}
	if _, ok := ix.types["_ts"]; !ok {
		return nil, fmt.Errorf("DWARF has no CPython thread state (struct _ts): not a CPython build or debug info stripped")
	}
	out := &Layout{}
	if base != nil {
		*out = *base
	}
	out.Debug = debugOffsetsTable(ix, out)
	err = EachField(out, func(name string, specs []string, v *int64) error {
		for _, s := range specs {
			got, err := ix.resolve(s)
			if err == errMissing {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			*v = got
			return nil
		}
		if !strings.HasPrefix(specs[0], "c:") {
			*v = Missing
		} else if base == nil {
			*v = Missing
		}
		return nil
	})
	return out, err
}

// EachField calls fn for every tagged int64 field of l.
func EachField(l *Layout, fn func(name string, specs []string, v *int64) error) error {
	rv := reflect.ValueOf(l).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		tag := rt.Field(i).Tag.Get("py")
		if tag == "" {
			continue
		}
		// Offset and Flag fields are int64 underneath.
		p := (*int64)(rv.Field(i).Addr().UnsafePointer())
		if err := fn(rt.Field(i).Name, strings.Split(tag, "|"), p); err != nil {
			return err
		}
	}
	return nil
}

// EachDebugField calls fn for every field that _Py_DebugOffsets covers.
func EachDebugField(l *Layout, fn func(name, path string, v *int64)) {
	rv := reflect.ValueOf(l).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		if path := rt.Field(i).Tag.Get("dbg"); path != "" {
			fn(rt.Field(i).Name, path, (*int64)(rv.Field(i).Addr().UnsafePointer()))
		}
	}
}

// debugOffsetsTable reads where each covered member sits in
// _Py_DebugOffsets, for versions that have it.
func debugOffsetsTable(ix *dwarfIndex, l *Layout) map[string]int64 {
	t, err := ix.typeNamed("_Py_DebugOffsets")
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	EachDebugField(l, func(_, path string, _ *int64) {
		if off, _, err := member(t, strings.Split(path, ".")); err == nil {
			out[path] = off
		}
	})
	return out
}
