package integration

import (
	"strings"
	"testing"
)

// Bad arguments to the heap commands: one line naming the problem, exit 2
// for usage errors (checked before the core is read), 1 when the core
// does not have what was asked for. Never a panic.
func TestHeapBadInput(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	sr := "--sysroot=" + sysroot
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"refs without ADDR", []string{"refs", sr, core}, 2, "missing ADDR"},
		{"path without arguments", []string{"path"}, 2, "missing CORE and ADDR"},
		{"show with three arguments", []string{"show", sr, core, "sys:path", "x"}, 2, "expected CORE and ADDR"},
		{"grep without REGEX", []string{"grep", sr, core}, 2, "missing REGEX"},
		{"bad expression", []string{"refs", sr, core, "app models:x"}, 2, "bad object expression"},
		{"bad bracket", []string{"show", sr, core, "sys:path[x]"}, 2, "bad object expression"},
		{"bad hex", []string{"path", sr, core, "0xfoo"}, 2, "not a hex address"},
		{"bad regexp", []string{"grep", sr, core, "a(b"}, 2, "bad regexp"},
		{"bad --type", []string{"grep", "--type", "int", sr, core, "x"}, 2, "--type"},
		{"bad --by", []string{"histogram", "--by", "size", sr, core}, 2, "--by"},
		{"bad --top", []string{"histogram", "--top", "-1", sr, core}, 2, "--top"},
		{"bad --depth", []string{"show", "--depth", "99", sr, core, "sys:path"}, 2, "--depth"},
		{"unknown flag", []string{"modules", "--frobnicate", sr, core}, 2, "unknown flag"},
		{"no object there", []string{"refs", sr, core, "0x10"}, 1, "0x10 is not an object"},
		{"unaligned address", []string{"show", sr, core, "0x7f0000000003"}, 1, "is not an object"},
		{"unknown module", []string{"path", sr, core, "no.such.module:x"}, 1, `module "no.such.module" is not in sys.modules`},
		{"unknown attribute", []string{"show", sr, core, "sys:no_such_attr"}, 1, `has no attribute "no_such_attr"`},
		{"index out of range", []string{"show", sr, core, "sys:path[100000]"}, 1, "out of range"},
		{"index into a str", []string{"show", sr, core, "sys:platform[0]"}, 1, "cannot be indexed"},
		{"not a core", []string{"histogram", "/bin/sh"}, 1, "not a core file"},
		{"a type by another module's name", []string{"instances", sr, core, "nosuch.dict"}, 1, `as histogram prints them); did you mean dict?`},
		{"object before the core", []string{"show", sr, "0x7f0000001000", core}, 2, "the core comes first, then the ADDR: pycoroner show " + core + " 0x7f0000001000"},
		{"expression before the core", []string{"refs", sr, "sys:path", core}, 2, "the core comes first"},
		{"regexp before the core", []string{"grep", sr, "^/usr", core}, 2, "the core comes first, then the REGEX"},
		{"type before the core", []string{"instances", sr, "dict", core}, 2, "the core comes first, then the TYPE"},
		// A misspelt core, then a REGEX that happens to name a file that
		// is no core: the core is what is wrong, not the order.
		{"misspelt core, a file after it", []string{"grep", sr, core + ".nosuch", "heap_badinput_test.go"}, 1, core + ".nosuch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := pycoroner(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tc.code, r.stderr)
			}
			msg := strings.TrimSpace(string(r.stderr))
			first, _, _ := strings.Cut(msg, "\n")
			if !strings.Contains(first, tc.want) {
				t.Errorf("error %q does not say %q", first, tc.want)
			}
			if tc.code == 1 && strings.Contains(msg, "\n") && !strings.HasPrefix(msg, "warning:") {
				t.Errorf("more than one line on stderr:\n%s", msg)
			}
			if len(r.stdout) != 0 {
				t.Errorf("output on stdout despite the error:\n%s", r.stdout)
			}
		})
	}
}

// Every heap command answers on the golden cores (no gdb, no pyenv).
func TestHeapCommandsOnGoldenCores(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	sr := "--sysroot=" + sysroot
	for _, args := range [][]string{
		{"histogram", sr, core},
		{"histogram", "--by", "module", "--json", sr, core},
		{"refs", sr, core, "sys:path"},
		{"path", "--all", sr, core, "sys:path"},
		{"show", "--depth", "3", sr, core, "sys:modules"},
		{"grep", sr, core, "^/usr/lib/python3"},
		{"modules", sr, core},
		{"modules", "--duplicates", sr, core},
		{"syspath", sr, core},
	} {
		r := pycoroner(t, args...)
		if r.code != 0 || len(r.stdout) == 0 {
			t.Errorf("%v: exit %d, %d bytes out; stderr: %s", args[:len(args)-2], r.code, len(r.stdout), r.stderr)
		}
	}
}
