package pyheap

import (
	"fmt"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/pyrepr"
)

// ReprLimit is the longest repr pycoroner prints before cutting it.
const ReprLimit = 200

// Value is a short, readable description of one object.
type Value struct {
	Type      string // the type's __name__
	Address   uint64
	Repr      string
	Truncated bool  // Repr was cut at ReprLimit characters
	Err       error // what could not be read
}

// previewItems is how many items of a container a repr shows.
const previewItems = 8

// Describe returns a short repr of the object at addr: Python's own repr()
// for int, float, bool, None, str and bytes; previews of containers;
// instances as <Class at 0x...> with a few attributes.
func (r *Runtime) Describe(addr uint64) Value {
	v := Value{Address: addr}
	t, err := r.TypeOf(addr)
	if err != nil {
		v.Type, v.Repr, v.Err = "?", fmt.Sprintf("<unreadable object at 0x%x>", addr), err
		return v
	}
	v.Type = t.ShortName()
	s, err := r.repr(addr, t, 2)
	v.Repr, v.Truncated = pyrepr.Truncate(s, ReprLimit)
	v.Err = err
	return v
}

// reprOf is repr for nested items.
func (r *Runtime) reprOf(addr uint64, depth int) string {
	t, err := r.TypeOf(addr)
	if err != nil {
		return fmt.Sprintf("<unreadable object at 0x%x>", addr)
	}
	s, _ := r.repr(addr, t, depth)
	return s
}

func (r *Runtime) repr(addr uint64, t *Type, depth int) (string, error) {
	switch t.Kind {
	case KindNone:
		return "None", nil
	case KindBool:
		n, err := r.Int64(addr)
		if err != nil {
			return "<bool?>", err
		}
		if n != 0 {
			return "True", nil
		}
		return "False", nil
	case KindInt:
		s, err := r.IntRepr(addr)
		if err != nil {
			return "<int?>", err
		}
		return s, nil
	case KindFloat:
		f, err := r.Float(addr)
		if err != nil {
			return "<float?>", err
		}
		return pyrepr.Float(f), nil
	case KindStr:
		cps, err := r.strN(addr, ReprLimit+8)
		if err != nil && err != errTruncated {
			return "<str?>", err
		}
		s := pyrepr.Str(cps)
		if err == errTruncated { // make sure Truncate cuts it
			s += strings.Repeat(".", ReprLimit)
		}
		return s, nil
	case KindBytes:
		b, cut, err := r.Bytes(addr, ReprLimit+8)
		if err != nil {
			return "<bytes?>", err
		}
		s := pyrepr.Bytes(b)
		if cut {
			s += strings.Repeat(".", ReprLimit)
		}
		return s, nil
	case KindList, KindTuple:
		return r.seqRepr(addr, t, depth)
	case KindDict:
		s, err := r.dictRepr(addr, depth)
		if t.Name == "frozendict" && err == nil { // 3.15+
			if s == "{}" {
				return "frozendict()", nil
			}
			s = "frozendict(" + s + ")"
		}
		return s, err
	case KindSet, KindFrozenSet:
		return r.setRepr(addr, t, depth)
	case KindModule:
		if name, err := r.strField(addr, r.L.ModuleName); err == nil {
			return fmt.Sprintf("<module '%s'>", name), nil
		}
		return fmt.Sprintf("<module at 0x%x>", addr), nil
	case KindFunction:
		if q, err := r.strField(addr, r.L.FuncQualname); err == nil {
			return fmt.Sprintf("<function %s at 0x%x>", q, addr), nil
		}
	case KindCode:
		if ci := r.code(addr); ci.err == nil {
			return fmt.Sprintf("<code object %s at 0x%x, file \"%s\", line %d>", ci.name, addr, ci.filename, ci.firstLine), nil
		}
	case KindType:
		if tt, err := r.typeAt(addr); err == nil {
			return fmt.Sprintf("<class '%s'>", r.ClassName(tt)), nil
		}
	case KindFrame:
		if s, ok := r.frameRepr(addr); ok { // repr_core.go
			return s, nil
		}
	case KindException:
		return r.excRepr(addr, t, depth)
	}
	if s, ok, err := r.lazyImportRepr(addr, t); ok { // lazyimport.go
		return s, err
	}
	if s, ok := r.coreRepr(addr, t, depth); ok { // repr_core.go
		return s, nil
	}
	if s, ok := r.stdRepr(addr, t, depth); ok { // repr_stdlib.go
		return s, nil
	}
	return r.instanceRepr(addr, t, depth)
}

