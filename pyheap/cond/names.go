package cond

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"

	"github.com/pycoroner/pycoroner/pyheap"
)

// A condition names things two ways: object expressions (module:attr) and
// count()'s class names. A name that cannot be written correctly can never
// resolve, and is the user's error at compile time. A well-formed name that
// the process does not have may simply not exist yet (a module imported
// later, lazily or on the first request; a global set when work is done;
// a class defined by such a module) and may be exactly what the user waits
// for: evaluation says so (NotYet, Notes) and watch --until keeps polling.

// NotYet is an object expression the process does not have at this
// evaluation: a module not in sys.modules, a global or attribute not set,
// an index past a list's end.
type NotYet struct {
	Name string // the expression as written: "__main__:DONE"
	Why  string // what resolving it said, one line
}

func (e *NotYet) Error() string { return fmt.Sprintf("%s cannot be read (%s)", e.Name, e.Why) }

// checkNames rejects the names in a compiled condition that no process
// can have: object expressions that do not parse, and count() arguments
// that are no class name.
func checkNames(root ast.Node) error {
	v := &nameChecker{}
	ast.Walk(&root, v)
	return v.err
}

type nameChecker struct{ err error }

func (v *nameChecker) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || v.err != nil || len(call.Arguments) != 1 {
		return
	}
	fn, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	arg, ok := call.Arguments[0].(*ast.StringNode)
	if !ok {
		return // computed: checked when evaluated
	}
	switch fn.Value {
	case "obj":
		if _, err := pyheap.ParseExpr(arg.Value); err != nil {
			v.err = err
		}
	case "count":
		if !isClassName(arg.Value) {
			v.err = fmt.Errorf("count(%q): %q is no class name: count takes a class's __name__ (\"LeakyUser\") or a built-in type's dotted name (\"collections.OrderedDict\"), as top --by type prints them", arg.Value, arg.Value)
		}
	}
}

// isClassName accepts what a type's tp_name can be: a Python identifier,
// or dotted identifiers for types written in C.
func isClassName(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !pyheap.IsIdentifier(part) {
			return false
		}
	}
	return true
}

// noClassNote is the note for count(name) when the process has no class
// of that name at all (no instance and no class object), with the closest
// class name when one is a likely typo; "" when such a class exists.
func noClassNote(h *pyheap.Heap, rt *pyheap.Runtime, name string) string {
	names := map[string]bool{}
	for i := 0; i < h.Len(); i++ {
		id := pyheap.ObjectID(i)
		t := h.Type(id)
		names[t.Name], names[t.ShortName()] = true, true
		if t.Kind == pyheap.KindType {
			if ct, err := rt.TypeAt(h.Addr(id)); err == nil {
				names[ct.Name], names[ct.ShortName()] = true, true
			}
		}
	}
	if names[name] {
		return ""
	}
	note := fmt.Sprintf("count(%q) is 0: the process has no class named %q (yet)", name, name)
	if s := closest(name, names); s != "" {
		note += fmt.Sprintf("; did you mean %q?", s)
	}
	return note
}

// closest is the name in names nearest to name when it is near enough to
// be a typo of it (same letters in another case, or at most two edits);
// ties go to the first in sorted order, so the note is stable.
func closest(name string, names map[string]bool) string {
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	best, bestD := "", 3
	for _, n := range sorted {
		d := editDistance(name, n)
		if strings.EqualFold(n, name) {
			d = 0
		}
		if d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes:
// class names are almost always ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
