package layout

import (
	"fmt"
	"strings"
	"testing"
)

// The containers issue 9 names must be in every version's table, with
// every member inside its struct.
func TestStdTablesComplete(t *testing.T) {
	must := []string{"collections.deque", "collections.OrderedDict", "collections.defaultdict", "functools.partial",
		"functools._lru_cache_wrapper", "hamt_bitmap_node", "hamt_array_node", "hamt_collision_node",
		"xml.etree.ElementTree.Element", "_asyncio.Future", "_asyncio.Task", "_thread._local", "array.array",
		"re.Pattern", "re.Match", "sqlite3.Connection", "sqlite3.Cursor", "_io.TextIOWrapper", "mappingproxy"}
	for _, v := range append([]string{"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}, StdReleases()...) {
		tabs := StdTypesFor(v)
		if tabs == nil {
			t.Fatalf("no standard-library table for %s", v)
		}
		for _, name := range must {
			if tabs[name] == nil {
				t.Errorf("%s: no layout for %s", v, name)
			}
		}
		for name, st := range tabs {
			// an object starts with its header; a module's C state
			// ("module NAME") does not
			low := Offset(16)
			if strings.HasPrefix(name, "module ") {
				low = 0
			}
			for _, m := range append(append([]StdMember(nil), st.Refs...), st.Tagged...) {
				if m.Offset < low || int64(m.Offset)+8 > st.Size {
					t.Errorf("%s %s: member %s at %d outside the %d-byte struct", v, name, m.Name, m.Offset, st.Size)
				}
			}
		}
	}
}

// A build is read with its own release's table, the newest release's not
// newer than it, or its minor's. Cases come from the committed tables, so
// regenerating them when the distribution moves keeps the test true.
func TestStdTypesFor(t *testing.T) {
	rels := StdReleases()
	if len(rels) == 0 {
		t.Fatal("no release tables")
	}
	same := func(a, b map[string]*StdType) bool {
		return a != nil && b != nil && a["collections.deque"] == b["collections.deque"]
	}
	check := func(version string, want map[string]*StdType, what string) {
		t.Helper()
		if got := StdTypesFor(version); !same(got, want) {
			t.Errorf("StdTypesFor(%q) is not the %s table", version, what)
		}
	}
	oldest := map[string]string{}
	for _, rel := range rels {
		own := byName(built(stdReleaseTables[rel]))
		check(rel, own, rel)
		v := splitVersion(rel)
		check(fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]+1), own, rel) // a newer patch release
		minor := fmt.Sprintf("%d.%d", v[0], v[1])
		if _, ok := oldest[minor]; !ok {
			oldest[minor] = rel
		}
		if v[2] > 0 {
			older := fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]-1)
			if stdTables[minor] != nil {
				check(older, StdTypes(minor), minor) // pyenv's 3.13.0 against sid's 3.13.18
			}
		}
	}
	for minor, rel := range oldest {
		if stdTables[minor] != nil {
			check(minor, StdTypes(minor), minor) // the patch level unknown
		} else {
			check(minor, byName(built(stdReleaseTables[rel])), rel)
		}
	}
	check("3.11.2", StdTypes("3.11"), "3.11") // Debian bookworm's: no release table of 3.11
	if StdTypesFor("3.7.3") != nil || StdTypesFor("4.0.0") != nil {
		t.Error("a version with no table got one")
	}
}
