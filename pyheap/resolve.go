package pyheap

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/census"
	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// An object can be named on the command line by its address or by an
// expression that Python would evaluate to it:
//
//	0x7f3ad78a9e50            hex address (id() in hex)
//	139890713889616           decimal address (id() as Python prints it)
//	app.models                the module sys.modules["app.models"]
//	app.models:CACHE          getattr(module, "CACHE")
//	__main__:HOLDER.items     getattr step by step
//	threading:_active[139…]   dict lookup by int key, list or tuple index
//	app:CONFIG['db']          dict lookup by str key (CONFIG.db works too)
//	child:MARKER@2            in interpreter 2's sys.modules (see
//	                          resolveinterp.go; without @N: the first
//	                          interpreter it resolves in, main first)

// ExprStep is one step of an expression after its module.
type ExprStep struct {
	Attr  string // getattr(obj, Attr) (a dict: obj[Attr])
	Key   string // obj['Key']
	Index *int64 // obj[Index] (a dict: lookup by int key)
}

func (s ExprStep) String() string {
	switch {
	case s.Index != nil:
		return fmt.Sprintf("[%d]", *s.Index)
	case s.Attr != "":
		return "." + s.Attr
	}
	return "[" + strconv.Quote(s.Key) + "]"
}

// Expr is a parsed object expression.
type Expr struct {
	Addr   uint64 // set when the expression is an address
	Module string
	Steps  []ExprStep
	// Interp, from a trailing @N, is the interpreter whose sys.modules
	// Module is looked up in; nil: each in turn (ResolveAll).
	Interp *int64
}

// ExprError is an expression that does not parse: a usage error.
type ExprError struct{ Expr, Msg string }

func (e *ExprError) Error() string { return fmt.Sprintf("bad object expression %q: %s", e.Expr, e.Msg) }

// maxExprLen bounds an expression typed by a person.
const maxExprLen = 4096

// ParseExpr parses an address or a module:attr.attr expression.
func ParseExpr(expr string) (Expr, error) {
	bad := func(format string, args ...any) (Expr, error) {
		return Expr{}, &ExprError{expr, fmt.Sprintf(format, args...)}
	}
	s := strings.TrimSpace(expr)
	switch {
	case s == "":
		return bad("empty")
	case len(s) > maxExprLen:
		return bad("longer than %d characters", maxExprLen)
	}
	s, interp, why := cutInterp(s)
	if why != "" {
		return bad("%s", why)
	}
	isAddr := s != "" && s[0] >= '0' && s[0] <= '9'
	switch {
	case isAddr && interp != nil:
		// An address is one object whichever interpreter names it.
		return bad("@%d picks the interpreter of a module lookup: an address needs none", *interp)
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		a, err := strconv.ParseUint(s[2:], 16, 64)
		if err != nil {
			return bad("not a hex address")
		}
		if a == 0 {
			return bad("the NULL address: no object lives there")
		}
		return Expr{Addr: a}, nil
	case s[0] >= '0' && s[0] <= '9':
		a, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return bad("not an address (write hex addresses as 0x…)")
		}
		if a == 0 {
			return bad("the NULL address: no object lives there")
		}
		return Expr{Addr: a}, nil
	}
	mod, rest, hasSteps := strings.Cut(s, ":")
	for _, part := range strings.Split(mod, ".") {
		if !isIdent(part) {
			return bad("module name %q is not a dotted name", mod)
		}
	}
	e := Expr{Module: mod, Interp: interp}
	if !hasSteps {
		return e, nil
	}
	if rest == "" {
		return bad("nothing after ':'")
	}
	for i := 0; i < len(rest); {
		switch c := rest[i]; {
		case c == '[':
			end := strings.IndexByte(rest[i:], ']')
			if end < 0 {
				return bad("'[' without ']'")
			}
			inner := strings.TrimSpace(rest[i+1 : i+end])
			step, ok := bracketStep(inner)
			if !ok {
				return bad("%q: write [N] or ['key']", inner)
			}
			e.Steps = append(e.Steps, step)
			i += end + 1
		case c == '.' && len(e.Steps) > 0:
			i++
			fallthrough
		default:
			if len(e.Steps) > 0 && rest[i-1] == ']' {
				return bad("write '.' or '[' after ']'")
			}
			j := i
			for j < len(rest) && rest[j] != '.' && rest[j] != '[' {
				j++
			}
			if !isIdent(rest[i:j]) {
				return bad("%q is not an attribute name", rest[i:j])
			}
			e.Steps = append(e.Steps, ExprStep{Attr: rest[i:j]})
			i = j
		}
	}
	return e, nil
}

