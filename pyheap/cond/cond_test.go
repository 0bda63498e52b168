package cond

import (
	"fmt"
	"strings"
	"testing"
)

func TestRewrite(t *testing.T) {
	tests := []struct{ in, want string }{
		{`len(sys:path) > 7`, `len(obj("sys:path")) > 7`},
		{`sys:path[0].endsWith("/lib")`, `obj("sys:path[0]").endsWith("/lib")`},
		{`count("LeakyUser") > 10000`, `count("LeakyUser") > 10000`},
		{`app.settings:CONFIG.debug == true && "a:b" != ''`, `obj("app.settings:CONFIG.debug") == true && "a:b" != ''`},
		{`'it\'s a:b' == x:y`, `'it\'s a:b' == obj("x:y")`},
	}
	for _, tc := range tests {
		if got := Rewrite(tc.in); got != tc.want {
			t.Errorf("Rewrite(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, src := range []string{`len(sys:path) >`, `1 + 2`, `nosuchfn(3)`, `undeclared > 3`, `sys:path.endsWith(`} {
		if _, err := Compile(src); err == nil {
			t.Errorf("Compile(%q) succeeded", src)
		}
	}
	for _, src := range []string{`len(sys:path) > 7`, `sys:path[0].endsWith("/lib")`, `count("LeakyUser") > 10000`} {
		if _, err := Compile(src); err != nil {
			t.Errorf("Compile(%q): %v", src, err)
		}
	}
}

// TestEval: the documented forms (docs/live.md) and CEL's spellings give
// the values a condition expects, against fixed object values.
func TestEval(t *testing.T) {
	objs := map[string]any{
		"sys:path":         []any{"/usr/lib", "/srv/app", "x"},
		"sys:path[0]":      "/usr/lib",
		"app:CONFIG":       map[string]any{"debug": true, "name": "né"},
		"app:CONFIG.debug": true,
		"app:N":            int64(12),
		"app:F":            2.5,
		"app:NONE":         nil,
	}
	tests := []struct {
		src  string
		want bool
	}{
		{`len(sys:path) > 2`, true},
		{`len(sys:path) > 7`, false},
		{`sys:path.size() == 3`, true},
		{`size(sys:path) == 3`, true},
		{`sys:path[0].endsWith("/lib")`, true},
		{`sys:path[0] endsWith "/lib" and not (sys:path[0] startsWith "/srv")`, true},
		{`sys:path[0].startsWith("/usr") && !sys:path[0].contains("srv")`, true},
		{`sys:path[0].matches("^/usr/l.b$")`, true},
		{`"/srv/app" in sys:path`, true},
		{`app:CONFIG.debug == true`, true},
		{`app:CONFIG["name"] == "né" && len(app:CONFIG["name"]) == 2`, true},
		{`app:N >= 12 && app:N < 13 && app:N == 12`, true},
		{`app:F > 2 || false`, true},
		{`app:NONE == null`, true},
		{`app:N % 5 == 2 ? true : false`, true},
		{`'it\'s' != "x"`, true},
	}
	for _, tc := range tests {
		c, err := Compile(tc.src)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.src, err)
			continue
		}
		c.lookup = func(expr string) (any, error) {
			v, ok := objs[expr]
			if !ok {
				return nil, fmt.Errorf("no %s", expr)
			}
			return v, nil
		}
		got, err := c.Eval(nil)
		if err != nil || got != tc.want {
			t.Errorf("Eval(%q) = %v, %v; want %v", tc.src, got, err, tc.want)
		}
	}
	c, err := Compile(`len(app:N) > 1`)
	if err != nil {
		t.Fatal(err)
	}
	c.lookup = func(string) (any, error) { return int64(3), nil }
	if _, err := c.Eval(nil); err == nil || !strings.Contains(err.Error(), "len() of a int") {
		t.Errorf("len of an int: %v", err)
	}
}