func (r *Runtime) items(addrs []uint64, depth int) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		if depth <= 0 {
			out[i] = "..."
			continue
		}
		out[i] = r.reprOf(a, depth-1)
	}
	return out
}

func (r *Runtime) seqRepr(addr uint64, t *Type, depth int) (string, error) {
	items, n, err := r.SeqItems(addr, t.Kind, previewItems)
	if err != nil {
		return fmt.Sprintf("<%s at 0x%x>", t.ShortName(), addr), err
	}
	parts := r.items(items, depth)
	if int64(len(items)) < n {
		parts = append(parts, fmt.Sprintf("... (%d items)", n))
	}
	body := strings.Join(parts, ", ")
	if t.Kind == KindList {
		return "[" + body + "]", nil
	}
	if n == 1 {
		body += ","
	}
	return "(" + body + ")", nil
}

func (r *Runtime) dictRepr(addr uint64, depth int) (string, error) {
	items, n, err := r.DictItems(addr, previewItems)
	if err != nil {
		return fmt.Sprintf("<dict at 0x%x>", addr), err
	}
	parts := make([]string, 0, len(items)+1)
	for _, it := range items {
		if depth <= 0 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, r.reprOf(it.Key, depth-1)+": "+r.reprOf(it.Value, depth-1))
	}
	if int64(len(items)) < n {
		parts = append(parts, fmt.Sprintf("... (%d items)", n))
	}
	return "{" + strings.Join(parts, ", ") + "}", nil
}

func (r *Runtime) setRepr(addr uint64, t *Type, depth int) (string, error) {
	items, n, err := r.SetItems(addr, previewItems)
	if err != nil {
		return fmt.Sprintf("<%s at 0x%x>", t.ShortName(), addr), err
	}
	if n == 0 {
		return t.ShortName() + "()", nil
	}
	parts := r.items(items, depth)
	if int64(len(items)) < n {
		parts = append(parts, fmt.Sprintf("... (%d items)", n))
	}
	body := "{" + strings.Join(parts, ", ") + "}"
	if t.Kind == KindFrozenSet {
		return "frozenset(" + body + ")", nil
	}
	return body, nil
}

// excRepr renders an exception as Python does: Type(args...).
func (r *Runtime) excRepr(addr uint64, t *Type, depth int) (string, error) {
	args, err := r.m.ptr(r.L.ExcArgs.Add(addr))
	if err != nil || args == 0 {
		return fmt.Sprintf("%s()", t.ShortName()), err
	}
	items, n, err := r.SeqItems(args, KindTuple, previewItems)
	if err != nil {
		return fmt.Sprintf("<%s at 0x%x>", t.ShortName(), addr), err
	}
	parts := r.items(items, depth)
	if int64(len(items)) < n {
		parts = append(parts, "...")
	}
	return t.ShortName() + "(" + strings.Join(parts, ", ") + ")", nil
}

// instanceRepr shows an object as <Class at 0x...> with a few attributes.
func (r *Runtime) instanceRepr(addr uint64, t *Type, depth int) (string, error) {
	head := fmt.Sprintf("<%s at 0x%x", t.ShortName(), addr)
	if !t.Heap(r) {
		return fmt.Sprintf("<%s object at 0x%x>", t.Name, addr), nil
	}
	if depth < 2 { // nested inside another repr: name and address only
		return head + ">", nil
	}
	attrs, _, err := r.Attributes(addr, t, 4)
	if err != nil || len(attrs) == 0 {
		return head + ">", nil
	}
	parts := make([]string, 0, len(attrs))
	for _, a := range attrs {
		name, err := r.StrValue(a.Key)
		if err != nil {
			continue
		}
		val := "..."
		if depth > 0 {
			val = r.reprOf(a.Value, 0)
		}
		if len(val) > 40 {
			val = val[:37] + "..."
		}
		parts = append(parts, name+"="+val)
	}
	return head + " " + strings.Join(parts, " ") + ">", nil
}

// ClassName is a type's name as type.__repr__ gives it: its module and
// __qualname__ (first.models.Widget, app.Outer.Inner), the module left out
// for builtins; tp_name for a static type, which holds its module already
// (collections.OrderedDict, dict). Two copies of a class imported under
// two module names then differ, as they do in Python.
func (r *Runtime) ClassName(t *Type) string {
	if !t.Heap(r) {
		return t.Name
	}
	name := t.ShortName()
	if q := r.ptrField(t.Addr, r.L.HeapTypeQualname); q != 0 {
		if s, err := r.StrValue(q); err == nil && s != "" {
			name = s
		}
	}
	if m := r.TypeModule(t); m != "builtins" && m != "" {
		return m + "." + name
	}
	return name
}
