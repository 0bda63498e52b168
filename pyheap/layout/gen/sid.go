package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// sidMinors are the minors fetched by scripts/sid-pythons.sh: stripped
// Debian builds whose tables come from their -dev headers, keyed by the
// exact version (a patch release can move what an outside reader sees).
var sidMinors = []string{"3.13", "3.14", "3.15"}

// defaultSidRoot mirrors scripts/sid-pythons.sh.
func defaultSidRoot() string {
	if r := os.Getenv("PYCORONER_SID_ROOT"); r != "" {
		return r
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "pycoroner-interpreters", "sid")
}

// headerBuild is a build described by its headers and checked against its
// executable.
type headerBuild struct {
	minor, exe string
	incs       []string
}

func sidBuilds(root string) ([]headerBuild, error) {
	var out []headerBuild
	for _, m := range sidMinors {
		exe := filepath.Join(root, "usr", "bin", "python"+m)
		inc := filepath.Join(root, "usr", "include")
		if _, err := os.Stat(filepath.Join(inc, "python"+m, "internal")); err != nil {
			return nil, fmt.Errorf("no internal headers of Debian sid's CPython %s under %s (run scripts/sid-pythons.sh)", m, root)
		}
		out = append(out, headerBuild{minor: m, exe: exe, incs: []string{inc, filepath.Join(inc, "python"+m)}})
	}
	return out, nil
}

// generateFromHeaders computes the build's table with the offsetof probe
// and checks it against the executable: Py_Version must be the headers'
// PY_VERSION_HEX, and every field that _Py_DebugOffsets describes must hold
// the value that the executable's own _Py_DebugOffsets (the initial
// contents of _PyRuntime) gives.
func generateFromHeaders(b headerBuild) (*layout.Layout, string, []layout.DebugCheck, error) {
	l, got, err := offsetofProbe(b.incs)
	if err != nil {
		return nil, "", nil, err
	}
	hex := got["PY_VERSION_HEX"]
	checks := debugChecksFrom(l, got)
	f, err := elf.Open(b.exe)
	if err != nil {
		return nil, "", nil, err
	}
	defer f.Close()
	ver, err := readSymbol(f, "Py_Version", 8)
	if err != nil {
		return nil, "", nil, err
	}
	if got := int64(binary.LittleEndian.Uint64(ver)); got != hex {
		return nil, "", nil, fmt.Errorf("%s says Py_Version 0x%x, its headers 0x%x", b.exe, got, hex)
	}
	full := versionString(hex)
	if len(l.Debug) > 0 {
		size := int64(0)
		for _, off := range l.Debug {
			size = max(size, off+8)
		}
		dbg, err := readSymbol(f, "_PyRuntime", int(size))
		if err != nil {
			return nil, "", nil, err
		}
		if !bytes.HasPrefix(dbg, []byte("xdebugpy")) {
			return nil, "", nil, fmt.Errorf("%s: _PyRuntime does not start with the _Py_DebugOffsets cookie", b.exe)
		}
		if v := int64(binary.LittleEndian.Uint64(dbg[8:])); v != hex {
			return nil, "", nil, fmt.Errorf("%s: _Py_DebugOffsets.version 0x%x, Py_Version 0x%x", b.exe, v, hex)
		}
		var bad []string
		layout.EachDebugField(l, func(name, path string, v *int64) {
			off, ok := l.Debug[path]
			if !ok {
				return
			}
			if got := int64(binary.LittleEndian.Uint64(dbg[off:])); got != *v {
				bad = append(bad, fmt.Sprintf("%s (%s): headers %d, binary %d", name, path, *v, got))
			}
		})
		if len(bad) > 0 {
			return nil, "", nil, fmt.Errorf("%s: the headers disagree with the binary's _Py_DebugOffsets:\n  %s", b.exe, strings.Join(bad, "\n  "))
		}
	}
	l.Version = b.minor
	if _, m, ok := strings.Cut(b.minor, "."); ok {
		l.Minor, _ = strconv.Atoi(m)
	}
	l.Source = "headers of Debian sid's CPython " + full + " (offsetof probe), checked against its _Py_DebugOffsets"
	return l, full, checks, nil
}

// readSymbol reads n bytes of a dynamic or static symbol's initial value.
func readSymbol(f *elf.File, name string, n int) ([]byte, error) {
	syms, _ := f.DynamicSymbols()
	if s, _ := f.Symbols(); len(s) > 0 {
		syms = append(syms, s...)
	}
	for _, s := range syms {
		if s.Name != name || s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Type == elf.SHT_NOBITS {
			return nil, fmt.Errorf("%s is in %s (no initial value)", name, sec.Name)
		}
		data := make([]byte, n)
		if _, err := sec.ReadAt(data, int64(s.Value-sec.Addr)); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return data, nil
	}
	return nil, fmt.Errorf("no symbol %s", name)
}

// versionString renders a PY_VERSION_HEX of a final release: 0x030e0af0 is
// "3.14.10"; a pre-release gets its level and serial ("3.15.0b1").
func versionString(hex int64) string {
	s := fmt.Sprintf("%d.%d.%d", hex>>24&0xff, hex>>16&0xff, hex>>8&0xff)
	if level := hex >> 4 & 0xf; level != 0xf {
		s += map[int64]string{0xa: "a", 0xb: "b", 0xc: "rc"}[level] + fmt.Sprint(hex&0xf)
	}
	return s
}
