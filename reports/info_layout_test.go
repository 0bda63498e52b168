package reports

import "testing"

func TestLayoutTextSaysWhichTableAndThatItFits(t *testing.T) {
	tests := []struct{ version, source, want string }{
		{"3.11.2", "DWARF of CPython 3.11.7 and its headers",
			"committed 3.11 table (from 3.11.7's DWARF and headers); fits 3.11.2: layouts are fixed within 3.11"},
		{"3.12.1", "DWARF of CPython 3.12.1 and its headers", "committed 3.12 table (from 3.12.1's DWARF and headers)"},
		{"3.13.1", "DWARF of CPython 3.13.0 and its headers, with the process's _Py_DebugOffsets",
			"committed 3.13 table (from 3.13.0's DWARF and headers), with the process's _Py_DebugOffsets; fits 3.13.1: layouts are fixed within 3.13"},
		{"3.12.1", "DWARF of /usr/lib/libpython3.12.so.1.0", "DWARF of /usr/lib/libpython3.12.so.1.0"},
	}
	for _, tc := range tests {
		in := &Info{PythonVersion: &tc.version, Runtime: &RuntimeInfo{LayoutSource: tc.source}}
		if got := in.layoutText(); got != tc.want {
			t.Errorf("%s with %q:\n got %q\nwant %q", tc.version, tc.source, got, tc.want)
		}
	}
}
