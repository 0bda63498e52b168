package pyheap

// The scans for _PyRuntime when no binary names it: the 3.13+ debug
// cookie, then every layout at every aligned word of the interpreter's
// writable memory.

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// debugCookie starts _Py_DebugOffsets, which sits at _PyRuntime+0 in 3.13+.
var debugCookie = []byte("xdebugpy")

func (r *Runtime) scanDebugCookie() []candidate {
	var out []candidate
	for _, s := range r.pythonWritableSegments() {
		data := r.m.img.InCore(s.Vaddr, int(s.Filesz))
		for off := 0; off+16 <= len(data); {
			i := bytes.Index(data[off:], debugCookie)
			if i < 0 {
				break
			}
			at := off + i
			off = at + 8
			if at%8 != 0 {
				continue
			}
			hex := uint64(data[at+8]) | uint64(data[at+9])<<8 | uint64(data[at+10])<<16 | uint64(data[at+11])<<24
			if hex>>24 != 3 {
				continue
			}
			minor := fmt.Sprintf("3.%d", hex>>16&0xff)
			file, _ := r.m.img.FileAt(s.Vaddr + uint64(at))
			out = append(out, candidate{s.Vaddr + uint64(at), []string{minor}, fmt.Sprintf("_Py_DebugOffsets cookie at 0x%x", s.Vaddr+uint64(at)), file, true, hex})
		}
	}
	return out
}

// maxScanHits bounds the candidates a scan offers; Open keeps the one
// whose sys.version agrees with its layout.
const maxScanHits = 16

// scanForRuntime tries every 8-byte aligned address of the interpreter's
// writable data with every known layout. Used when no binary is available.
func (r *Runtime) scanForRuntime() []candidate {
	var out []candidate
	for _, s := range r.pythonWritableSegments() {
		data := r.m.img.InCore(s.Vaddr, int(s.Filesz))
		// Blindly, the minors with a table of their own (3.14+ builds have
		// the debug-offsets cookie, found before any scan, and are tried
		// here only where a file names them: each table tried costs a
		// pass over every writable page).
		minors := layout.Versions()
		named := ""
		f, ok := r.m.img.FileAt(s.Vaddr)
		if !ok {
			// The anonymous .bss right after a file's data is that file's.
			for _, mp := range r.m.img.Mappings() {
				if mp.End == s.Vaddr {
					f, ok = mp.Path, true
				}
			}
		}
		if ok {
			if m := pythonFileVersion.FindStringSubmatch(filepath.Base(f)); m != nil {
				named = m[1] + "." + m[2]
				minors = append([]string{named}, minors...)
			}
		}
		hits := len(out)
		for i, minor := range minors {
			if i > 0 && named != "" && (minor == named || len(out) > hits) {
				// The file names its version and its table found the
				// runtime: other versions' tables need not be tried.
				continue
			}
			L, err := tableFor(minor, 0)
			if err != nil {
				continue
			}
			// Most positions are rejected by surelyNotInterp; of the
			// rest, many name one interpreter (a damaged core's scan met
			// 600,000 positions): what depends on the interpreter alone
			// is judged once.
			judged := map[uint64]bool{}
			for off := 0; off+int(L.RuntimeInterpretersMain)+8 <= len(data); off += 8 {
				addr := s.Vaddr + uint64(off)
				if !r.quickCheck(L, data, off) {
					continue
				}
				head := le64(data[off+int(L.RuntimeInterpretersHead):])
				if r.surelyNotInterp(L, head) {
					continue
				}
				ok, seen := judged[head]
				if !seen {
					ok = r.validateInterp(L, head, true) == nil
					judged[head] = ok
				}
				if ok && r.validate(L, addr, true) == nil {
					file, _ := r.m.img.FileAt(addr)
					out = append(out, candidate{addr, []string{minor}, fmt.Sprintf("scan of writable memory (0x%x)", addr), file, true, 0})
					if len(out) >= maxScanHits {
						return out
					}
					break // one hit per version and segment
				}
			}
		}
	}
	return out
}

// surelyNotInterp rejects most of a scan's candidate interpreters from
// the core's own memory without building an error: one outside the
// core's memory (a scan demands a thread state, which the files behind
// the image, read where the core has no copy, cannot hold), a thread
// state list head that is misaligned, or whose first thread state names
// another interpreter.
func (r *Runtime) surelyNotInterp(L *layout.Layout, interp uint64) bool {
	if interp == 0 || interp%8 != 0 {
		return true
	}
	ts, ok := r.m.peek(L.InterpTstateHead.Add(interp))
	if !ok {
		return true
	}
	if ts == 0 || ts%8 != 0 {
		return true
	}
	back, ok := r.m.peek(L.TstateInterp.Add(ts))
	return ok && back != interp
}

// quickCheck filters scan positions cheaply: interpreters.head must equal
// interpreters.main for a single-interpreter process and be a pointer.
func (r *Runtime) quickCheck(L *layout.Layout, data []byte, off int) bool {
	h := le64(data[off+int(L.RuntimeInterpretersHead):])
	m := le64(data[off+int(L.RuntimeInterpretersMain):])
	return h != 0 && h%8 == 0 && m != 0 && m%8 == 0 && h>>48 == 0
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// pythonWritableSegments returns the writable core segments where
// _PyRuntime can live: the data of a file whose name mentions python (the
// executable or libpython, named by NT_FILE even when the file itself is
// missing) and the anonymous .bss mapping that directly follows it.
func (r *Runtime) pythonWritableSegments() []segmentView {
	// The executable counts as a python file whatever its name: Debian
	// links libpython into python3.X, and a renamed copy ("myapp") is
	// still the interpreter.
	exe := ""
	for _, fi := range filesOf(r.m.img) {
		if fi.IsExe {
			exe = fi.Path
		}
	}
	isPython := func(path string) bool {
		return strings.Contains(filepath.Base(path), "python") || (exe != "" && path == exe)
	}
	pyEnds := map[uint64]bool{}
	for _, m := range r.m.img.Mappings() {
		if isPython(m.Path) {
			pyEnds[m.End] = true
		}
	}
	var py, all []segmentView
	for _, s := range r.m.img.Segments() {
		if !s.Writable() || s.Filesz == 0 {
			continue
		}
		all = append(all, segmentView{s.Vaddr, s.Filesz})
		f, named := r.m.img.FileAt(s.Vaddr)
		if (named && isPython(f)) || (!named && pyEnds[s.Vaddr]) {
			py = append(py, segmentView{s.Vaddr, s.Filesz})
		}
	}
	if len(r.m.img.Mappings()) == 0 {
		// No NT_FILE (a gcore core cut short loses its notes): any
		// writable page may hold the runtime; validation is strict.
		return all
	}
	return py
}

type segmentView struct{ Vaddr, Filesz uint64 }
