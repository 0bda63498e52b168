// Package cond evaluates watch conditions over a process's heap with expr
// (github.com/expr-lang/expr), accepting CEL's method forms:
// `len(sys:path) > 7`, `sys:path[0].endsWith("/lib")`,
// `count("LeakyUser") > 10000`. Object expressions (module:attr.attr) are
// rewritten into obj("module:attr.attr") calls, and obj, len and count are
// bound to the heap model (pyheap).
//
// It used CEL (cel.dev/cel-go) until the init of cel-go and the protobuf
// runtime it needs (10-18 ms in every pycoroner process, for a feature
// only watch --until uses) outweighed it: Go runs every linked package's
// init, used or not.
package cond

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/pyrepr"
)

// Condition is a compiled condition.
type Condition struct {
	Source    string // as the user wrote it
	Rewritten string // with obj("...") calls
	prg       *vm.Program

	mu     sync.Mutex
	rt     *pyheap.Runtime
	heap   *pyheap.Heap
	Values map[string]string // each obj() and count() seen in the last evaluation, with its repr
	// Notes are what the last evaluation has to say about names that
	// did not resolve without making it fail (a class count() found no
	// class of: see names.go).
	Notes []string
	// Warnings are the last evaluation's object expressions that give a
	// different object in several interpreters (the first is used), one
	// line each as pyheap.Resolution.AmbiguityWarning says it, by
	// expression.
	Warnings map[string]string
	notYet   *NotYet // the object expression that stopped the last evaluation

	lookup func(expr string) (any, error) // tests: obj() without a process
}

// objExpr matches module:attr... outside string literals, with the @N
// that picks an interpreter (pyheap.ParseExpr).
// A slice (sys:path[0][-4:]) is not part of the object expression: it is
// the condition's own, on the value read.
var objExpr = regexp.MustCompile(`[A-Za-z_][\w.]*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\]:]*\])*(?:@\d+)?`)

