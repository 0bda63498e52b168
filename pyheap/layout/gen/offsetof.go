package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// A build without DWARF (a distribution's stripped package) is described by
// its headers alone: every `py` tag of layout.Layout becomes a line of a C
// program compiled against the build's -dev headers (offsetof, sizeof, enum
// and macro values, bit-field positions found by setting the field), and so
// does every `dbg` tag (the member's offset in _Py_DebugOffsets). A tag
// naming a struct or member this version lacks does not compile: such
// lines are dropped and the compiler run again, and a field none of whose
// alternatives compiled is layout.Missing, as with DWARF.

// offsetofHeaders are included when the version has them; Python.h brings
// the public and cpython/ ones.
var offsetofHeaders = []string{
	"structmember.h",
	"internal/pycore_runtime.h", "internal/pycore_runtime_structs.h", "internal/pycore_interp.h",
	"internal/pycore_interp_structs.h", "internal/pycore_tstate.h", "internal/pycore_frame.h",
	"internal/pycore_interpframe.h", "internal/pycore_interpframe_structs.h", "internal/pycore_stackref.h",
	"internal/pycore_gc.h", "internal/pycore_gil.h", "internal/pycore_dict.h", "internal/pycore_code.h",
	"internal/pycore_object.h", "internal/pycore_long.h", "internal/pycore_moduleobject.h",
	"internal/pycore_genobject.h", "internal/pycore_setobject.h", "internal/pycore_traceback.h",
	"internal/pycore_function.h", "internal/pycore_cell.h", "internal/pycore_debug_offsets.h",
	"internal/pycore_lazyimportobject.h",
}

// probeLine is one candidate expression; label is FIELD#ALT or dbg:PATH.
type probeLine struct {
	label, expr string
}

// candidates turns one tag alternative into C expressions: a name may be a
// struct tag or a typedef, so both are tried.
func candidates(spec string) []string {
	kind, rest, _ := strings.Cut(spec, ":")
	switch kind {
	case "c", "enum":
		return []string{rest}
	case "size":
		return []string{"sizeof(struct " + rest + ")", "sizeof(" + rest + ")"}
	}
	typ, path, ok := strings.Cut(rest, ":")
	if !ok {
		return nil
	}
	var out []string
	for _, t := range []string{"struct " + typ, typ} {
		switch kind {
		case "off":
			out = append(out, "offsetof("+t+", "+path+")")
		case "bitoff", "bitsize":
			parent := ""
			if i := strings.LastIndexByte(path, '.'); i >= 0 {
				parent = path[:i]
			}
			base := "0"
			if parent != "" {
				base = "offsetof(" + t + ", " + parent + ")"
			}
			fn := "bit_offset"
			if kind == "bitsize" {
				fn = "bit_count"
			}
			// A statement expression: set the field's bits in a zeroed
			// object and see where they land.
			out = append(out, "({ "+t+" o_; memset(&o_, 0, sizeof o_); o_."+path+" = ~0ull; "+
				fn+"((unsigned char *)&o_ + "+base+", sizeof o_ - "+base+"); })")
		}
	}
	return out
}

const probePrelude = `#define Py_BUILD_CORE 1
#define NDEBUG 1
#include "Python.h"
%s#include <stddef.h>
#include <stdio.h>
#include <string.h>
#pragma GCC diagnostic ignored "-Woverflow"
static long long bit_offset(const unsigned char *p, size_t n) {
	for (size_t i = 0; i < n * 8; i++) if (p[i / 8] >> (i %% 8) & 1) return (long long)i;
	return -1;
}
static long long bit_count(const unsigned char *p, size_t n) {
	long long c = 0;
	for (size_t i = 0; i < n * 8; i++) c += p[i / 8] >> (i %% 8) & 1;
	return c;
}
#define SHOW(label, expr) printf("%%s %%lld\n", label, (long long)(expr))
int main(void) {
	SHOW("PY_VERSION_HEX", PY_VERSION_HEX);
`

var errorLineRe = regexp.MustCompile(`probe\.c:(\d+):\d+: error`)

// offsetofLayout computes a Layout from a build's headers. incs are the -I
// directories; the result's Debug map holds _Py_DebugOffsets member offsets.
func offsetofLayout(incs []string) (*layout.Layout, int64, error) {
	l, got, err := offsetofProbe(incs)
	if err != nil {
		return nil, 0, err
	}
	return l, got["PY_VERSION_HEX"], nil
}

