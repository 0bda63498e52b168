package main

import (
	"fmt"
	"reflect"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// layoutDiff lists the fields (and _Py_DebugOffsets members) in which two
// layouts differ, as "Field: a -> b".
func layoutDiff(a, b *layout.Layout) []string {
	var out []string
	ra, rb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := 0; i < ra.NumField(); i++ {
		f := ra.Type().Field(i)
		if f.Tag.Get("py") == "" {
			continue
		}
		if x, y := ra.Field(i).Int(), rb.Field(i).Int(); x != y {
			out = append(out, fmt.Sprintf("%s: %d -> %d", f.Name, x, y))
		}
	}
	for _, k := range sortedKeys(a.Debug) {
		if y, ok := b.Debug[k]; !ok || y != a.Debug[k] {
			out = append(out, fmt.Sprintf("debug %s: %d -> %v", k, a.Debug[k], y))
		}
	}
	return out
}
