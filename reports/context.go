package reports

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap"
)

// maxArgv bounds the sys.argv items read from an untrusted heap.
const maxArgv = 4096

// SysArgv reads sys.argv from the heap: gcore records no arguments, and
// the kernel's NT_PRPSINFO keeps only the first 80 bytes of them.
func SysArgv(rt *pyheap.Runtime) ([]string, error) {
	addr, err := rt.Resolve("sys:argv")
	if err != nil {
		return nil, fmt.Errorf("sys.argv: %w", err)
	}
	t, err := rt.TypeOf(addr)
	if err != nil {
		return nil, fmt.Errorf("sys.argv: %w", err)
	}
	if t.Kind != pyheap.KindList && t.Kind != pyheap.KindTuple {
		return nil, fmt.Errorf("sys.argv is a %s, not a list", t.Name)
	}
	items, n, err := rt.SeqItems(addr, t.Kind, maxArgv)
	if err != nil {
		return nil, fmt.Errorf("sys.argv: %w", err)
	}
	out := []string{}
	for i, it := range items {
		s, err := rt.StrValue(it)
		if err != nil {
			return out, fmt.Errorf("sys.argv[%d]: %w", i, err)
		}
		out = append(out, s)
	}
	if n > int64(len(items)) {
		return out, fmt.Errorf("sys.argv has %d items; the first %d are shown", n, len(items))
	}
	return out, nil
}

// atExecfn is the auxiliary-vector tag of the executable's file name,
// which the kernel puts at the very top of the initial stack, just above
// the environment strings.
const atExecfn = 31

// maxEnvBytes bounds how far below AT_EXECFN the environment is searched.
const maxEnvBytes = 1 << 20

// StartupPWD returns the PWD environment variable the process was started
// with, read from the environment strings on its initial stack. The
// working directory itself is in no core (os.getcwd() asks the kernel);
// PWD is what the starting shell set, and a later chdir does not change it.
func StartupPWD(p *coreread.Process) (string, bool) {
	top, ok := p.Auxv(atExecfn)
	if !ok || top == 0 {
		return "", false
	}
	// Read back from AT_EXECFN page by page while memory lasts.
	var pages [][]byte
	end := top
	for start := top &^ 4095; top-start <= maxEnvBytes && start > 0; start -= 4096 {
		b, err := p.Read(start, int(end-start))
		if err != nil {
			break
		}
		pages = append(pages, b)
		end = start
	}
	var area []byte
	for i := len(pages) - 1; i >= 0; i-- {
		area = append(area, pages[i]...)
	}
	// Walk the strings back from AT_EXECFN: the environment, then the
	// arguments, until something that is not text (the auxiliary vector,
	// AT_RANDOM's bytes). The first PWD in the environment wins, as
	// getenv would answer: the lowest address.
	// (String by string from the end: splitting the whole megabyte of
	// stack first cost info a third of its time.)
	pwd, found := "", false
	to := len(area)
	for tail := true; ; tail = false {
		nul := bytes.LastIndexByte(area[:to], 0) // -1: the first string
		s := area[nul+1 : to]
		if len(s) == 0 || !printable(s) {
			if !tail { // the empty tail after the last NUL is fine
				break
			}
		} else if v, ok := strings.CutPrefix(string(s), "PWD="); ok && strings.HasPrefix(v, "/") {
			pwd, found = v, true
		}
		if nul < 0 {
			break
		}
		to = nul
	}
	return pwd, found
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