// Rewrite turns module:attr expressions into obj("module:attr") calls,
// leaving string literals alone.
func Rewrite(src string) string {
	var b strings.Builder
	for len(src) > 0 {
		q := strings.IndexAny(src, `"'`)
		code := src
		if q >= 0 {
			code = src[:q]
			// Python's bytes literal b'x': bytes are read as strs here.
			if n := len(code); n > 0 && (code[n-1] == 'b' || code[n-1] == 'B') && (n == 1 || !(code[n-2] == '_' || isAlnum(code[n-2]))) {
				code = code[:n-1]
			}
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
		b.WriteString(pythonOperators(code[last:start]))
		fmt.Fprintf(&b, "obj(%q)", expr)
		last = end
	}
	b.WriteString(pythonOperators(code[last:]))
	return b.String()
}

var (
	isNot = regexp.MustCompile(`\bis\s+not\b`)
	isOp  = regexp.MustCompile(`\bis\b`)
)

// pythonOperators spells Python's identity tests as comparisons: on the
// values a condition reads (None, bools, numbers, strs) `is` is `==`.
func pythonOperators(code string) string {
	return isOp.ReplaceAllString(isNot.ReplaceAllString(code, "!="), "==")
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Compile compiles a condition; errors are the user's (one line).
func Compile(src string) (*Condition, error) {
	c := &Condition{Source: src, Rewritten: Rewrite(src)}
	prg, err := expr.Compile(c.Rewritten,
		// An environment makes an unknown name an error at compile time;
		// null is CEL's spelling of None.
		expr.Env(env),
		// No AsBool: a condition is true as Python's `if` finds it (a
		// non-empty str, a non-zero count), pyBool at Eval.
		expr.Patch(celMethods{}),
		expr.Function("obj", func(args ...any) (any, error) { return c.obj(args[0].(string)) },
			new(func(string) any)),
		expr.Function("count", func(args ...any) (any, error) { return c.count(args[0].(string)) },
			new(func(string) int)),
		expr.Function("len", func(args ...any) (any, error) { return lenOf(args[0]) },
			new(func(any) int)),
		expr.Function("size", func(args ...any) (any, error) { return lenOf(args[0]) },
			new(func(any) int)),
		expr.Function("pyin", func(args ...any) (any, error) { return pyIn(args[0], args[1]) },
			new(func(any, any) bool)),
		expr.Function("pyslice", func(args ...any) (any, error) { return pySlice(args[0], args[1], args[2]) },
			new(func(any, any, any) any)),
		expr.Function("pybool", func(args ...any) (any, error) { return pyBool(args[0]), nil },
			new(func(any) bool)),
		expr.Function("range", func(args ...any) (any, error) { return pyRange(args) },
			new(func(...int) []any)),
	)
	if err == nil {
		err = checkNames(prg.Node())
	}
	if err == nil && !strings.Contains(c.Rewritten, "obj(") && !strings.Contains(c.Rewritten, "count(") {
		// Without AsBool, `1 + 2` compiles: a constant, true for ever.
		err = fmt.Errorf("it reads nothing from the process: name an object (module:attr) or count(\"Class\")")
	}
	if err != nil {
		return nil, fmt.Errorf("bad condition %q: %s", src, oneLine(err.Error()))
	}
	c.prg = prg
	return c, nil
}

// env holds the names a condition may use besides its functions.
var env = map[string]any{"null": nil, "None": nil, "True": true, "False": false}

// comparison holds expr's comparison operators.
var comparison = map[string]bool{"==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true, "in": true, "matches": true,
	"contains": true, "startsWith": true, "endsWith": true}

// pythonMethods are str methods a Python user writes, as expr's functions.
var pythonMethods = map[string]string{"upper": "upper", "lower": "lower", "strip": "trim"}

// truth wraps an operand of not, and, or in pybool (Python's truth of a
// value), unless it is a bool already by its form.
func truth(n ast.Node) ast.Node {
	switch x := n.(type) {
	case *ast.BoolNode:
		return n
	case *ast.CallNode:
		if isPyBool(x) {
			return n
		}
	case *ast.BinaryNode:
		if comparison[x.Operator] || x.Operator == "and" || x.Operator == "or" || x.Operator == "&&" || x.Operator == "||" {
			return n
		}
	case *ast.UnaryNode:
		if x.Operator == "not" || x.Operator == "!" {
			return n
		}
	}
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: "pybool"}, Arguments: []ast.Node{n}}
}

func isPyBool(c *ast.CallNode) bool {
	id, ok := c.Callee.(*ast.IdentifierNode)
	return ok && id.Value == "pybool" && len(c.Arguments) == 1
}

// celMethods accepts CEL's method forms of the string tests and of size,
// which expr spells as operators and a function: x.endsWith(y) is
// x endsWith y, x.size() is size(x).
type celMethods struct{}

var celOperators = map[string]string{
	"startsWith": "startsWith", "endsWith": "endsWith", "contains": "contains", "matches": "matches",
	// Python's spellings, which a Python user types first
	"startswith": "startsWith", "endswith": "endsWith",
}

