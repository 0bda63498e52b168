package reports

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap"
)

// HostPaths looks the paths a core names up on this host, or under Sysroot.
type HostPaths struct {
	Sysroot string
}

// onHost is where path lives here.
func (hp HostPaths) onHost(path string) string {
	if hp.Sysroot == "" {
		return path
	}
	return filepath.Join(hp.Sysroot, path)
}

// Exists says whether an absolute path exists here (under the sysroot).
func (hp HostPaths) Exists(path string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	if hp.Sysroot != "" {
		// Resolved inside the sysroot: a link that leads out of it does
		// not make a path exist.
		_, err := coreread.StatInRoot(hp.Sysroot, path)
		return err == nil
	}
	_, err := os.Stat(path)
	return err == nil
}

// Canon cleans a path and, when it exists here, resolves its symlinks
// (inside the sysroot: a link that leads out of it is not followed).
func (hp HostPaths) Canon(path string) string {
	clean := filepath.Clean(path)
	if !filepath.IsAbs(clean) {
		return clean
	}
	real, err := filepath.EvalSymlinks(hp.onHost(clean))
	if err != nil {
		return clean
	}
	if hp.Sysroot == "" {
		return real
	}
	root, err := filepath.EvalSymlinks(hp.Sysroot)
	if err != nil {
		return clean
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return clean
	}
	return filepath.Join("/", rel)
}

// SysPathEntry is one entry of sys.path.
type SysPathEntry struct {
	Index       int    `json:"index"`
	Path        string `json:"path"`
	Exists      bool   `json:"exists"`
	DuplicateOf *int   `json:"duplicate_of"`
	Inside      []int  `json:"inside"`
	// DoubleImportFrom are those of Inside that can import this entry as
	// a package (every path part between them an identifier): modules
	// under it can be imported under two names.
	DoubleImportFrom []int `json:"double_import_from"`
	// Relative is set for entries relative to the process's working
	// directory ("" is the directory itself), which a core does not record:
	// their existence is not checked.
	Relative bool `json:"relative,omitempty"`
}

// BuildSysPath reads sys.path and checks its entries here.
func BuildSysPath(rt *pyheap.Runtime, hp HostPaths) (SysPath, error) {
	paths, err := rt.SysPath()
	if err != nil {
		return nil, err
	}
	return analyzeSysPath(paths, hp.Canon, hp.Exists), nil
}

// analyzeSysPath flags missing entries, duplicates (the same directory
// after cleaning and resolving links) and overlaps (an entry inside
// another, which lets one file be imported under two names).
func analyzeSysPath(paths []string, canon func(string) string, exists func(string) bool) []SysPathEntry {
	out := make([]SysPathEntry, len(paths))
	canons := make([]string, len(paths))
	first := map[string]int{}
	for i, p := range paths {
		canons[i] = canon(p)
		out[i] = SysPathEntry{Index: i, Path: p, Inside: []int{}, DoubleImportFrom: []int{}, Relative: !filepath.IsAbs(p)}
		if !out[i].Relative {
			out[i].Exists = exists(p)
		}
		if j, ok := first[canons[i]]; ok {
			j := j
			out[i].DuplicateOf = &j
		} else {
			first[canons[i]] = i
		}
	}
	for i := range paths {
		for j := range paths {
			if i != j && pathInside(canons[i], canons[j]) {
				out[i].Inside = append(out[i].Inside, j)
				if importableFrom(canons[i], canons[j]) {
					out[i].DoubleImportFrom = append(out[i].DoubleImportFrom, j)
				}
			}
		}
	}
	return out
}

// pathInside reports whether child lies strictly inside parent. Both are
// clean; relative paths compare only with relative paths ("." holds them
// all).
func pathInside(child, parent string) bool {
	if filepath.IsAbs(child) != filepath.IsAbs(parent) || child == parent {
		return false
	}
	if parent == "." {
		return child != ".." && !strings.HasPrefix(child, "../")
	}
	if parent == "/" {
		return true
	}
	return strings.HasPrefix(child, parent+"/")
}

// WriteText prints sys.path as a table with its problems.
func (entries SysPath) WriteText(w io.Writer) error {
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		var notes []string
		switch {
		case e.Relative:
			notes = append(notes, "relative to the process's working directory (not checked)")
		case !e.Exists:
			notes = append(notes, "missing here")
		}
		if e.DuplicateOf != nil {
			notes = append(notes, fmt.Sprintf("duplicate of [%d]", *e.DuplicateOf))
		}
		var risky, harmless []string
		for _, j := range e.Inside {
			if slices.Contains(e.DoubleImportFrom, j) {
				risky = append(risky, "["+strconv.Itoa(j)+"]")
			} else {
				harmless = append(harmless, "["+strconv.Itoa(j)+"]")
			}
		}
		if len(risky) > 0 {
			notes = append(notes, "inside "+strings.Join(risky, ", ")+": modules under it can be imported under two names")
		}
		if len(harmless) > 0 {
			notes = append(notes, "inside "+strings.Join(harmless, ", ")+" (not as a package: no double imports)")
		}
		path := e.Path
		if path == "" {
			path = `''`
		}
		rows = append(rows, []string{strconv.Itoa(e.Index), path, strings.Join(notes, "; ")})
	}
	return table(w, []string{"#", "entry", "notes"}, rows)
}

// importableFrom reports whether the directory inner, inside the sys.path
// entry outer, is a (namespace) package there: every part of the path
// between them is an identifier. site-packages under lib/python3.X is not.
func importableFrom(inner, outer string) bool {
	rel, err := filepath.Rel(filepath.Clean(outer), filepath.Clean(inner))
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	for _, part := range strings.Split(rel, "/") {
		if !pyheap.IsIdentifier(part) {
			return false
		}
	}
	return true
}
