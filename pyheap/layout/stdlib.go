package layout

import (
	"debug/dwarf"
	"fmt"
	"sort"
	"strings"
)

// The standard library's C types (deque, OrderedDict, partial, the
// lru_cache wrapper, itertools, _io, _asyncio, ...) keep their structs
// private to their modules. Their layouts come from the DWARF of the pyenv
// builds (libpython for built-in modules, lib-dynload/*.so for the
// others), one table per minor version, written by ./gen into
// stdlib_gen.go; and, for distributions' stripped builds (Debian sid's),
// from the separate DWARF of that very build (python3.X-dbg's
// usr/lib/debug/.build-id), one table per exact version, in
// stdlib_release_gen.go. Which structs, and which of their members a
// walker needs by name, is said by StdSpecs; every number comes from
// DWARF.

// StdMember is one member of a C struct.
type StdMember struct {
	Name   string
	Offset Offset
}

// StdType is the layout of one C struct that instances of some standard
// library types have.
type StdType struct {
	Struct  string // the C struct (or typedef) name
	Module  string // the file it was read from: "" for libpython, else the extension module
	Special string // the walker that reads what lies outside the struct, "" for none
	Size    int64  // sizeof the struct
	// Refs are the members that point to objects, in struct order: what
	// tp_traverse visits, plus the few strong references it leaves out
	// (a str key, a bytes buffer). Weak-reference lists are left out.
	Refs []StdMember
	// Tagged are object pointers that carry a flag in bit 0
	// (ElementTree's text and tail).
	Tagged []StdMember
	// Off holds the offsets and sizes named by the spec's Fields and
	// Sizes: "leftblock", "root.next", "ElementObjectExtra:length",
	// "size:BLOCK", and "len:FIELD" when FIELD is an array.
	Off map[string]int64
}

// Offset returns a named member offset, Missing when the version lacks it.
func (s *StdType) Offset(name string) Offset {
	if v, ok := s.Off[name]; ok {
		return Offset(v)
	}
	return Missing
}

// Value returns a named size ("size:BLOCK") or element count
// ("len:values"), Missing when the version lacks it.
func (s *StdType) Value(name string) int64 {
	if v, ok := s.Off[name]; ok {
		return v
	}
	return Missing
}

// StdSpec says which C struct instances of some types have, and what the
// walkers need of it.
type StdSpec struct {
	Names   []string // tp_name in every version ("collections.deque", "Context", "_contextvars.Context")
	Struct  string   // C struct tag or typedef; alternatives separated by '|'
	Module  string   // extension module file stem ("_asyncio"); "" when built into libpython
	Special string
	Skip    []string // object pointers that are borrowed or not references
	Tagged  []string // object pointers with a flag in bit 0
	Fields  []string // member paths ("root.next") or "STRUCT:path" of another struct
	Sizes   []string // other structs whose size the walker needs
	Extra   []string // object pointers nested in embedded structs ("master.obj")
}

// StdTypes returns the standard-library layouts of a minor version, by
// tp_name; nil when there is no table.
func StdTypes(minor string) map[string]*StdType {
	return byName(built(stdTables[minor]))
}

// StdTypesFor returns the standard-library layouts of a build, by tp_name:
// those of its exact release ("3.14.10") or of the newest release of its
// minor not newer than it that has a table of its own (a distribution's
// build), else its minor's (the pyenv builds'), else, for a minor with
// release tables only and version not telling the patch level, the oldest
// release's. nil when there is none. Walkers check every struct's size
// against the type's tp_basicsize before use, so a build whose module
// differs is scanned conservatively rather than misread.
func StdTypesFor(version string) map[string]*StdType {
	key := nearestKey(version, stdReleaseTables)
	if key != "" && !lessVersion(splitVersion(version), splitVersion(key)) {
		return byName(built(stdReleaseTables[key]))
	}
	minor := version
	if v := splitVersion(version); len(v) >= 2 {
		minor = fmt.Sprintf("%d.%d", v[0], v[1])
	}
	if t, ok := stdTables[minor]; ok {
		return byName(t())
	}
	if key != "" {
		return byName(built(stdReleaseTables[key]))
	}
	return nil
}

// StdReleases lists the exact releases with a standard-library table of
// their own.
func StdReleases() []string {
	out := make([]string, 0, len(stdReleaseTables))
	for v := range stdReleaseTables {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return lessVersion(splitVersion(out[i]), splitVersion(out[j])) })
	return out
}

// built is a generated table, built on first use (Go builds map literals
// at init: the tables of every version cost each process milliseconds,
// though a process reads one version), or nil when there is none.
func built(table func() map[string]*StdType) map[string]*StdType {
	if table == nil {
		return nil
	}
	return table()
}

