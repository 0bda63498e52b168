package layout

import (
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
	for _, v := range []string{"3.8", "3.9", "3.10", "3.11", "3.12", "3.13"} {
		tabs := StdTypes(v)
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
