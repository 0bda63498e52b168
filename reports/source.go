package reports

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// SourceCache reads source lines of the files frames name, each file once.
type SourceCache struct {
	Sysroot string
	files   map[string][]string
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
		c.files[file] = lines
	}
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[n-1])
}

func (c *SourceCache) path(file string) string {
	if c.Sysroot != "" && filepath.IsAbs(file) {
		return filepath.Join(c.Sysroot, file)
	}
	return file
}

func readLines(path string) []string {
	if strings.HasPrefix(path, "<") { // <frozen importlib._bootstrap>, <string>
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() || st.Size() > maxSourceBytes {
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