func byName(byStruct map[string]*StdType) map[string]*StdType {
	if byStruct == nil {
		return nil
	}
	out := map[string]*StdType{}
	for _, sp := range StdSpecs {
		st, ok := byStruct[sp.Struct]
		if !ok {
			continue
		}
		for _, n := range sp.Names {
			out[n] = st
		}
	}
	return out
}

// StdVersions lists the minor versions with a standard-library table.
func StdVersions() []string {
	out := make([]string, 0, len(stdTables))
	for v := range stdTables {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return minorNumber(out[i]) < minorNumber(out[j]) })
	return out
}

// StdIndex answers questions about C structs from one file's DWARF.
type StdIndex struct{ ix *dwarfIndex }

// NewStdIndex indexes the named types of d.
func NewStdIndex(d *dwarf.Data) (*StdIndex, error) {
	ix, err := newDWARFIndex(d)
	if err != nil {
		return nil, err
	}
	return &StdIndex{ix}, nil
}

// ErrNoStruct is returned when a file's DWARF does not define a struct.
var ErrNoStruct = errMissing

// Describe reads spec's struct from DWARF. The struct name used is the
// first alternative found.
func (x *StdIndex) Describe(sp StdSpec) (*StdType, error) {
	var t dwarf.Type
	var name string
	for _, alt := range strings.Split(sp.Struct, "|") {
		tt, err := x.ix.typeNamed(alt)
		if err == nil {
			if st, ok := underlying(tt).(*dwarf.StructType); ok && !st.Incomplete {
				t, name = tt, alt
				break
			}
		}
	}
	if t == nil {
		return nil, ErrNoStruct
	}
	st := underlying(t).(*dwarf.StructType)
	out := &StdType{Struct: sp.Struct, Module: sp.Module, Special: sp.Special, Size: t.Size(), Off: map[string]int64{}}
	skip := map[string]bool{}
	for _, s := range sp.Skip {
		skip[s] = true
	}
	tagged := map[string]bool{}
	for _, s := range sp.Tagged {
		tagged[s] = true
	}
	for _, f := range st.Field {
		if f.Name == "" || skip[f.Name] || strings.HasSuffix(f.Name, "weakreflist") || !pointsToObject(f.Type) {
			continue
		}
		m := StdMember{Name: f.Name, Offset: Offset(f.ByteOffset)}
		if tagged[f.Name] {
			out.Tagged = append(out.Tagged, m)
		} else {
			out.Refs = append(out.Refs, m)
		}
	}
	for _, path := range sp.Extra {
		off, f, err := member(t, strings.Split(path, "."))
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, path, err)
		}
		if !pointsToObject(f.Type) {
			return nil, fmt.Errorf("%s.%s does not point to an object", name, path)
		}
		out.Refs = append(out.Refs, StdMember{Name: path, Offset: Offset(off)})
	}
	for _, fl := range sp.Fields {
		base, path := t, fl
		if s, p, ok := strings.Cut(fl, ":"); ok {
			bt, err := x.ix.typeNamed(s)
			if err != nil {
				return nil, fmt.Errorf("%s: struct %s: %w", name, s, err)
			}
			base, path = bt, p
		}
		off, f, err := member(base, strings.Split(path, "."))
		if err == errMissing {
			continue // not in this version: Offset says Missing
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", name, fl, err)
		}
		out.Off[fl] = off
		if a, ok := underlying(f.Type).(*dwarf.ArrayType); ok {
			out.Off["len:"+fl] = a.Count // element count as declared
		}
	}
	for _, s := range sp.Sizes {
		bt, err := x.ix.typeNamed(s)
		if err != nil {
			return nil, fmt.Errorf("%s: size of %s: %w", name, s, err)
		}
		out.Off["size:"+s] = bt.Size()
	}
	return out, nil
}

// pointsToObject reports whether t is a pointer to a Python object: to
// PyObject itself, or to a struct whose first member is (recursively) one.
func pointsToObject(t dwarf.Type) bool {
	p, ok := underlying(t).(*dwarf.PtrType)
	if !ok {
		return false
	}
	return isObjectStruct(p.Type, 0)
}

func isObjectStruct(t dwarf.Type, depth int) bool {
	st, ok := underlying(t).(*dwarf.StructType)
	if !ok || depth > 8 {
		return false
	}
	if st.StructName == "_object" {
		return true
	}
	if st.Incomplete || len(st.Field) == 0 || st.Field[0].ByteOffset != 0 {
		return false
	}
	return isObjectStruct(st.Field[0].Type, depth+1)
}
