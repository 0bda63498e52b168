package pyheap

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// Which table reads a build: a release with a table of its own (a
// distribution's stripped build, tables_patch_gen.go) is read with it, any
// other with its minor version's table. A patch release can move what an
// outside reader sees (Debian's 3.13.18 moved the GC generations), so the
// exact version decides, not the minor alone.

// versionString renders a PY_VERSION_HEX: 0x030e0af0 is "3.14.10".
func versionString(hex uint64) string {
	s := fmt.Sprintf("%d.%d.%d", hex>>24&0xff, hex>>16&0xff, hex>>8&0xff)
	if level := hex >> 4 & 0xf; level != 0xf {
		s += map[uint64]string{0xa: "a", 0xb: "b", 0xc: "rc"}[level] + fmt.Sprint(hex&0xf)
	}
	return s
}

// tableFor returns the table for a minor version, or for the exact
// release hex (0 when unknown) when one of that minor has its own.
func tableFor(minor string, hex uint64) (*layout.Layout, error) {
	if hex>>24 == 3 && fmt.Sprintf("3.%d", hex>>16&0xff) == minor {
		if L, ok := layout.ForRelease(versionString(hex)); ok {
			return L, nil
		}
	}
	if L, err := layout.ForVersion(minor); err == nil {
		return L, nil
	}
	// A minor with per-release tables only (3.14, 3.15): the release's own
	// or the nearest one.
	v := minor + ".999"
	if hex>>24 == 3 {
		v = versionString(hex)
	}
	if L, ok := layout.ForRelease(v); ok {
		return L, nil
	}
	if L, ok := layout.OldestRelease(v); ok {
		return L, nil
	}
	return nil, fmt.Errorf("no layout table for CPython %s (pycoroner reads %s)", minor, supportedVersions())
}

// supportedVersions names what pycoroner has tables for.
func supportedVersions() string {
	return strings.Join(layout.Versions(), ", ") + " (and the releases " + strings.Join(layout.Releases(), ", ") + " exactly)"
}

// supportedMinors lists every minor version with a table, oldest first.
func supportedMinors() []string {
	out := layout.Versions()
	seen := map[string]bool{}
	for _, v := range out {
		seen[v] = true
	}
	for _, rel := range layout.Releases() {
		parts := strings.SplitN(rel, ".", 3)
		if m := parts[0] + "." + parts[1]; !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// claim is what the files and memory say the build is, before any table
// has been validated: for the error that says why none was.
type claim struct {
	pyVersion uint64 // Py_Version, 0 when unknown
	file      string
	cookieAt  uint64 // where a _Py_DebugOffsets cookie was seen, 0 if none
	cookieHex uint64 // its version member
	freeThr   uint64 // its free_threaded member
}

func (c claim) String() string {
	var parts []string
	if c.pyVersion != 0 {
		parts = append(parts, fmt.Sprintf("Py_Version 0x%08x (%s)", c.pyVersion, versionString(c.pyVersion)))
	} else {
		parts = append(parts, "no Py_Version")
	}
	if c.file != "" {
		parts = append(parts, "file "+c.file)
	}
	if c.cookieAt != 0 {
		parts = append(parts, fmt.Sprintf("_Py_DebugOffsets at 0x%x: version 0x%08x, free_threaded %d", c.cookieAt, c.cookieHex, c.freeThr))
	} else {
		parts = append(parts, "no _Py_DebugOffsets cookie")
	}
	return strings.Join(parts, ", ")
}

// readClaim gathers what candidate c says about itself.
func (r *Runtime) readClaim(c candidate) claim {
	cl := claim{file: c.file, pyVersion: c.hex}
	if cookie := r.m.img.InCore(c.addr, 8); string(cookie) == string(debugCookie) {
		cl.cookieAt = c.addr
		cl.cookieHex, _ = r.m.u64(c.addr + 8)
		cl.freeThr, _ = r.m.u64(c.addr + 16)
	}
	return cl
}

var freeThreadedLib = regexp.MustCompile(`python3\.\d+t\b`)

// freeThreaded names a free-threaded build, which pycoroner refuses
// rather than misreads (no PyGC_Head, ob_tid in the object header, objects
// in mimalloc heaps: docs/limits.md), or says "".
func (r *Runtime) freeThreaded(cl claim) string {
	if cl.cookieAt != 0 && cl.freeThr != 0 {
		return fmt.Sprintf("CPython %s free-threaded build (_Py_DebugOffsets.free_threaded = %d)", versionString(cl.cookieHex), cl.freeThr)
	}
	if cl.file != "" && freeThreadedLib.MatchString(filepath.Base(cl.file)) {
		return "free-threaded CPython build (" + filepath.Base(cl.file) + ")"
	}
	return ""
}

// checkDebugOffsets validates the process's _Py_DebugOffsets at addr as
// CPython's own remote-debugging validator does before trusting it: the
// cookie, the version it claims against the build's Py_Version, the
// free-threaded flag, every section's size, and every member the reader
// takes from it aligned for what it locates and inside its section's size.
func (r *Runtime) checkDebugOffsets(addr, pyVersion uint64) error {
	if string(r.m.img.InCore(addr, 8)) != string(debugCookie) {
		return fmt.Errorf("no _Py_DebugOffsets cookie at 0x%x", addr)
	}
	hex, err := r.m.u64(addr + 8)
	if err != nil {
		return fmt.Errorf("read _Py_DebugOffsets.version: %w", err)
	}
	if hex>>24 != 3 {
		return fmt.Errorf("_Py_DebugOffsets.version is 0x%x, not a CPython 3 version", hex)
	}
	if pyVersion != 0 && hex != pyVersion {
		return fmt.Errorf("_Py_DebugOffsets.version 0x%08x differs from Py_Version 0x%08x", hex, pyVersion)
	}
	checks := layout.DebugChecks(versionString(hex))
	if len(checks) == 0 {
		return fmt.Errorf("no _Py_DebugOffsets description for CPython %s", versionString(hex))
	}
	const maxSection = 1 << 20 // no CPython struct comes close
	for _, c := range checks {
		v, err := r.m.u64(addr + uint64(c.At))
		if err != nil {
			return fmt.Errorf("read _Py_DebugOffsets.%s: %w", c.Path, err)
		}
		switch c.Path {
		case "version":
			continue
		case "free_threaded":
			if v != 0 {
				return fmt.Errorf("_Py_DebugOffsets.free_threaded is %d: a free-threaded build", v)
			}
			continue
		}
		if c.SizeAt < 0 {
			continue
		}
		size, err := r.m.u64(addr + uint64(c.SizeAt))
		if err != nil {
			return fmt.Errorf("read the size of _Py_DebugOffsets.%s: %w", c.Path, err)
		}
		sec, _, _ := strings.Cut(c.Path, ".")
		if size == 0 || size > maxSection {
			return fmt.Errorf("_Py_DebugOffsets.%s.size is %d", sec, size)
		}
		if c.Align > 1 && v%uint64(c.Align) != 0 {
			return fmt.Errorf("_Py_DebugOffsets.%s = %d is not aligned to %d bytes", c.Path, v, c.Align)
		}
		if v > size || uint64(c.Width) > size-v {
			return fmt.Errorf("_Py_DebugOffsets.%s = %d with width %d exceeds %s.size %d", c.Path, v, c.Width, sec, size)
		}
	}
	return nil
}
