package reports

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSourceRootsResolveRelativeAndForeignFiles(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	write := func(dir, rel, text string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root, "server.py", "import app\nserve()\n")
	write(other, "app/models.py", "class User:\n    pass\n")
	tests := []struct {
		name, file string
		roots      []string
		line       int
		want       string
	}{
		{"relative name under the first root", "server.py", []string{root, other}, 2, "serve()"},
		{"foreign absolute path, leading dirs dropped", "/srv/deploy/app/models.py", []string{root, other}, 1, "class User:"},
		{"no roots: not found", "server.py", nil, 2, ""},
		{"missing everywhere", "/srv/nothing.py", []string{root, other}, 1, ""},
		{"<frozen> names are never looked up", "<frozen importlib._bootstrap>", []string{root}, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &SourceCache{Roots: tc.roots}
			if got := c.Line(tc.file, tc.line); got != tc.want {
				t.Errorf("Line(%q, %d) = %q; want %q", tc.file, tc.line, got, tc.want)
			}
		})
	}
}