// offsetofProbe also returns every value the probe printed, by label.
func offsetofProbe(incs []string) (*layout.Layout, map[string]int64, error) {
	var lines []probeLine
	l := &layout.Layout{}
	layout.EachField(l, func(name string, specs []string, _ *int64) error {
		for i, s := range specs {
			for _, e := range candidates(s) {
				lines = append(lines, probeLine{fmt.Sprintf("%s#%d", name, i), e})
			}
		}
		return nil
	})
	dbgField := map[string]bool{}
	sections := map[string]bool{}
	for _, m := range []string{"version", "free_threaded"} {
		lines = append(lines, probeLine{"dbghead:" + m, "offsetof(struct _Py_DebugOffsets, " + m + ")"})
	}
	layout.EachDebugField(l, func(name, path string, _ *int64) {
		dbgField[name] = true
		lines = append(lines, probeLine{"dbg:" + path, "offsetof(struct _Py_DebugOffsets, " + path + ")"})
		if sec, _, ok := strings.Cut(path, "."); ok && !sections[sec] {
			sections[sec] = true
			lines = append(lines, probeLine{"dbgsize:" + sec, "offsetof(struct _Py_DebugOffsets, " + sec + ".size)"})
		}
	})
	// Width and alignment of the members that _Py_DebugOffsets locates,
	// for validating a process's copy (debugChecksFrom).
	layout.EachField(l, func(name string, specs []string, _ *int64) error {
		if !dbgField[name] {
			return nil
		}
		for i, s := range specs {
			kind, rest, _ := strings.Cut(s, ":")
			typ, path, ok := strings.Cut(rest, ":")
			if kind != "off" || !ok {
				continue
			}
			for _, t := range []string{"struct " + typ, typ} {
				m := "((" + t + " *)0)->" + path
				lines = append(lines, probeLine{fmt.Sprintf("w:%s#%d", name, i), "sizeof(" + m + ")"},
					probeLine{fmt.Sprintf("a:%s#%d", name, i), "__alignof__(" + m + ")"})
			}
		}
		return nil
	})
	var inc strings.Builder
	for _, h := range offsetofHeaders {
		fmt.Fprintf(&inc, "#if __has_include(%q)\n#include %q\n#endif\n", h, h)
	}
	inc.WriteString(privatePrelude())
	prelude := fmt.Sprintf(probePrelude, inc.String())
	first := strings.Count(prelude, "\n") + 1 // line number of lines[0]
	tmp, err := os.MkdirTemp("", "pycoroner-offsetof")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	src, bin := filepath.Join(tmp, "probe.c"), filepath.Join(tmp, "probe")
	alive := make([]bool, len(lines))
	for i := range alive {
		alive[i] = true
	}
	for round := 0; ; round++ {
		var b strings.Builder
		b.WriteString(prelude)
		var at []int // at[k] = index in lines of the k-th written line
		for i, pl := range lines {
			if alive[i] {
				fmt.Fprintf(&b, "\tSHOW(%q, %s);\n", pl.label, pl.expr)
				at = append(at, i)
			}
		}
		b.WriteString("\treturn 0;\n}\n")
		if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
			return nil, nil, err
		}
		args := []string{"-x", "c", "-w", "-fmax-errors=0", "-o", bin, src}
		for _, d := range incs {
			args = append(args, "-I", d)
		}
		msg, err := exec.Command("gcc", args...).CombinedOutput()
		if err == nil {
			break
		}
		dropped := 0
		for _, m := range errorLineRe.FindAllSubmatch(msg, -1) {
			n, _ := strconv.Atoi(string(m[1]))
			k := n - first
			if k < 0 || k >= len(at) {
				return nil, nil, fmt.Errorf("compile probe: error outside the probed lines:\n%s", firstLines(msg, 20))
			}
			if alive[at[k]] {
				alive[at[k]] = false
				dropped++
			}
		}
		if dropped == 0 || round > 50 {
			return nil, nil, fmt.Errorf("compile probe: %v\n%s", err, firstLines(msg, 20))
		}
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("run probe: %w", err)
	}
	got := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		label, val, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(val, 10, 64)
		if !ok || err != nil {
			return nil, nil, fmt.Errorf("probe line %q", sc.Text())
		}
		if _, seen := got[label]; !seen { // struct tag before typedef
			got[label] = n
		}
	}
	err = layout.EachField(l, func(name string, specs []string, v *int64) error {
		*v = layout.Missing
		for i := range specs {
			if n, ok := got[fmt.Sprintf("%s#%d", name, i)]; ok {
				*v = n
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	l.Debug = map[string]int64{}
	for label, n := range got {
		if path, ok := strings.CutPrefix(label, "dbg:"); ok {
			l.Debug[path] = n
		}
	}
	if len(l.Debug) == 0 {
		l.Debug = nil
	}
	return l, got, nil
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// sortedKeys is for deterministic output.
func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// debugChecksFrom lists how to validate each _Py_DebugOffsets member the
// layout takes from a process; nil when the version has none.
func debugChecksFrom(l *layout.Layout, got map[string]int64) []layout.DebugCheck {
	if len(l.Debug) == 0 {
		return nil
	}
	specsOf := map[string][]string{}
	layout.EachField(l, func(name string, specs []string, _ *int64) error {
		specsOf[name] = specs
		return nil
	})
	var out []layout.DebugCheck
	// The header members: what the version and build flavour are.
	for _, m := range []string{"version", "free_threaded"} {
		if at, ok := got["dbghead:"+m]; ok {
			out = append(out, layout.DebugCheck{Path: m, At: at, SizeAt: layout.Missing, Width: 8, Align: 1})
		}
	}
	layout.EachDebugField(l, func(name, path string, _ *int64) {
		at, ok := l.Debug[path]
		if !ok {
			return
		}
		c := layout.DebugCheck{Path: path, At: at, SizeAt: layout.Missing, Width: 0, Align: 1}
		sec, _, _ := strings.Cut(path, ".")
		if n, ok := got["dbgsize:"+sec]; ok {
			c.SizeAt = n
		}
		for i := range specsOf[name] {
			w, okw := got[fmt.Sprintf("w:%s#%d", name, i)]
			a, oka := got[fmt.Sprintf("a:%s#%d", name, i)]
			if okw && oka {
				c.Width, c.Align = w, a
				break
			}
		}
		out = append(out, c)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

func writeDebugChecks(buf *bytes.Buffer, key string, checks []layout.DebugCheck) {
	fmt.Fprintf(buf, "%q: {\n", key)
	for _, c := range checks {
		fmt.Fprintf(buf, "{Path: %q, At: %d, SizeAt: %d, Width: %d, Align: %d},\n", c.Path, c.At, c.SizeAt, c.Width, c.Align)
	}
	buf.WriteString("},\n")
}
