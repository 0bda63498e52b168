package coreread

import (
	"errors"
	"os"
	"runtime/debug"
	"testing"
)

// A core truncated after Open: touching its lost pages is a fault that
// FaultError names, not a crash; any other panic is not mistaken for one.
func TestFaultInTruncatedCore(t *testing.T) {
	mem := make([]byte, 64<<10)
	for i := range mem {
		mem[i] = byte(i)
	}
	path := writeTemp(t, synthCore(t, note(ntPrstatus, prstatus(1, 0)), 0x100000, mem))
	p, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	last := p.InCore(0x100000+uint64(len(mem))-8, 8)
	if len(last) != 8 {
		t.Fatalf("InCore returned %d bytes", len(last))
	}
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	got := func() (r any) {
		defer func() { r = recover() }()
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		sink = last[0]
		return nil
	}()
	if got == nil {
		t.Fatal("reading a page past the new end of the core did not fault")
	}
	err = FaultError(got)
	if !errors.Is(err, ErrCoreChanged) {
		t.Fatalf("FaultError(%v) = %v, want ErrCoreChanged", got, err)
	}
	t.Logf("%v", err)
	if err := FaultError(errors.New("some bug")); err != nil {
		t.Errorf("FaultError of an ordinary panic = %v", err)
	}
}

var sink byte
