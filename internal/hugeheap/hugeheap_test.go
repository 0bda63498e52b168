package hugeheap

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// thpAvailable: the kernel offers transparent huge pages on advice.
func thpAvailable() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && !strings.Contains(string(b), "[never]")
}

// vmaFlags returns the VmFlags of the mapping holding addr, from smaps.
func vmaFlags(t *testing.T, addr uintptr) []string {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmtSscan(line, &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Fields(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	t.Fatalf("no mapping holds 0x%x", addr)
	return nil
}

// The first chunk of the heap is advised at init, and a chunk the heap
// grew into later once Advise has run.
func TestHeapAdvised(t *testing.T) {
	if runtime.GOOS != "linux" || !thpAvailable() {
		t.Skip("no transparent huge pages here")
	}
	if contains(os.Getenv("GODEBUG"), "disablethp=1") {
		if base != 0 {
			t.Fatal("GODEBUG=disablethp=1, yet the heap was advised")
		}
		t.Skip("GODEBUG=disablethp=1")
	}
	if base == 0 {
		t.Fatal("the first heap chunk was not advised")
	}
	if !contains(strings.Join(vmaFlags(t, base), " "), "hg") {
		t.Fatalf("first heap chunk at 0x%x lacks the hg flag: %v", base, vmaFlags(t, base))
	}
	grown := make([]byte, 16<<20) // more than the first chunk holds: the heap grows
	p := uintptr(unsafe.Pointer(&grown[len(grown)-1]))
	Advise()
	if !contains(strings.Join(vmaFlags(t, p), " "), "hg") {
		t.Fatalf("heap grown to 0x%x (first chunk 0x%x) lacks the hg flag after Advise: %v", p, base, vmaFlags(t, p))
	}
	runtime.KeepAlive(grown)
}

func TestContains(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   bool
	}{{"", "x", false}, {"disablethp=1", "disablethp=1", true}, {"gctrace=1,disablethp=1", "disablethp=1", true}, {"disablethp=0", "disablethp=1", false}} {
		if got := contains(c.s, c.sub); got != c.want {
			t.Errorf("contains(%q, %q) = %v", c.s, c.sub, got)
		}
	}
}

func fmtSscan(line string, lo, hi *uintptr) (int, error) { return fmt.Sscanf(line, "%x-%x ", lo, hi) }
