package reports

import (
	"fmt"
	"io"

	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap"
)

// ModuleEntry is one entry of sys.modules.
type ModuleEntry struct {
	Name    string  `json:"name"`
	Address string  `json:"address"`
	File    *string `json:"file"`
	// Interpreter is the id of the interpreter whose sys.modules holds
	// it: 0 for the main interpreter.
	Interpreter int64 `json:"interpreter"`
	// LazyGlobals are the module's globals still bound to 3.15 lazy-import
	// placeholders (not imported yet), in dict order; omitted when none.
	LazyGlobals []LazyGlobal `json:"lazy_globals,omitempty"`
	Error       string       `json:"error,omitempty"`
}

// LazyGlobal is a module global that a lazy import has not resolved yet.
type LazyGlobal struct {
	Name    string `json:"name"`
	Imports string `json:"imports"` // what it will import, as its repr says
	Address string `json:"address"` // the placeholder
}

// BuildModules lists sys.modules sorted by name.
func BuildModules(rt *pyheap.Runtime) (Modules, error) {
	mods, err := rt.Modules()
	if err != nil && len(mods) == 0 {
		return nil, err
	}
	out := make([]ModuleEntry, 0, len(mods))
	for _, m := range mods {
		e := ModuleEntry{Name: m.Name, Address: hexAddr(m.Addr), Interpreter: m.Interp}
		if m.File != "" {
			f := m.File
			e.File = &f
		}
		if m.Err != nil {
			e.Error = m.Err.Error()
		}
		lazy, lerr := rt.LazyGlobals(m.Addr)
		for _, g := range lazy {
			e.LazyGlobals = append(e.LazyGlobals, LazyGlobal{Name: g.Name, Imports: g.Imports, Address: hexAddr(g.Addr)})
		}
		if lerr != nil && e.Error == "" {
			e.Error = "lazy globals: " + lerr.Error()
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Interpreter < out[j].Interpreter
	})
	return out, err
}

// WriteText prints sys.modules as a table; with subinterpreters, a
// column says whose sys.modules each entry is in.
func (mods Modules) WriteText(w io.Writer) error {
	multi := false
	for _, m := range mods {
		multi = multi || m.Interpreter != 0
	}
	rows := make([][]string, 0, len(mods))
	for _, m := range mods {
		f := "(no __file__)"
		if m.File != nil {
			f = *m.File
		}
		row := []string{m.Name, m.Address, f}
		if multi {
			row = append(row, strconv.FormatInt(m.Interpreter, 10))
		}
		rows = append(rows, row)
	}
	header := []string{"module", "address", "__file__"}
	if multi {
		header = append(header, "interpreter")
	}
	if err := table(w, header, rows); err != nil {
		return err
	}
	for _, m := range mods {
		if len(m.LazyGlobals) == 0 {
			continue
		}
		parts := make([]string, 0, len(m.LazyGlobals))
		for _, g := range m.LazyGlobals {
			parts = append(parts, fmt.Sprintf("%s (lazy import of '%s')", g.Name, g.Imports))
		}
		where := m.Name
		if multi {
			where += " (" + pyheap.InterpLabel(m.Interpreter) + ")"
		}
		if _, err := fmt.Fprintf(w, "%s: not imported yet: %s\n", where, strings.Join(parts, ", ")); err != nil {
			return err
		}
	}
	return nil
}

// DuplicateModule is one file loaded as more than one module object.
type DuplicateModule struct {
	File      string   `json:"file"`
	Names     []string `json:"names"`
	Addresses []string `json:"addresses"`
	// SysPathEntries are the sys.path entries that make the file
	// importable under those names: the entry each name resolves from, or
	// else every entry holding the file that overlaps another.
	SysPathEntries []string `json:"sys_path_entries"`
	// ImportedFrom pairs with Names: the sys.path entry (as written there)
	// each name resolves from, the first in sys.path order; "" when none
	// does (the name came from elsewhere: a path hook, a zip, a loader).
	ImportedFrom []string `json:"imported_from"`
}

// BuildDuplicates finds files loaded as more than one module (the
// double-import bug) and the sys.path entries behind it.
func BuildDuplicates(rt *pyheap.Runtime, hp HostPaths) (Duplicates, error) {
	mods, err := rt.Modules()
	if err != nil && len(mods) == 0 {
		return nil, err
	}
	sysPath, _ := rt.SysPath() // without it, duplicates are still worth listing
	return findDuplicates(mods, sysPath, hp.Canon), nil
}

