package coreread

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

// The raw symbol lookup answers what debug/elf's tables answer: for every
// name in a real file's tables, the first defined entry of .dynsym then
// .symtab.
func TestRawSymbolLookupMatchesDebugELF(t *testing.T) {
	home, _ := os.UserHomeDir()
	files, _ := filepath.Glob(filepath.Join(home, ".pyenv/versions/*/lib/libpython3.*.so.1.0"))
	files = append(files, "/usr/bin/python3.11")
	if exe, err := os.Executable(); err == nil {
		files = append(files, exe)
	}
	tested := 0
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		defer f.Close()
		ef, err := elf.NewFile(f)
		if err != nil || ef.Class != elf.ELFCLASS64 {
			continue
		}
		mf := &mappedFile{f: f, ef: ef}
		tables, ok := mf.rawSymbols()
		if !ok {
			t.Fatalf("%s: no raw tables", path)
		}
		dyn, _ := ef.DynamicSymbols()
		all, _ := ef.Symbols()
		syms := append(dyn, all...)
		want := map[string]elf.Symbol{}
		names := map[string]bool{}
		for _, s := range syms {
			names[s.Name] = true
			if _, seen := want[s.Name]; !seen && s.Section != elf.SHN_UNDEF && s.Value != 0 {
				want[s.Name] = s
			}
		}
		for name := range names {
			if name == "" {
				continue
			}
			var got elf.Symbol
			found := false
			for i := range tables {
				if v, size, ok := tables[i].lookup(name); ok {
					got, found = elf.Symbol{Name: name, Value: v, Size: size}, true
					break
				}
			}
			w, ok := want[name]
			if found != ok || (ok && (got.Value != w.Value || got.Size != w.Size)) {
				t.Errorf("%s: %s: raw %v %+v, debug/elf %v %+v", path, name, found, got, ok, w)
			}
		}
		if len(names) > 10 {
			tested++
		}
	}
	if tested == 0 {
		t.Skip("no ELF64 file with symbols to compare")
	}
}
