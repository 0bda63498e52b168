package faultgroup

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

var sink byte

// A worker's panic, and a fault on a mapping cut short, reach the waiter
// as a panic it can recover; the others' work is done.
func TestPanicsReachWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 1<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := syscall.Mmap(int(f.Fd()), 0, 1<<16, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	for name, work := range map[string]func(){
		"panic": func() { panic("worker") },
		"fault": func() { sink = mem[1<<15] },
	} {
		t.Run(name, func(t *testing.T) {
			done := make([]bool, 3)
			got := func() (r any) {
				defer func() { r = recover() }()
				var g Group
				for i := range done {
					g.Go(func() {
						if i == 1 {
							work()
						}
						done[i] = true
					})
				}
				g.Wait()
				return nil
			}()
			if got == nil || !done[0] || !done[2] || done[1] {
				t.Errorf("recovered %v, work done %v; want a panic from worker 1 and the others done", got, done)
			}
		})
	}
}
