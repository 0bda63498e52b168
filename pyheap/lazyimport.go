package pyheap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// 3.15's lazy imports (PEP 810): `lazy import json` binds the module
// global json to a placeholder of type lazy_import until the name is first
// used. Its struct (PyLazyImportObject) is private to CPython's
// Objects/lazyimportobject.c; the generator declares it for the offsetof
// probe (layout/gen/private.go) and it is read only when the type's
// tp_basicsize agrees with the generated size.
//
// A "root" placeholder holds the module name it will import (lz_from, a
// str), the fromlist (lz_attr: NULL, or a tuple for `from a import b`)
// and the builtins whose __import__ it will call; a "projection" (`from a
// import b` binds b to one) holds its root in lz_from and the attribute it
// will take in lz_attr (a str).

const lazyImportTypeName = "lazy_import"

func init() {
	registerSizedWalker(walkLazyImport, func(L *layout.Layout) int64 { return L.LazyImportSize }, lazyImportTypeName)
}

// walkLazyImport follows what lazy_import_traverse visits.
func walkLazyImport(r *Runtime, obj uint64, labels bool, emit emitFunc) {
	L := r.L
	r.emitFields(obj, []field{{L.LazyImportBuiltins, "lz_builtins"}, {L.LazyImportFrom, "lz_from"},
		{L.LazyImportAttr, "lz_attr"}, {L.LazyImportCode, "lz_code"}}, labels, emit)
}

// isLazyImport reports whether t is 3.15's lazy_import type, laid out as
// the generated struct says.
func (r *Runtime) isLazyImport(t *Type) bool {
	return t.Name == lazyImportTypeName && r.L.LazyImportSize > 0 && t.Basicsize == r.L.LazyImportSize && !t.Heap(r)
}

// LazyImportName is what a lazy-import placeholder will import, as its
// repr names it (<lazy_import 'json'>); ok is false when obj is not one.
func (r *Runtime) LazyImportName(obj uint64) (name string, ok bool, err error) {
	t, err := r.TypeOf(obj)
	if err != nil || !r.isLazyImport(t) {
		return "", false, err
	}
	name, err = r.lazyImportName(obj)
	return name, true, err
}

// maxLazyChain bounds a chain of projections (one per dotted part).
const maxLazyChain = 64

var errLazyChain = errors.New("lazy import chain too long or looping")

// lazyImportName is lazy_import_name: a projection names the dotted path
// it resolves to; a root with a non-empty fromlist its module and "...";
// a root its module.
func (r *Runtime) lazyImportName(obj uint64) (string, error) {
	from, fromLazy, attr, err := r.lazyImportParts(obj)
	if err != nil {
		return "", err
	}
	if fromLazy {
		return r.lazyImportPath(obj, 0)
	}
	if r.hasFromlist(attr) {
		return from + "...", nil
	}
	return from, nil
}

// lazyImportPath is lazy_import_path: the dotted name of the object that
// resolving the placeholder returns.
func (r *Runtime) lazyImportPath(obj uint64, depth int) (string, error) {
	if depth > maxLazyChain {
		return "", errLazyChain
	}
	from, fromLazy, attr, err := r.lazyImportParts(obj)
	if err != nil {
		return "", err
	}
	if fromLazy {
		base, err := r.lazyImportPath(r.ptrField(obj, r.L.LazyImportFrom), depth+1)
		if err != nil {
			return "", err
		}
		a, err := r.StrValue(attr)
		if err != nil {
			return "", fmt.Errorf("lazy import attribute: %w", err)
		}
		return base + "." + a, nil
	}
	if r.hasFromlist(attr) {
		return from, nil
	}
	// __import__("a.b") returns the top-level package a.
	if i := strings.IndexByte(from, '.'); i >= 0 {
		return from[:i], nil
	}
	return from, nil
}

// lazyImportParts reads lz_from (its str, or whether it is another
// placeholder) and lz_attr.
func (r *Runtime) lazyImportParts(obj uint64) (from string, fromLazy bool, attr uint64, err error) {
	p := r.ptrField(obj, r.L.LazyImportFrom)
	if p == 0 {
		return "", false, 0, fmt.Errorf("lazy import at 0x%x has no lz_from", obj)
	}
	attr = r.ptrField(obj, r.L.LazyImportAttr)
	ft, err := r.TypeOf(p)
	if err != nil {
		return "", false, 0, fmt.Errorf("lazy import lz_from: %w", err)
	}
	if r.isLazyImport(ft) {
		return "", true, attr, nil
	}
	from, err = r.StrValue(p)
	if err != nil {
		return "", false, 0, fmt.Errorf("lazy import lz_from: %w", err)
	}
	return from, false, attr, nil
}

// hasFromlist: lz_attr is set and is not an empty tuple.
func (r *Runtime) hasFromlist(attr uint64) bool {
	if attr == 0 {
		return false
	}
	t, err := r.TypeOf(attr)
	if err != nil {
		return false
	}
	if t.Kind == KindTuple {
		_, n, err := r.SeqItems(attr, KindTuple, 0)
		return err == nil && n > 0
	}
	return true
}

// lazyImportRepr is CPython's repr of a placeholder: <lazy_import 'json'>.
func (r *Runtime) lazyImportRepr(obj uint64, t *Type) (s string, ok bool, err error) {
	if !r.isLazyImport(t) {
		return "", false, nil
	}
	name, err := r.lazyImportName(obj)
	if err != nil {
		return fmt.Sprintf("<lazy_import object at 0x%x>", obj), true, err
	}
	return fmt.Sprintf("<%s '%s'>", t.Name, name), true, nil
}

// LazyGlobal is a module global still bound to a lazy-import placeholder.
type LazyGlobal struct {
	Name    string // the global
	Imports string // what the placeholder will import
	Addr    uint64 // the placeholder
}

// LazyGlobals lists a module's globals that still hold lazy-import
// placeholders (3.15+; nil before, or for an object that is no module).
func (r *Runtime) LazyGlobals(mod uint64) ([]LazyGlobal, error) {
	if r.L.LazyImportSize <= 0 {
		return nil, nil
	}
	t, err := r.TypeOf(mod)
	if err != nil || t.Kind != KindModule {
		return nil, err
	}
	d := r.ptrField(mod, r.L.ModuleDict)
	if d == 0 {
		return nil, nil
	}
	items, _, err := r.DictItems(d, maxDictEntries)
	if err != nil {
		return nil, err
	}
	var out []LazyGlobal
	for _, it := range items {
		name, ok, err := r.LazyImportName(it.Value)
		if !ok {
			continue
		}
		g := LazyGlobal{Name: r.attrName(it.Key), Imports: name, Addr: it.Value}
		if err != nil {
			g.Imports = "?"
		}
		out = append(out, g)
	}
	return out, nil
}
