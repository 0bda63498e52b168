package reports

import (
	"bufio"
	"os"
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
		lines = c.readLines(file)
		for _, cand := range rootCandidates(c.Roots, file) {
			if lines != nil {
				break
			}
			if f, err := coreread.OpenRegular(cand); err == nil {
				lines = linesOf(f)
				f.Close()
			}
		}
		c.files[file] = lines
	}
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[n-1])
}

// open opens a co_filename on this host; under a sysroot, it is resolved
// inside it in the same step as the open (a link or .. cannot lead out).
func (c *SourceCache) open(file string) (*os.File, error) {
	switch {
	case file == "" || strings.HasPrefix(file, "<"): // <frozen importlib._bootstrap>, <string>
		return nil, os.ErrNotExist
	case c.Sysroot == "":
		return coreread.OpenRegular(file)
	case !filepath.IsAbs(file):
		return nil, os.ErrNotExist
	}
	return coreread.OpenInRoot(c.Sysroot, file)
}

func (c *SourceCache) readLines(file string) []string {
	f, err := c.open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	return linesOf(f)
}

// linesOf reads a source file's lines, or nil when it is too large.
func linesOf(f *os.File) []string {
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
