package reports

import (
	"bufio"
	"path/filepath"
	"strings"

	"github.com/pycoroner/pycoroner/coreread"
)

// SourceCache reads source lines of the files frames name, each file once.
type SourceCache struct {
	Sysroot string
	// Roots are tried, in order, for a file not readable where it is named
	// (a relative name, or a file from another host): see rootCandidates.
	Roots []string
	files map[string][]string
}

// maxSourceBytes bounds how much of one source file is read.
const maxSourceBytes = 16 << 20

// Line returns line n (1-based) of file, trimmed, or "" when unreadable.
func (c *SourceCache) Line(file string, n int) string {
	if c.files == nil {
		c.files = map[string][]string{}
	}
	lines, ok := c.files[file]
	if !ok {
		lines = readLines(c.path(file))
		for _, cand := range rootCandidates(c.Roots, file) {
			if lines != nil {
				break
			}
			lines = readLines(cand)
		}
		c.files[file] = lines
	}
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[n-1])
}

// path maps a co_filename to this host; under a sysroot, a name that
// resolves outside it (through .. or a symlink) is not read.
func (c *SourceCache) path(file string) string {
	if c.Sysroot == "" {
		return file
	}
	if !filepath.IsAbs(file) {
		return ""
	}
	p := filepath.Join(c.Sysroot, filepath.Clean("/"+file))
	root, err1 := filepath.EvalSymlinks(c.Sysroot)
	real, err2 := filepath.EvalSymlinks(p)
	if err1 != nil || err2 != nil || (real != root && !strings.HasPrefix(real, root+string(filepath.Separator))) {
		return ""
	}
	return real
}

func readLines(path string) []string {
	if path == "" || strings.HasPrefix(path, "<") { // <frozen importlib._bootstrap>, <string>
		return nil
	}
	f, err := coreread.OpenRegular(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() > maxSourceBytes {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
