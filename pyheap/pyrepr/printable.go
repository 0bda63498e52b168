package pyrepr

import "unicode"

// IsPrintable reports whether CPython's repr() leaves code point c
// unescaped, i.e. Py_UNICODE_ISPRINTABLE: true unless c's general category
// is Cc, Cf, Cs, Co, Cn (unassigned), Zl, Zp or Zs, with U+0020 SPACE the one
// printable separator.
//
// Go's unicode.IsPrint has exactly the same definition (L, M, N, P, S and
// U+0020), so the only differences come from the Unicode database version.
// Go's tables are Unicode 15.0.0 (unicode.Version); CPython's are:
//
//	3.8: 12.1.0   3.9, 3.10: 13.0.0   3.11: 14.0.0   3.12: 15.0.0   3.13: 15.1.0
//
// This function follows the newest of them, CPython 3.13 (Unicode 15.1.0):
// unicode.IsPrint plus the code points Unicode 15.1 added (all printable:
// U+2FFC–U+2FFF, U+31EF, U+2EBF0–U+2EE5D). Consequently, for older
// interpreters, code points that were still unassigned in their database
// (thousands of them, e.g. U+30000–U+3134A CJK Extension G for 3.8, or
// U+31350–U+323AF Extension H for 3.8–3.11) are printed literally here
// while that interpreter would escape them as \U000xxxxx. No code point was
// found whose printability differs in any other way; the tests compare every
// code point against every interpreter's database and list the differences.
// Should a future Go release move to a newer Unicode version, the test
// against 3.13 will name the code points that became printable in Go only.
func IsPrintable(c rune) bool {
	if unicode.IsPrint(c) {
		return true
	}
	switch {
	case c >= 0x2FFC && c <= 0x2FFF, c == 0x31EF, c >= 0x2EBF0 && c <= 0x2EE5D:
		return true // Unicode 15.1 additions, printable in CPython 3.13
	}
	return false
}
