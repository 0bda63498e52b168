package pyheap

import (
	"encoding/binary"
	"fmt"
)

// WatchPoint is a word of memory that the process writes when a watched
// object changes: a hardware data breakpoint goes there.
type WatchPoint struct {
	Addr uint64
	What string // "ob_size of the list", "the dict entry for 'debug'"
	// Binding marks the slot that holds a watched list or dict (the
	// module global sys.path is read from): a write there rebinds the name
	// to another object, or puts the same one back.
	Binding bool
}

// maxWatchPoints is what x86-64's debug registers DR0-DR3 can hold.
const maxWatchPoints = 4

// WatchPoints resolves expr and says which words change when that object
// mutates: a list's size, item array and first slot; a dict's used count,
// version tag and keys table; otherwise the slot that holds the named
// attribute (a module global, an instance attribute in a dict, a values
// array or __slots__).
func (r *Runtime) WatchPoints(expr string) (uint64, []WatchPoint, error) {
	res, wps, err := r.WatchPointsOf(expr)
	return res.Addr, wps, err
}

// WatchPointsOf is WatchPoints that also says where expr led, in each
// interpreter (for Resolution.AmbiguityWarning).
func (r *Runtime) WatchPointsOf(expr string) (Resolution, []WatchPoint, error) {
	e, err := ParseExpr(expr)
	if err != nil {
		return Resolution{}, nil, err
	}
	res, err := r.ResolveAll(e)
	if err != nil {
		return Resolution{}, nil, err
	}
	obj := res.Addr
	t, err := r.TypeOf(obj)
	if err != nil {
		return res, nil, fmt.Errorf("%s: %w", expr, err)
	}
	L := r.L
	var wps []WatchPoint
	switch t.Kind {
	case KindList:
		wps = append(wps, WatchPoint{Addr: L.ObSize.Add(obj), What: "ob_size of the list (its length)"},
			WatchPoint{Addr: L.ListItems.Add(obj), What: "ob_item of the list (its item array)"})
		if items := r.ptrField(obj, L.ListItems); items != 0 {
			wps = append(wps, WatchPoint{Addr: items, What: "item 0 of the list"})
		}
		return res, append(wps, r.bindingSlot(e, res)...), nil
	case KindDict:
		wps = append(wps, WatchPoint{Addr: L.DictUsed.Add(obj), What: "ma_used of the dict (its length)"},
			WatchPoint{Addr: L.DictKeys.Add(obj), What: "ma_keys of the dict (its table)"})
		if L.DictVersionTag.Has() {
			wps = append(wps, WatchPoint{Addr: L.DictVersionTag.Add(obj), What: "ma_version_tag of the dict (any change)"})
		}
		return res, append(wps, r.bindingSlot(e, res)...), nil
	}
	// Anything else: watch where its parent keeps it.
	if len(e.Steps) == 0 || e.Steps[len(e.Steps)-1].Attr == "" {
		return res, nil, fmt.Errorf("%s is a %s: watch a list, a dict, or an attribute (module:NAME, module:OBJ.attr)", expr, t.ShortName())
	}
	name := e.Steps[len(e.Steps)-1].Attr
	// The parent is looked up in the interpreter obj came from: another
	// one's module of that name would hold another object.
	parentExpr := Expr{Module: e.Module, Steps: e.Steps[:len(e.Steps)-1], Interp: &res.Interp}
	parent, err := r.ResolveExpr(parentExpr)
	if err != nil {
		return res, nil, err
	}
	slot, what, err := r.attributeSlot(parent, name)
	if err != nil {
		return res, nil, fmt.Errorf("%s: %w", expr, err)
	}
	return res, []WatchPoint{{Addr: slot, What: what}}, nil
}

// bindingSlot is the slot that holds a watched list or dict when expr
// names it by an attribute (sys:path, app:OBJ.items), as a WatchPoint
// with Binding set; none for an item (app:D["k"]) or a slot that cannot
// be placed. Without it, `sys.path = sys.path + [x]` was seen only as the
// old list's memory being freed, and the watch went on describing the
// freed list.
func (r *Runtime) bindingSlot(e Expr, res Resolution) []WatchPoint {
	if len(e.Steps) == 0 || e.Steps[len(e.Steps)-1].Attr == "" {
		return nil
	}
	name := e.Steps[len(e.Steps)-1].Attr
	parent, err := r.ResolveExpr(Expr{Module: e.Module, Steps: e.Steps[:len(e.Steps)-1], Interp: &res.Interp})
	if err != nil {
		return nil
	}
	slot, what, err := r.attributeSlot(parent, name)
	if err != nil {
		return nil
	}
	return []WatchPoint{{Addr: slot, What: what + " (the name's binding)", Binding: true}}
}

// attributeSlot finds the word that holds parent.name.
func (r *Runtime) attributeSlot(parent uint64, name string) (uint64, string, error) {
	pt, err := r.TypeOf(parent)
	if err != nil {
		return 0, "", err
	}
	L := r.L
	if pt.Kind == KindModule {
		d := r.ptrField(parent, L.ModuleDict)
		if slot, ok := r.dictValueSlot(d, name); ok {
			return slot, fmt.Sprintf("the module global %q", name), nil
		}
		return 0, "", fmt.Errorf("module has no global %q", name)
	}
	dict, keys, values, err := r.instanceDict(parent, pt)
	if err != nil {
		return 0, "", err
	}
	if dict != 0 {
		if slot, ok := r.dictValueSlot(dict, name); ok {
			return slot, fmt.Sprintf("the __dict__ entry for %q", name), nil
		}
	} else if keys != 0 {
		if slot, ok := r.keysValueSlot(keys, values, name); ok {
			return slot, fmt.Sprintf("the value slot of attribute %q", name), nil
		}
	}
	for _, s := range r.typeWalkOf(pt).slots {
		if s.name == name {
			off, ok := r.slotOffset(parent, pt, s)
			if !ok {
				return 0, "", fmt.Errorf("%s's items cannot be read to place its __slots__ member %q", pt.ShortName(), name)
			}
			return parent + uint64(off), fmt.Sprintf("the __slots__ member %q", name), nil
		}
	}
	return 0, "", fmt.Errorf("%s has no attribute %q stored in the instance", pt.ShortName(), name)
}

// dictValueSlot is the address of the word that holds dict[name].
func (r *Runtime) dictValueSlot(dict uint64, name string) (uint64, bool) {
	L := r.L
	keys := r.ptrField(dict, L.DictKeys)
	values := r.ptrField(dict, L.DictValues)
	if keys == 0 {
		return 0, false
	}
	if values != 0 && L.DictValuesValues.Has() {
		values = L.DictValuesValues.Add(values)
	}
	return r.keysValueSlot(keys, values, name)
}

// keysValueSlot finds name in a keys table and returns where its value is
// stored: in the entry, or in a split table's values array.
func (r *Runtime) keysValueSlot(keys, values uint64, name string) (uint64, bool) {
	kt, err := r.readKeys(keys)
	if err != nil {
		return 0, false
	}
	for i := int64(0); i < kt.nentries; i++ {
		entry := kt.entries + uint64(i)*kt.entrySz
		raw, err := r.m.bytes(entry, int(kt.entrySz))
		if err != nil {
			return 0, false
		}
		k := binary.LittleEndian.Uint64(raw[kt.keyOff:])
		if k == 0 {
			continue
		}
		if s, err := r.StrValue(k); err != nil || s != name {
			continue
		}
		if values != 0 {
			return values + uint64(i)*8, true
		}
		return entry + kt.valueOff, true
	}
	return 0, false
}
