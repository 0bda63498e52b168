package reports

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table renders rows under a header (written in lowercase words, shown
// in capitals).
func table(w io.Writer, header []string, rows [][]string) error {
	return textTable(w, header, rows, true)
}

func hexAddr(a uint64) string { return fmt.Sprintf("0x%x", a) }
