package reports

import (
	"path/filepath"
	"sort"
	"strings"
)

// maxRootStrips bounds how many leading directories of an absolute
// filename are dropped while looking for it under a source root.
const maxRootStrips = 16

// rootCandidates lists where a co_filename may be under the source roots
// (--source-root, repeatable, in order): a relative name (python
// server.py on 3.8) joined to each root; an absolute one from another host
// under each root whole, then with its leading directories dropped one by
// one (/srv/app/pkg/mod.py: ROOT/srv/app/pkg/mod.py, ROOT/app/pkg/mod.py,
// ROOT/pkg/mod.py, ROOT/mod.py).
func rootCandidates(roots []string, file string) []string {
	if file == "" || strings.HasPrefix(file, "<") {
		return nil
	}
	var out []string
	for _, root := range roots {
		if root == "" {
			continue
		}
		if !filepath.IsAbs(file) {
			out = append(out, filepath.Join(root, file))
			continue
		}
		parts := strings.Split(strings.TrimPrefix(filepath.Clean(file), "/"), "/")
		for i := 0; i < len(parts) && i <= maxRootStrips; i++ {
			out = append(out, filepath.Join(append([]string{root}, parts[i:]...)...))
		}
	}
	return out
}

// UnreadRelative lists the relative filenames (python server.py on 3.8)
// whose source could not be read: --source-root would find them.
func (c *SourceCache) UnreadRelative() []string {
	var out []string
	for name, lines := range c.files {
		if lines == nil && name != "" && !filepath.IsAbs(name) && !strings.HasPrefix(name, "<") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
