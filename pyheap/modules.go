package pyheap

import (
	"errors"
	"fmt"
	"strings"
)

// Module is one entry of sys.modules.
type Module struct {
	Name   string
	Addr   uint64
	File   string // __file__, "" when the module has none (or it is not a str)
	Interp int64  // the interpreter's id
	Err    error  // what could not be read
}

// Modules lists sys.modules of every interpreter, in dict order.
func (r *Runtime) Modules() ([]Module, error) {
	interps, err := r.Interpreters()
	if len(interps) == 0 {
		return nil, fmt.Errorf("no interpreter found: %v", err)
	}
	var out []Module
	for _, in := range interps {
		items, _, err := r.DictItems(in.Modules, maxDictEntries)
		if err != nil {
			return out, fmt.Errorf("sys.modules of interpreter %d: %w", in.ID, err)
		}
		for _, it := range items {
			m := Module{Addr: it.Value, Interp: in.ID}
			if m.Name, err = r.StrValue(it.Key); err != nil {
				m.Name = r.keyLabel(it.Key)
				m.Err = err
			}
			if f, err := r.moduleFile(it.Value); err != nil && m.Err == nil {
				m.Err = err
			} else {
				m.File = f
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// moduleFile reads a module's __file__ from its md_dict.
func (r *Runtime) moduleFile(mod uint64) (string, error) {
	t, err := r.TypeOf(mod)
	if err != nil {
		return "", err
	}
	var d uint64
	switch {
	case t.Kind == KindModule:
		d = r.ptrField(mod, r.L.ModuleDict)
	default: // an object put in sys.modules: its __dict__, if any
		_, d, _ = r.Attributes(mod, t, 0)
	}
	if d == 0 {
		return "", nil
	}
	f, ok := r.DictLookupStr(d, "__file__")
	if !ok {
		return "", nil
	}
	ft, err := r.TypeOf(f)
	if err != nil || ft.Kind != KindStr {
		return "", nil // None for namespace packages
	}
	return r.StrValue(f)
}

// SysPath reads sys.path of the main interpreter.
func (r *Runtime) SysPath() ([]string, error) {
	interps, err := r.Interpreters()
	if len(interps) == 0 {
		return nil, fmt.Errorf("no interpreter found: %v", err)
	}
	p, ok := r.DictLookupStr(interps[0].Sysdict, "path")
	if !ok {
		return nil, errors.New("sys.path is not in the sys module's dict")
	}
	t, err := r.TypeOf(p)
	if err != nil {
		return nil, fmt.Errorf("sys.path: %w", err)
	}
	if t.Kind != KindList {
		return nil, fmt.Errorf("sys.path is a %s, not a list", t.ShortName())
	}
	items, _, err := r.SeqItems(p, KindList, 1<<16)
	if err != nil {
		return nil, fmt.Errorf("sys.path: %w", err)
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, err := r.StrValue(it)
		if err != nil {
			return out, fmt.Errorf("sys.path[%d]: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// TypeModule is the module a type belongs to: __module__ from a heap
// type's dict, else the part of tp_name before its last dot, else
// "builtins" (what type.__module__ says). It reads the type's dict: cache
// it per type when asking for many.
func (r *Runtime) TypeModule(t *Type) string {
	m := "builtins"
	if i := strings.LastIndexByte(t.Name, '.'); i >= 0 {
		m = t.Name[:i]
	}
	if t.Heap(r) {
		if d := r.ptrField(t.Addr, r.L.TypeDict); d != 0 {
			if v, ok := r.DictLookupStr(d, "__module__"); ok {
				if s, err := r.StrValue(v); err == nil {
					m = s
				}
			}
		}
	}
	return m
}

// StrLimited decodes at most limit code points of a str; cut reports that
// the str is longer.
func (r *Runtime) StrLimited(obj uint64, limit int) (text []rune, cut bool, err error) {
	cps, err := r.strN(obj, int64(limit))
	if err == errTruncated {
		return cps, true, nil
	}
	return cps, false, err
}
