// Package cond evaluates watch conditions over a process's heap with CEL
// (cel.dev/cel-go): `len(sys:path) > 7`, `sys:path[0].endsWith("/lib")`,
// `count("LeakyUser") > 10000`. Object expressions (module:attr.attr) are
// rewritten into obj("module:attr.attr") calls, and obj, len and count are
// bound to the heap model (pyheap).
package cond

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/pycoroner/pycoroner/pyheap"
)

// Condition is a compiled condition.
type Condition struct {
	Source    string // as the user wrote it
	Rewritten string // with obj("...") calls
	prg       cel.Program

	mu     sync.Mutex
	rt     *pyheap.Runtime
	heap   *pyheap.Heap
	Values map[string]string // each obj() and count() seen in the last evaluation, with its repr
}

// objExpr matches module:attr... outside string literals.
var objExpr = regexp.MustCompile(`[A-Za-z_][\w.]*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\]]*\])*`)

// Rewrite turns module:attr expressions into obj("module:attr") calls,
// leaving string literals alone.
func Rewrite(src string) string {
	var b strings.Builder
	for len(src) > 0 {
		q := strings.IndexAny(src, `"'`)
		code := src
		if q >= 0 {
			code = src[:q]
		}
		b.WriteString(rewriteCode(code))
		if q < 0 {
			break
		}
		end := q + 1
		for end < len(src) && src[end] != src[q] {
			if src[end] == '\\' {
				end++
			}
			end++
		}
		if end < len(src) {
			end++
		}
		b.WriteString(src[q:end])
		src = src[end:]
	}
	return b.String()
}

// rewriteCode rewrites one stretch of code without string literals. A
// trailing .name followed by "(" is a method call on the value
// (sys:path[0].endsWith("x")), not an attribute.
func rewriteCode(code string) string {
	var b strings.Builder
	last := 0
	for _, m := range objExpr.FindAllStringIndex(code, -1) {
		start, end := m[0], m[1]
		if start > 0 && (code[start-1] == '_' || isAlnum(code[start-1])) {
			continue
		}
		expr := code[start:end]
		if end < len(code) && code[end] == '(' {
			if dot := strings.LastIndexByte(expr, '.'); dot > strings.IndexByte(expr, ':') {
				end = start + dot
				expr = code[start:end]
			}
		}
		b.WriteString(code[last:start])
		fmt.Fprintf(&b, "obj(%q)", expr)
		last = end
	}
	b.WriteString(code[last:])
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Compile compiles a condition; errors are the user's (one line).
func Compile(src string) (*Condition, error) {
	c := &Condition{Source: src, Rewritten: Rewrite(src)}
	env, err := cel.NewEnv(
		cel.Function("obj", cel.Overload("obj_string", []*cel.Type{cel.StringType}, cel.DynType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return c.obj(string(v.(types.String))) }))),
		cel.Function("len", cel.Overload("len_dyn", []*cel.Type{cel.DynType}, cel.IntType,
			cel.UnaryBinding(lenOf))),
		cel.Function("count", cel.Overload("count_string", []*cel.Type{cel.StringType}, cel.IntType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return c.count(string(v.(types.String))) }))),
	)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(c.Rewritten)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("bad condition %q: %s", src, oneLine(iss.Err().Error()))
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("condition %q is a %s, not true or false", src, ast.OutputType())
	}
	if c.prg, err = env.Program(ast); err != nil {
		return nil, fmt.Errorf("bad condition %q: %s", src, oneLine(err.Error()))
	}
	return c, nil
}

// Eval evaluates the condition against one snapshot.
func (c *Condition) Eval(rt *pyheap.Runtime) (bool, error) {
	c.mu.Lock()
	c.rt, c.heap, c.Values = rt, nil, map[string]string{}
	c.mu.Unlock()
	out, _, err := c.prg.Eval(map[string]any{})
	if err != nil {
		return false, fmt.Errorf("condition %q: %s", c.Source, oneLine(err.Error()))
	}
	if types.IsError(out) {
		return false, fmt.Errorf("condition %q: %v", c.Source, out)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition %q gave %v, not true or false", c.Source, out.Value())
	}
	return b, nil
}

func (c *Condition) obj(expr string) ref.Val {
	addr, err := c.rt.Resolve(expr)
	if err != nil {
		return types.NewErr("%s", oneLine(err.Error()))
	}
	c.Values[expr] = c.rt.Describe(addr).Repr
	return types.DefaultTypeAdapter.NativeToValue(toNative(c.rt, addr, 3))
}

func (c *Condition) count(typeName string) ref.Val {
	if c.heap == nil {
		h, err := c.rt.BuildHeap(pyheap.HeapOptions{})
		if err != nil {
			return types.NewErr("census: %s", oneLine(err.Error()))
		}
		c.heap = h
	}
	n := 0
	for i := 0; i < c.heap.Len(); i++ {
		t := c.heap.Type(pyheap.ObjectID(i))
		if t.Name == typeName || t.ShortName() == typeName {
			n++
		}
	}
	c.Values[fmt.Sprintf("count(%q)", typeName)] = fmt.Sprint(n)
	return types.Int(n)
}

func lenOf(v ref.Val) ref.Val {
	switch x := v.Value().(type) {
	case string:
		return types.Int(len([]rune(x)))
	case []any:
		return types.Int(len(x))
	case map[string]any:
		return types.Int(len(x))
	}
	if s, ok := v.(interface{ Size() ref.Val }); ok {
		return s.Size()
	}
	return types.NewErr("len() of a %s", v.Type().TypeName())
}

// maxItems bounds how much of a container a condition sees.
const maxItems = 100000

// toNative converts a Python object into Go values CEL understands.
func toNative(rt *pyheap.Runtime, addr uint64, depth int) any {
	t, err := rt.TypeOf(addr)
	if err != nil {
		return nil
	}
	switch t.Kind {
	case pyheap.KindNone:
		return nil
	case pyheap.KindBool:
		n, _ := rt.Int64(addr)
		return n != 0
	case pyheap.KindInt:
		if n, err := rt.Int64(addr); err == nil {
			return n
		}
		s, _ := rt.IntRepr(addr)
		return s
	case pyheap.KindFloat:
		f, _ := rt.Float(addr)
		return f
	case pyheap.KindStr:
		s, _ := rt.StrValue(addr)
		return s
	case pyheap.KindBytes:
		b, _, _ := rt.Bytes(addr, maxItems)
		return string(b)
	case pyheap.KindList, pyheap.KindTuple:
		if depth <= 0 {
			return rt.Describe(addr).Repr
		}
		items, _, _ := rt.SeqItems(addr, t.Kind, maxItems)
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = toNative(rt, it, depth-1)
		}
		return out
	case pyheap.KindDict:
		if depth <= 0 {
			return rt.Describe(addr).Repr
		}
		items, _, _ := rt.DictItems(addr, maxItems)
		out := map[string]any{}
		for _, it := range items {
			if k, err := rt.StrValue(it.Key); err == nil {
				out[k] = toNative(rt, it.Value, depth-1)
			}
		}
		return out
	}
	v := rt.Describe(addr)
	return map[string]any{"type": v.Type, "address": fmt.Sprintf("0x%x", addr), "repr": v.Repr}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.Join(strings.Fields(s), " ")
}
