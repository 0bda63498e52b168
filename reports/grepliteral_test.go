package reports

import (
	"bytes"
	"regexp"
	"testing"
)

// requiredLiteral lets grep skip a str without running the regexp: it
// must be in every string the regexp matches, or grep would miss matches.
func TestRequiredLiteral(t *testing.T) {
	inputs := []string{"", "user39999@example.com", "xuser39999@example.comx", "USER1@EXAMPLE.COM",
		"/tmp/pycoroner-abc", "password=hunter2", "abcabc", "a.b", "ab", "key: value", "héllo wörld", "aaaa"}
	for _, tc := range []struct {
		pattern, want string
	}{
		{`^user39999@example\.com$`, "user39999@example.com"},
		{`password=`, "password="},
		{`^/tmp/`, "/tmp/"},
		{`(?i)password`, ""},
		{`abc|xyz`, ""},
		{`(abc)+`, "abc"},
		{`a.b`, "a"},
		{`key: (\w+)`, "key: "},
		{`[0-9]+`, ""},
		{`h.llo w`, "llo w"},
		{`a*`, ""},
		{`(?:ab)?c`, "c"},
	} {
		re := regexp.MustCompile(tc.pattern)
		lit := requiredLiteral(re)
		if string(lit) != tc.want {
			t.Errorf("%s: literal %q, want %q", tc.pattern, lit, tc.want)
		}
		for _, in := range inputs {
			if re.MatchString(in) && !bytes.Contains([]byte(in), lit) {
				t.Errorf("%s matches %q, which lacks its literal %q", tc.pattern, in, lit)
			}
		}
	}
}