func (celMethods) Visit(node *ast.Node) {
	if bin, ok := (*node).(*ast.BinaryNode); ok && comparison[bin.Operator] {
		// expr binds `not` tighter than a comparison: `not N > 5` is
		// (not N) > 5 there, not (N > 5) as in Python.
		if u, ok := bin.Left.(*ast.UnaryNode); ok && u.Operator == "not" {
			operand := u.Node
			if c, ok := operand.(*ast.CallNode); ok && isPyBool(c) {
				operand = c.Arguments[0] // the truth wrapper put on it below: not a truth test now
			}
			ast.Patch(node, &ast.UnaryNode{Operator: "not", Node: &ast.BinaryNode{Operator: bin.Operator, Left: operand, Right: bin.Right}})
			return
		}
	}
	switch n := (*node).(type) {
	case *ast.UnaryNode:
		// Python's truth: `not S` of a str, a list, a number.
		if n.Operator == "not" || n.Operator == "!" {
			n.Node = truth(n.Node)
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "and", "or", "&&", "||":
			n.Left, n.Right = truth(n.Left), truth(n.Right)
		}
	}
	if bin, ok := (*node).(*ast.BinaryNode); ok && bin.Operator == "in" {
		// Python's `in`: a substring of a str too, which expr's is not.
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "pyin"}, Arguments: []ast.Node{bin.Left, bin.Right}})
		return
	}
	if sl, ok := (*node).(*ast.SliceNode); ok {
		// Python's slices: a str's by character (expr's cut bytes, so
		// that "日本語"[-1:] was no character at all), bounds clamped.
		from, to := sl.From, sl.To
		if from == nil {
			from = &ast.NilNode{}
		}
		if to == nil {
			to = &ast.NilNode{}
		}
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "pyslice"}, Arguments: []ast.Node{sl.Node, from, to}})
		return
	}
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	m, ok := call.Callee.(*ast.MemberNode)
	if !ok {
		return
	}
	name, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	if fn, ok := pythonMethods[name.Value]; ok && len(call.Arguments) == 0 {
		ast.Patch(node, &ast.BuiltinNode{Name: fn, Arguments: []ast.Node{m.Node}})
		return
	}
	if op, ok := celOperators[name.Value]; ok && len(call.Arguments) == 1 {
		ast.Patch(node, &ast.BinaryNode{Operator: op, Left: m.Node, Right: call.Arguments[0]})
	} else if name.Value == "size" && len(call.Arguments) == 0 {
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "size"}, Arguments: []ast.Node{m.Node}})
	}
}

// Eval evaluates the condition against one snapshot. An object expression
// the process does not have (yet) ends it with a *NotYet.
func (c *Condition) Eval(rt *pyheap.Runtime) (bool, error) {
	c.mu.Lock()
	c.rt, c.heap, c.Values, c.Notes, c.Warnings, c.notYet = rt, nil, map[string]string{}, nil, map[string]string{}, nil
	c.mu.Unlock()
	out, err := expr.Run(c.prg, env)
	if err != nil && c.notYet != nil {
		return false, c.notYet
	}
	if err != nil {
		msg := pythonTypes(oneLine(err.Error()))
		if i := strings.Index(msg, " (1:"); i > 0 {
			msg = msg[:i] // the position and the rewritten source after it say nothing more
		}
		if strings.HasPrefix(msg, "invalid operation") && !strings.Contains(msg, "None") {
			// Every name was read and the values cannot be compared or
			// combined as written (a list compared with an int): polling
			// again will not help, unlike a global still None.
			return false, &TypeError{Source: c.Source, Msg: msg}
		}
		return false, fmt.Errorf("condition %q: %s", c.Source, msg)
	}
	return pyBool(out), nil
}

func (c *Condition) obj(expr string) (any, error) {
	if c.lookup != nil {
		v, err := c.lookup(expr)
		if err != nil {
			c.notYet = &NotYet{Name: expr, Why: oneLine(err.Error())}
			return nil, c.notYet
		}
		return v, nil
	}
	e, err := pyheap.ParseExpr(expr)
	if err != nil {
		c.notYet = &NotYet{Name: expr, Why: oneLine(err.Error())}
		return nil, c.notYet
	}
	res, err := c.rt.ResolveAll(e)
	if err != nil {
		if v, ok := c.strIndex(e, expr); ok {
			return v, nil
		}
		c.notYet = &NotYet{Name: expr, Why: oneLine(err.Error())}
		return nil, c.notYet
	}
	if w := res.AmbiguityWarning(expr); w != "" {
		c.Warnings[expr] = w
	}
	addr := res.Addr
	c.Values[expr] = c.rt.Describe(addr).Repr
	return toNative(c.rt, addr, 3), nil
}