// findDuplicates groups modules by their file's canonical path; a group
// with two or more distinct module objects is a double import (one object
// under two names, as os.path and posixpath, is not).
func findDuplicates(mods []pyheap.Module, sysPath []string, canon func(string) string) []DuplicateModule {
	type group struct {
		file  string
		mods  []pyheap.Module
		addrs map[uint64]bool
	}
	byFile := map[string]*group{}
	var order []string
	for _, m := range mods {
		if m.File == "" {
			continue
		}
		c := canon(m.File)
		key := strconv.FormatInt(m.Interp, 10) + "\x00" + c // each interpreter imports its own
		g, ok := byFile[key]
		if !ok {
			g = &group{file: c, addrs: map[uint64]bool{}}
			byFile[key] = g
			order = append(order, key)
		}
		g.mods = append(g.mods, m)
		g.addrs[m.Addr] = true
	}
	entries := make([]string, len(sysPath))
	for i, p := range sysPath {
		entries[i] = canon(p)
	}
	out := []DuplicateModule{}
	for _, key := range order {
		g := byFile[key]
		if len(g.addrs) < 2 {
			continue
		}
		d := DuplicateModule{File: g.file, SysPathEntries: []string{}}
		for _, m := range g.mods {
			d.Names = append(d.Names, m.Name)
			d.Addresses = append(d.Addresses, hexAddr(m.Addr))
		}
		d.SysPathEntries = blameEntries(g.file, d.Names, sysPath, entries)
		d.ImportedFrom = importedFrom(g.file, d.Names, sysPath, entries)
		out = append(out, d)
	}
	return out
}

// blameEntries names the sys.path entries behind a double import, in
// sys.path order: those a module name resolves from (entry/pkg/sub/mod.py
// for pkg.sub.mod) when that explains two names or more, else the entries
// that hold the file and lie inside or around another such entry.
func blameEntries(file string, names, raw, canon []string) []string {
	var byName, holding []int
	for i, e := range canon {
		if !pathInside(file, e) {
			continue
		}
		holding = append(holding, i)
		rel, err := filepath.Rel(e, file)
		if err != nil {
			continue
		}
		mod := moduleNameOf(rel)
		for _, n := range names {
			if n == mod {
				byName = append(byName, i)
				break
			}
		}
	}
	pick := dedupeEntries(byName, canon)
	if len(pick) < 2 {
		var nested []int
		for _, i := range holding {
			for _, j := range holding {
				if pathInside(canon[i], canon[j]) || pathInside(canon[j], canon[i]) {
					nested = append(nested, i)
					break
				}
			}
		}
		if len(nested) >= 2 {
			pick = dedupeEntries(nested, canon)
		}
	}
	out := make([]string, 0, len(pick))
	for _, i := range pick {
		out = append(out, raw[i])
	}
	return out
}

// importedFrom finds, for each module name, the first sys.path entry the
// file resolves from under that name (entry + pkg/sub/mod.py for
// pkg.sub.mod).
func importedFrom(file string, names, raw, canon []string) []string {
	out := make([]string, len(names))
	for k, n := range names {
		for i, e := range canon {
			if !pathInside(file, e) {
				continue
			}
			if rel, err := filepath.Rel(e, file); err == nil && moduleNameOf(rel) == n {
				out[k] = raw[i]
				break
			}
		}
	}
	return out
}

// dedupeEntries keeps the first of entries that name one directory.
func dedupeEntries(idx []int, canon []string) []int {
	seen := map[string]bool{}
	var out []int
	for _, i := range idx {
		if !seen[canon[i]] {
			seen[canon[i]] = true
			out = append(out, i)
		}
	}
	return out
}

// moduleNameOf is the dotted module name of a file relative to a sys.path
// entry: pkg/sub/mod.py → pkg.sub.mod, pkg/__init__.py → pkg,
// ext.cpython-311-x86_64-linux-gnu.so → ext.
func moduleNameOf(rel string) string {
	dir, base := filepath.Split(filepath.ToSlash(rel))
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	parts := strings.Split(strings.Trim(dir, "/"), "/")
	if dir == "" {
		parts = nil
	}
	if base != "__init__" {
		parts = append(parts, base)
	}
	return strings.Join(parts, ".")
}

// WriteText prints each doubly-imported file.
func (dups Duplicates) WriteText(w io.Writer) error {
	if len(dups) == 0 {
		_, err := io.WriteString(w, "no file is loaded as more than one module\n")
		return err
	}
	// One row per module object, each with the entry it came from: names
	// and entries side by side in two lists would pair the wrong ones.
	var rows [][]string
	var overlapping []string
	for _, d := range dups {
		for i, n := range d.Names {
			file, from := "", "(no sys.path entry resolves this name)"
			if i == 0 {
				file = d.File
			}
			if i < len(d.ImportedFrom) && d.ImportedFrom[i] != "" {
				from = d.ImportedFrom[i]
			}
			rows = append(rows, []string{file, n, d.Addresses[i], from})
		}
		if !anyNonEmpty(d.ImportedFrom) && len(d.SysPathEntries) > 0 {
			overlapping = append(overlapping, d.File+": overlapping sys.path entries "+strings.Join(d.SysPathEntries, ", "))
		}
	}
	// The header as written: "sys.path" stays in lowercase.
	if err := textTable(w, []string{"FILE", "LOADED AS", "MODULE OBJECT", "IMPORTED FROM sys.path ENTRY"}, rows, false); err != nil {
		return err
	}
	for _, o := range overlapping {
		if _, err := io.WriteString(w, o+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func anyNonEmpty(ss []string) bool {
	for _, s := range ss {
		if s != "" {
			return true
		}
	}
	return false
}
