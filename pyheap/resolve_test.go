package pyheap

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseExpr(t *testing.T) {
	idx := func(v int64) *int64 { return &v }
	tests := []struct {
		in   string
		want Expr
		bad  string // part of the error, "" when it parses
	}{
		{in: "0x7f3ad78a9e50", want: Expr{Addr: 0x7f3ad78a9e50}},
		{in: "0X10", want: Expr{Addr: 0x10}},
		{in: " 0x10 ", want: Expr{Addr: 0x10}},
		{in: "139890713889616", want: Expr{Addr: 139890713889616}},
		{in: "sys", want: Expr{Module: "sys"}},
		{in: "app.models", want: Expr{Module: "app.models"}},
		{in: "sys:path", want: Expr{Module: "sys", Steps: []ExprStep{{Attr: "path"}}}},
		{in: "app.models:CACHE", want: Expr{Module: "app.models", Steps: []ExprStep{{Attr: "CACHE"}}}},
		{in: "__main__:HOLDER.items", want: Expr{Module: "__main__", Steps: []ExprStep{{Attr: "HOLDER"}, {Attr: "items"}}}},
		{in: "threading:_active[139890713889616]", want: Expr{Module: "threading", Steps: []ExprStep{{Attr: "_active"}, {Index: idx(139890713889616)}}}},
		{in: "m:L[-1].x", want: Expr{Module: "m", Steps: []ExprStep{{Attr: "L"}, {Index: idx(-1)}, {Attr: "x"}}}},
		{in: "m:D['db']", want: Expr{Module: "m", Steps: []ExprStep{{Attr: "D"}, {Key: "db"}}}},
		{in: `m:D["a b"][0]`, want: Expr{Module: "m", Steps: []ExprStep{{Attr: "D"}, {Key: "a b"}, {Index: idx(0)}}}},
		{in: "m:D['']", want: Expr{Module: "m", Steps: []ExprStep{{Attr: "D"}, {Key: ""}}}},
		{in: "modül:naïve", want: Expr{Module: "modül", Steps: []ExprStep{{Attr: "naïve"}}}},
		{in: "child:MARKER@2", want: Expr{Module: "child", Steps: []ExprStep{{Attr: "MARKER"}}, Interp: idx(2)}},
		{in: "child@0", want: Expr{Module: "child", Interp: idx(0)}},
		{in: "m:D['a@b']", want: Expr{Module: "m", Steps: []ExprStep{{Attr: "D"}, {Key: "a@b"}}}},
		{in: "m:D['a@1']@1", want: Expr{Module: "m", Steps: []ExprStep{{Attr: "D"}, {Key: "a@1"}}, Interp: idx(1)}},
		{in: "m:L[0]@3", want: Expr{Module: "m", Steps: []ExprStep{{Attr: "L"}, {Index: idx(0)}}, Interp: idx(3)}},
		{in: "child:MARKER@", bad: "not an interpreter id"},
		{in: "child:MARKER@x", bad: "not an interpreter id"},
		{in: "child:MARKER@-1", bad: "not an interpreter id"},
		{in: "child:MARKER@+1", bad: "not an interpreter id"},
		{in: "@2", bad: "nothing before"},
		{in: "0x10@2", bad: "an address needs none"},
		{in: "4096@2", bad: "an address needs none"},
		{in: "", bad: "empty"},
		{in: "   ", bad: "empty"},
		{in: "0x", bad: "not a hex address"},
		{in: "0xzz", bad: "not a hex address"},
		{in: "0x0", bad: "the NULL address"},
		{in: "0", bad: "the NULL address"},
		{in: "0x1ffffffffffffffff", bad: "not a hex address"},
		{in: "12ab", bad: "not an address"},
		{in: "a b", bad: "not a dotted name"},
		{in: "app..models", bad: "not a dotted name"},
		{in: ".app", bad: "not a dotted name"},
		{in: ":x", bad: "not a dotted name"},
		{in: "1app:x", bad: "not an address"},
		{in: "app:", bad: "nothing after"},
		{in: "app:x.", bad: "not an attribute name"},
		{in: "app:.x", bad: "not an attribute name"},
		{in: "app:x..y", bad: "not an attribute name"},
		{in: "app:x y", bad: "not an attribute name"},
		{in: "app:1x", bad: "not an attribute name"},
		{in: "app:x[", bad: "without ']'"},
		{in: "app:x[]", bad: "write [N]"},
		{in: "app:x[abc]", bad: "write [N]"},
		{in: "app:x['a]", bad: "write [N]"},
		{in: `app:x['it\'s']`, bad: "write [N]"},
		{in: "app:x[0]y", bad: "after ']'"},
		{in: "app:x:y", bad: "not an attribute name"},
		{in: "app:" + string(make([]byte, 5000)), bad: "longer than"},
	}
	for _, tc := range tests {
		got, err := ParseExpr(tc.in)
		if tc.bad != "" {
			var ee *ExprError
			if err == nil || !errors.As(err, &ee) {
				t.Errorf("ParseExpr(%q) = %+v, %v; want an ExprError saying %q", tc.in, got, err, tc.bad)
			} else if !contains(err.Error(), tc.bad) {
				t.Errorf("ParseExpr(%q): error %q does not say %q", tc.in, err, tc.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseExpr(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestExprStepString(t *testing.T) {
	i := int64(-3)
	for _, tc := range []struct {
		s    ExprStep
		want string
	}{{ExprStep{Attr: "x"}, ".x"}, {ExprStep{Key: "k"}, `["k"]`}, {ExprStep{Index: &i}, "[-3]"}} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.s, got, tc.want)
		}
	}
}
