package unwind

import (
	"fmt"
	"os"
	"testing"

	"github.com/pycoroner/pycoroner/coreread"
)

// TestDumpCore prints every thread's native stack of $UNWIND_CORE (a
// manual aid; skipped without it).
func TestDumpCore(t *testing.T) {
	path := os.Getenv("UNWIND_CORE")
	if path == "" {
		t.Skip("UNWIND_CORE not set")
	}
	p, err := coreread.Open(path, coreread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if f, ok := AnalyzeFault(p); ok {
		fmt.Printf("fault: %+v\n", f)
	}
	u := New(p, Options{})
	for _, st := range u.All() {
		fmt.Printf("Thread LWP %d complete=%v %s\n", st.TID, st.Complete, st.Note)
		for i, f := range st.Frames {
			fmt.Printf("#%-2d 0x%016x in %s (%s+0x%x) %s:%d inl=%v %s\n", i, f.PC, f.Function, f.Library, f.Offset, f.File, f.Line, f.Inlined, f.How)
		}
	}
}
