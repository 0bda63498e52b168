package reports

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// tablewriterTable is how the tables were drawn before textTable: the
// text output must not change.
func tablewriterTable(header []string, rows [][]string, auto bool) string {
	var b bytes.Buffer
	t := tablewriter.NewTable(&b, tablewriter.WithHeaderAutoFormat(map[bool]tw.State{true: tw.On, false: tw.Off}[auto]))
	h := make([]any, len(header))
	for i, v := range header {
		h[i] = v
	}
	t.Header(h...)
	t.Bulk(rows)
	t.Render()
	return b.String()
}

// TestTextTableAsTablewriter: the headers the reports use and cells of
// every kind (wide and combining characters, several lines, tabs,
// surrounding space, empty) are drawn as tablewriter drew them.
func TestTextTableAsTablewriter(t *testing.T) {
	t.Setenv("TABWIDTH", "8") // tablewriter's guess, before its first use
	headers := [][]string{
		{"type", "module", "old", "new", "delta", "size delta"},
		{"last used", "size", "kind", "built from"},
		{"field", "value"},
		{"file", "status", "build id"},
		{"kind", "referrer", "via"},
		{"dominated child", "type", "retained", "objects"},
		{"#", "entry", "notes"},
		{"type", "module", "count", "shallow", "retained", "counted"},
		{"retained", "share", "shallow", "type", "path from a root"},
		{"type", "module", "count", "size"},
		{"module", "types", "count", "size"},
		{"module", "address", "__file__", "interpreter"},
		{"sys.path", "a_b", "fooBar", "HTTPServer", "v1.2", "x. y", "_", " ", "", "é", "ÉCOLE"},
	}
	pieces := []string{"a", "str", "builtins", "0x7f3ad78a9e50", "<BigUser at 0x7f5366eb0c50>", "attribute email",
		"é", "中文", "e\u0301", "🙂", " ", "  lead", "trail  ", "\t", "x\ty", "line\nline two", "\n", "", "1234567", "[3/5] 'x'", "─"}
	rng := rand.New(rand.NewSource(1))
	cell := func() string {
		var b strings.Builder
		for n := rng.Intn(4); n > 0; n-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		return b.String()
	}
	for i := 0; i < 2000; i++ {
		header := headers[i%len(headers)]
		rows := make([][]string, rng.Intn(5))
		for r := range rows {
			rows[r] = make([]string, len(header))
			for c := range rows[r] {
				rows[r][c] = cell()
			}
		}
		var got bytes.Buffer
		if err := table(&got, header, rows); err != nil {
			t.Fatal(err)
		}
		if want := tablewriterTable(header, rows, true); got.String() != want {
			t.Fatalf("header %q rows %q:\ngot\n%s\nwant\n%s", header, rows, got.String(), want)
		}
	}
	modules := []string{"FILE", "LOADED AS", "MODULE OBJECT", "IMPORTED FROM sys.path ENTRY"}
	rows := [][]string{{"/usr/lib/python3.12/json/__init__.py", "json", "0x7f00", "/usr/lib/python3.12"}, {"x", "", "", ""}}
	var got bytes.Buffer
	if err := textTable(&got, modules, rows, false); err != nil {
		t.Fatal(err)
	}
	if want := tablewriterTable(modules, rows, false); got.String() != want {
		t.Fatalf("modules table:\ngot\n%s\nwant\n%s", got.String(), want)
	}
}
