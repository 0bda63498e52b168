package main

import (
	"fmt"
	"strings"
)

// privateStruct is a struct that CPython keeps in a .c file, so a build's
// -dev headers lack it. Its declaration is copied here from CPython's
// source at the release it belongs to; the offsetof probe compiles it with
// the build's own headers (PyObject_HEAD, the pointer types), so its
// numbers still come from the compiler, and pycoroner checks each table
// against the running build (the type's tp_basicsize) before walking.
// The guard keeps it to the releases it was copied from: one whose headers
// declare the struct too fails to compile, loudly.
type privateStruct struct {
	from  string // where the declaration was copied from
	guard string // a preprocessor condition on PY_VERSION_HEX
	decl  string
}

var privateStructs = []privateStruct{{
	// 3.15.2's include/python3.15/internal/pycore_lazyimportobject.h
	// declares PyLazyImport_Type and _PyLazyImport_{New,LoadChild,IsActive,
	// IsResolving,Reify}, the API of this version of the file.
	from:  "CPython 3.15's Objects/lazyimportobject.c (github.com/python/cpython)",
	guard: "PY_VERSION_HEX >= 0x030F0000 && PY_VERSION_HEX < 0x03100000 && defined(PyLazyImport_CheckExact)",
	decl: `typedef struct {
    PyObject_HEAD
    PyObject *lz_builtins;
    PyObject *lz_from;
    PyObject *lz_attr;
    PyCodeObject *lz_code;
    int lz_instr_offset;
    int lz_active;
} PyLazyImportObject;`,
}}

// privatePrelude is the declarations of privateStructs for the probe.
func privatePrelude() string {
	var b strings.Builder
	for _, p := range privateStructs {
		fmt.Fprintf(&b, "/* from %s */\n#if %s\n%s\n#endif\n", p.from, p.guard, p.decl)
	}
	return b.String()
}
