package cond

import "testing"

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
	for _, src := range []string{`len(sys:path) >`, `1 + 2`, `nosuchfn(3)`} {
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