func bracketStep(inner string) (ExprStep, bool) {
	if n := len(inner); n >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[n-1] == inner[0] {
		key := inner[1 : n-1]
		if strings.ContainsAny(key, `'"\`) {
			return ExprStep{}, false
		}
		return ExprStep{Key: key}, true
	}
	v, err := strconv.ParseInt(inner, 10, 64)
	if err != nil {
		return ExprStep{}, false
	}
	return ExprStep{Index: &v}, true
}

// IsIdentifier accepts Python identifiers (ASCII letters, digits,
// underscore, and any non-ASCII letter, which Python allows too).
func IsIdentifier(s string) bool { return isIdent(s) }

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c > 0x7f:
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Resolve returns the address an expression names (see ParseExpr). An
// address is returned as is: whether an object lives there is the
// caller's question.
func (r *Runtime) Resolve(expr string) (uint64, error) {
	e, err := ParseExpr(expr)
	if err != nil {
		return 0, err
	}
	return r.ResolveExpr(e)
}

// ResolveExpr evaluates a parsed expression in the image: with several
// interpreters, the first (main first) it resolves in, or the one @N
// names. ResolveAll also says which others it resolves in.
func (r *Runtime) ResolveExpr(e Expr) (uint64, error) {
	res, err := r.ResolveAll(e)
	return res.Addr, err
}

// evalSteps follows e's steps from its module mod.
func (r *Runtime) evalSteps(mod uint64, e Expr) (uint64, error) {
	cur, path := mod, e.Module+":"
	for i, step := range e.Steps {
		if i == 0 {
			path += strings.TrimPrefix(step.String(), ".")
		} else {
			path += step.String()
		}
		next, err := r.step(cur, step)
		if err != nil && i == len(e.Steps)-1 {
			return 0, err
		}
		if err != nil {
			return 0, fmt.Errorf("at %s: %w", path, err)
		}
		cur = next
	}
	return cur, nil
}

// cutInterp splits a trailing @N (an interpreter id) off an expression.
// Only digits may follow the last '@', so a key like ['a@b'] is left
// alone; "@" with no id, or a non-number after it, is an error.
func cutInterp(s string) (rest string, interp *int64, why string) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s, nil, ""
	}
	id := s[at+1:]
	if strings.ContainsAny(id, "]'\"") {
		return s, nil, "" // inside a bracketed key: not ours
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(id, "+") {
		return s, nil, fmt.Sprintf("%q after '@' is not an interpreter id (write @N, as in child:MARKER@2)", id)
	}
	if at == 0 {
		return s, nil, "nothing before '@'"
	}
	return s[:at], &n, ""
}

// step evaluates one step from obj.
func (r *Runtime) step(obj uint64, s ExprStep) (uint64, error) {
	t, err := r.TypeOf(obj)
	if err != nil {
		return 0, err
	}
	what := r.shortDesc(obj, t)
	switch {
	case s.Index != nil:
		switch t.Kind {
		case KindList, KindTuple:
			items, n, err := r.SeqItems(obj, t.Kind, maxDictEntries)
			if err != nil {
				return 0, err
			}
			i := *s.Index
			if i < 0 {
				i += n
			}
			if i < 0 || i >= int64(len(items)) {
				return 0, fmt.Errorf("index %d is out of range for %s (%d items)", *s.Index, what, n)
			}
			return items[i], nil
		case KindDict:
			if v, ok := r.dictLookupInt(obj, *s.Index); ok {
				return v, nil
			}
			return 0, fmt.Errorf("%s has no key %d", what, *s.Index)
		}
		return 0, fmt.Errorf("%s cannot be indexed here (only list, tuple and dict)", what)
	case s.Attr == "" || t.Kind == KindDict:
		key := s.Key + s.Attr
		if t.Kind != KindDict {
			return 0, fmt.Errorf("%s is not a dict", what)
		}
		if v, ok := r.DictLookupStr(obj, key); ok {
			return v, nil
		}
		return 0, fmt.Errorf("%s has no key %q", what, key)
	}
	if s.Attr == "__dict__" && t.Kind != KindModule && t.Kind != KindType {
		if _, d, _ := r.Attributes(obj, t, 0); d == 0 {
			return 0, fmt.Errorf("%s has no __dict__ object (no attributes, or they are stored in the object itself, as 3.11+ does)", what)
		}
	}
	if v, ok := r.getattr(obj, t, s.Attr); ok {
		return v, nil
	}
	return 0, fmt.Errorf("%s has no attribute %q", what, s.Attr)
}

// getattr looks an attribute up as Python would for the common cases:
// a module's globals, an instance's __dict__ or slots, then the class and
// its MRO; __dict__ and __class__ themselves.
func (r *Runtime) getattr(obj uint64, t *Type, name string) (uint64, bool) {
	L := r.L
	if name == "__class__" {
		return t.Addr, true
	}
	switch t.Kind {
	case KindModule:
		d := r.ptrField(obj, L.ModuleDict)
		if name == "__dict__" {
			return d, d != 0
		}
		if d == 0 {
			return 0, false
		}
		return r.DictLookupStr(d, name)
	case KindType:
		if name == "__dict__" {
			d := r.ptrField(obj, L.TypeDict)
			return d, d != 0
		}
		return r.lookupMRO(obj, name)
	}
	attrs, dict, _ := r.Attributes(obj, t, maxDictEntries)
	if name == "__dict__" && dict != 0 {
		return dict, true
	}
	for _, a := range attrs {
		if s, err := r.StrValue(a.Key); err == nil && s == name {
			return a.Value, true
		}
	}
	if t.Heap(r) {
		for _, sm := range r.typeWalkOf(t).slots {
			if sm.name == name {
				off, ok := r.slotOffset(obj, t, sm)
				if !ok {
					return 0, false
				}
				p := r.ptrField(obj, layout.Offset(off))
				return p, p != 0
			}
		}
	}
	if v, ok := r.fieldByLabel(obj, t, name); ok {
		return v, true
	}
	return r.lookupMRO(t.Addr, name)
}

// fieldByLabel finds a C-level field (a function's __code__, a frame's
// f_back, an exception's __traceback__) among the object's labelled
// references.
func (r *Runtime) fieldByLabel(obj uint64, t *Type, name string) (uint64, bool) {
	var found uint64
	r.walkRefs(obj, t, true, func(target uint64, via Ref, conservative bool) {
		if found == 0 && !conservative && via.Name == name &&
			(via.Kind == census.RefField || via.Kind == census.RefAttribute || via.Kind == census.RefSlot) {
			found = target
		}
	})
	return found, found != 0
}

// lookupMRO finds name in the dicts of a type's MRO.
func (r *Runtime) lookupMRO(tp uint64, name string) (uint64, bool) {
	L := r.L
	mro := []uint64{tp}
	if m := r.ptrField(tp, L.TypeMro); m != 0 {
		if items, _, err := r.SeqItems(m, KindTuple, 64); err == nil && len(items) > 0 {
			mro = items
		}
	}
	for _, c := range mro {
		if d := r.ptrField(c, L.TypeDict); d != 0 {
			if v, ok := r.DictLookupStr(d, name); ok {
				return v, true
			}
		}
	}
	return 0, false
}

// dictLookupInt finds an int key in a dict.
func (r *Runtime) dictLookupInt(dict uint64, key int64) (uint64, bool) {
	items, _, err := r.DictItems(dict, maxDictEntries)
	if err != nil {
		return 0, false
	}
	for _, it := range items {
		if t, err := r.TypeOf(it.Key); err == nil && t.Kind == KindInt {
			if v, err := r.Int64(it.Key); err == nil && v == key {
				return it.Value, true
			}
		}
	}
	return 0, false
}

// shortDesc names an object in messages: <list at 0x…>, <module 'x'>.
func (r *Runtime) shortDesc(obj uint64, t *Type) string {
	switch t.Kind {
	case KindModule, KindType, KindFunction, KindCode:
		if s, err := r.repr(obj, t, 0); err == nil {
			return s
		}
	case KindNone:
		return "None"
	}
	if s, ok, err := r.lazyImportRepr(obj, t); ok && err == nil {
		return s
	}
	return fmt.Sprintf("<%s at 0x%x>", t.ShortName(), obj)
}

// ShortDesc names the object at addr in a line of text: <list at 0x…>,
// <module 'app'>, <class 'Widget'>, <function f at 0x…>.
func (r *Runtime) ShortDesc(addr uint64) string {
	t, err := r.TypeOf(addr)
	if err != nil {
		return fmt.Sprintf("<unreadable object at 0x%x>", addr)
	}
	return r.shortDesc(addr, t)
}