// strIndex answers an expression that indexes a str (sys:path[0][-1]):
// the heap model indexes containers only, so the str is read and the
// trailing indexes are the condition's, by character as in Python.
func (c *Condition) strIndex(e pyheap.Expr, expr string) (any, bool) {
	k := 0
	for k < len(e.Steps) && e.Steps[len(e.Steps)-1-k].Index != nil {
		k++
	}
	if k == 0 {
		return nil, false
	}
	prefix := e
	prefix.Steps = e.Steps[:len(e.Steps)-k]
	res, err := c.rt.ResolveAll(prefix)
	if err != nil {
		return nil, false
	}
	t, err := c.rt.TypeOf(res.Addr)
	if err != nil || t.Kind != pyheap.KindStr {
		return nil, false
	}
	s, err := c.rt.StrValue(res.Addr)
	if err != nil {
		return nil, false
	}
	for _, st := range e.Steps[len(e.Steps)-k:] {
		r := []rune(s)
		i := int(*st.Index)
		if i < 0 {
			i += len(r)
		}
		if i < 0 || i >= len(r) {
			return nil, false // out of range: not yet, perhaps
		}
		s = string(r[i])
	}
	c.Values[expr] = pyrepr.Str([]rune(s))
	return s, true
}

func (c *Condition) count(typeName string) (any, error) {
	if c.heap == nil {
		h, err := c.rt.BuildHeap(pyheap.HeapOptions{})
		if err != nil {
			return nil, fmt.Errorf("census: %s", oneLine(err.Error()))
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
	if n == 0 {
		// Only a note: count("X") == 0 may be what is waited for, and the
		// class may be defined later.
		if note := noClassNote(c.heap, c.rt, typeName); note != "" {
			c.Notes = append(c.Notes, note)
		}
	}
	return n, nil
}

func lenOf(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return len([]rune(x)), nil
	case []any:
		return len(x), nil
	case map[string]any:
		return len(x), nil
	case Object:
		return nil, fmt.Errorf("len() of a %s object (only str, bytes, list, tuple and dict have one here)", x["type"])
	}
	return nil, fmt.Errorf("len() of a %s", typeName(v))
}

// pyIn is Python's `needle in hay` over condition values: a substring
// of a str, an item of a list, a key of a dict. Other operands are a type
// error, in Python's words; a None hay is not (a global still None may be
// what is waited for).
func pyIn(needle, hay any) (any, error) {
	switch h := hay.(type) {
	case string:
		if n, ok := needle.(string); ok {
			return strings.Contains(h, n), nil
		}
		return nil, fmt.Errorf("invalid operation: 'in <str>' requires a str as left operand, not a %s", typeName(needle))
	case map[string]any:
		n, ok := needle.(string)
		if !ok {
			// toNative keeps a dict's str keys only: false would be a
			// guess, and a wait that never ends.
			return nil, fmt.Errorf("invalid operation: 'in' a dict with a %s: only a dict's str keys are read", typeName(needle))
		}
		_, found := h[n]
		return found, nil
	case nil:
		return nil, fmt.Errorf("argument of type None is not iterable")
	}
	// A list read from the process, or one the condition makes (1..20,
	// split(s, ",")).
	if rv := reflect.ValueOf(hay); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		for i := 0; i < rv.Len(); i++ {
			if equalValues(rv.Index(i).Interface(), needle) {
				return true, nil
			}
		}
		return false, nil
	}
	return nil, fmt.Errorf("invalid operation: argument of type %s is not iterable", typeName(hay))
}

// pyBool is Python's truth of a condition value.
func pyBool(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case Object:
		return true
	}
	if f, ok := number(v); ok {
		return f != 0
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map || rv.Kind() == reflect.Array {
		return rv.Len() > 0
	}
	return true
}

// pyRange is Python's range(stop), range(start, stop[, step]), as a list
// (bounded: a condition has no use for a million numbers).
func pyRange(args []any) (any, error) {
	var n []int64
	for _, a := range args {
		switch i := a.(type) {
		case int:
			n = append(n, int64(i))
		case int64:
			n = append(n, i)
		default:
			return nil, fmt.Errorf("invalid operation: range() takes ints, not a %s", typeName(a))
		}
	}
	start, stop, step := int64(0), int64(0), int64(1)
	switch len(n) {
	case 1:
		stop = n[0]
	case 2, 3:
		start, stop = n[0], n[1]
		if len(n) == 3 {
			step = n[2]
		}
	default:
		return nil, fmt.Errorf("invalid operation: range() takes 1 to 3 ints, not %d", len(n))
	}
	if step == 0 {
		return nil, fmt.Errorf("invalid operation: range() step must not be zero")
	}
	var out []any
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) == maxItems {
			return nil, fmt.Errorf("invalid operation: range() of more than %d numbers", maxItems)
		}
		out = append(out, i)
	}
	return out, nil
}

