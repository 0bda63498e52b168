package pyrepr

import "unicode/utf8"

// Truncate shortens repr for display to at most max runes.
//
// The exact rule: if repr has at most max runes it is returned unchanged
// with false. Otherwise (max below 3 is treated as 3) the result is the
// first max-3 runes of repr followed by "...", and true; if that prefix
// would end in the middle of a backslash escape (\x, \t, \xhh, \uhhhh,
// \Uhhhhhhhh, as produced by [Str] and [Bytes]) the partial escape is
// dropped too, so the result never shows a misleading half escape and may
// then be a few runes shorter than max. The closing quote is not kept.
//
// Escapes are recognised by scanning the prefix from the start, so a
// literal backslash is only ever seen as the first character of an escape,
// which holds for every repr this package produces.
func Truncate(repr string, max int) (string, bool) {
	if max < 3 {
		max = 3
	}
	if utf8.RuneCountInString(repr) <= max {
		return repr, false
	}
	keep := max - 3
	// Walk runes; cut is the byte length of the kept prefix, n its runes.
	cut, n := 0, 0
	for cut < len(repr) && n < keep {
		step := 1 // runes in the next unit: one rune or one whole escape
		if repr[cut] == '\\' {
			step = escapeRunes(repr[cut:])
			if n+step > keep {
				break // the escape would be split: drop it
			}
		}
		for i := 0; i < step && cut < len(repr); i++ {
			_, size := utf8.DecodeRuneInString(repr[cut:])
			cut += size
			n++
		}
	}
	return repr[:cut] + "...", true
}

// escapeRunes returns the length in runes of the escape sequence at the
// start of s, which begins with a backslash.
func escapeRunes(s string) int {
	if len(s) >= 2 {
		switch s[1] {
		case 'x':
			return 4
		case 'u':
			return 6
		case 'U':
			return 10
		}
	}
	return 2
}
