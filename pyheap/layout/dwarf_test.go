package layout

import (
	"debug/elf"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestCommittedTablesMatchDWARF reads every pyenv build's DWARF at run time
// (the path a binary with debug info takes) and checks it gives exactly the
// committed table: the generator and FromDWARF must not drift apart, and
// nobody may edit tables_gen.go by hand. The C-probe constants are not in
// DWARF: they come from the committed table, as FromDWARF's base.
func TestCommittedTablesMatchDWARF(t *testing.T) {
	home, _ := os.UserHomeDir()
	pyenv := filepath.Join(home, ".pyenv", "versions")
	for _, minor := range Versions() {
		t.Run(minor, func(t *testing.T) {
			lib := newestBuild(pyenv, minor)
			if lib == "" {
				if os.Getenv("CI") == "true" {
					t.Fatalf("no pyenv build of CPython %s under %s", minor, pyenv)
				}
				t.Skipf("no pyenv build of CPython %s under %s", minor, pyenv)
			}
			f, err := elf.Open(lib)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			d, err := f.DWARF()
			if err != nil {
				t.Fatalf("DWARF of %s: %v", lib, err)
			}
			committed, err := ForVersion(minor)
			if err != nil {
				t.Fatal(err)
			}
			got, err := FromDWARF(d, committed)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Debug, committed.Debug) {
				t.Errorf("_Py_DebugOffsets positions: DWARF %v, committed %v", got.Debug, committed.Debug)
			}
			want := map[string]int64{}
			EachField(committed, func(name string, _ []string, v *int64) error { want[name] = *v; return nil })
			n := 0
			EachField(got, func(name string, specs []string, v *int64) error {
				n++
				if *v != want[name] {
					t.Errorf("%s (%s): DWARF of %s says %d, tables_gen.go says %d (run make layouts)", name, strings.Join(specs, "|"), lib, *v, want[name])
				}
				return nil
			})
			if n < 100 {
				t.Fatalf("only %d fields compared", n)
			}
		})
	}
}

// newestBuild is the libpython of the newest pyenv patch release of minor,
// or "" (the generator's choice, gen/main.go findBuild).
func newestBuild(pyenv, minor string) string {
	ents, _ := os.ReadDir(pyenv)
	best, bestPatch := "", -1
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), minor+".")
		if !ok {
			continue
		}
		p, err := strconv.Atoi(rest)
		if err != nil {
			continue
		}
		lib := filepath.Join(pyenv, e.Name(), "lib", "libpython"+minor+".so.1.0")
		if _, err := os.Stat(lib); err == nil && p > bestPatch {
			best, bestPatch = lib, p
		}
	}
	return best
}