// pySlice is Python's v[from:to] for a str (by character) or a list;
// from and to are ints or nil (open), negative counting from the end.
func pySlice(v, from, to any) (any, error) {
	bounds := func(n int) (int, int, error) {
		at := func(x any, def int) (int, error) {
			switch i := x.(type) {
			case nil:
				return def, nil
			case int:
				return clampIndex(i, n), nil
			case int64:
				return clampIndex(int(i), n), nil
			}
			return 0, fmt.Errorf("invalid operation: slice indices must be ints, not %s", typeName(x))
		}
		lo, err := at(from, 0)
		if err != nil {
			return 0, 0, err
		}
		hi, err := at(to, n)
		return lo, max(lo, hi), err
	}
	switch s := v.(type) {
	case string:
		r := []rune(s)
		lo, hi, err := bounds(len(r))
		if err != nil {
			return nil, err
		}
		return string(r[lo:hi]), nil
	case nil:
		return nil, fmt.Errorf("None is not subscriptable")
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		lo, hi, err := bounds(rv.Len())
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			out = append(out, rv.Index(i).Interface())
		}
		return out, nil
	}
	return nil, fmt.Errorf("invalid operation: a value of type %s cannot be sliced", typeName(v))
}

// clampIndex is a slice bound as Python takes it: negative from the end,
// clamped to [0, n].
func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return min(max(i, 0), n)
}

// equalValues is == over condition values, numbers compared by value
// (1 == 1.0) as Python does.
func equalValues(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// typeName names a condition value's type as the condition's user knows it.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, int:
		return "int"
	case float64:
		return "float"
	case Object:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// maxItems bounds how much of a container a condition sees.
const maxItems = 100000

// toNative converts a Python object into Go values expr understands.
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
		return wideInt(s)
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
	return Object{"type": v.Type, "address": fmt.Sprintf("0x%x", addr), "repr": v.Repr}
}

// Object is a Python object a condition has no native value for (an
// instance of a class): its type, address and repr, as x["type"],
// x["address"] and x["repr"] (x.type would be read as the object's own
// attribute). It is its own type so that an error comparing one says
// "object", not "dict".
type Object map[string]any

// wideInt turns the repr of an int beyond 64 bits into a float, so that it
// compares with numbers as Python's int would (to a float's 53 bits of
// precision) instead of failing as a str would; a repr that is no number
// (unreadable digits) stays a str.
func wideInt(repr string) any {
	f, err := strconv.ParseFloat(repr, 64)
	if ne, ok := err.(*strconv.NumError); err == nil || ok && ne.Err == strconv.ErrRange {
		return f // beyond a float's range: ±Inf, which still compares
	}
	return repr
}

// TypeError is a condition whose values, all read, cannot be combined as
// written: "list > int".
type TypeError struct {
	Source, Msg string
}

func (e *TypeError) Error() string {
	hint := ""
	if strings.Contains(e.Msg, "list") || strings.Contains(e.Msg, "dict") || strings.Contains(e.Msg, "str") {
		hint = " (to compare a container's or a str's length, write len(...))"
	}
	return fmt.Sprintf("condition %q cannot be evaluated on the values read: %s%s", e.Source, e.Msg, hint)
}

// pythonTypes names the evaluator's Go types in an error as Python's.
var pythonTypes = strings.NewReplacer(
	"[]interface {}", "list", "map[string]interface {}", "dict", "float64", "float",
	"int64", "int", "string", "str", "<nil>", "None", "interface {}", "value",
	"cond.Object", "object",
).Replace

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.Join(strings.Fields(s), " ")
}
