package pyheap_test

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

// coreBudget is how long one mutated core may take through stacks and
// histogram (the CLI's promise is 10 s on any core; these are small).
const coreBudget = 5 * time.Second

// FuzzCore mutates whole real cores (ELF headers, notes, and the words of
// memory that stacks and the census read) and runs them through what
// `stacks --locals` and `histogram` do. Nothing may panic, every error is
// one line, and a core takes at most coreBudget.
func FuzzCore(f *testing.F) {
	bases := newFuzzBases(f, true)
	for _, i := range seeded() {
		for _, s := range bases.get(f, uint8(i)).seedPatches() {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		b := bases.get(t, which)
		undo := b.apply(b.decodePatches(data))
		defer undo()
		path, closeCore := memCore(t, b.raw)
		defer closeCore()
		withBudget(t, coreBudget, b.name, func() error { return runCore(path, b.opts) })
	})
}

// memCore puts a core in an in-memory file and returns a path to it.
func memCore(t *testing.T, raw []byte) (string, func()) {
	t.Helper()
	fd, err := unix.MemfdCreate("fuzzcore", 0)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	f := os.NewFile(uintptr(fd), "fuzzcore")
	if _, err := f.Write(raw); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { f.Close() }
}

// runCore does what `stacks --locals` and `histogram` do with a core and
// returns the first thing a user should never see.
func runCore(path string, opts coreread.Options) error {
	p, err := coreread.Open(path, opts)
	if err != nil {
		return userError("open", err)
	}
	defer p.Close()
	rt, err := pyheap.Open(p, pyheap.Options{})
	if err != nil {
		return userError("runtime", err)
	}
	st, err := reports.BuildStacks(rt, reports.StacksOptions{Locals: true})
	if err := userError("stacks", err); err != nil {
		return err
	}
	if st != nil {
		st.Warnings = append(p.Warnings(), st.Warnings...)
		if err := st.WriteText(io.Discard); err != nil {
			return fmt.Errorf("stacks text: %w", err)
		}
		if err := reports.WriteJSON(io.Discard, st); err != nil {
			return fmt.Errorf("stacks JSON: %w", err)
		}
	}
	// make fuzz runs this a second time with PYCORONER_CENSUS_WORKERS=3,
	// as the CLI would take it (cmd/pycoroner reads the environment, not
	// pyheap).
	var hopts pyheap.HeapOptions
	if n, err := strconv.Atoi(os.Getenv("PYCORONER_CENSUS_WORKERS")); err == nil && n > 0 {
		hopts.Workers = n
	}
	h, err := rt.BuildHeap(hopts)
	if err != nil {
		return userError("census", err)
	}
	hg := reports.BuildHistogram(h, "type", 20)
	if err := hg.WriteText(io.Discard); err != nil {
		return fmt.Errorf("histogram text: %w", err)
	}
	if err := reports.WriteJSON(io.Discard, hg); err != nil {
		return fmt.Errorf("histogram JSON: %w", err)
	}
	return nil
}
