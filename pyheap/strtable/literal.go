package strtable

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// RequiredLiteral is a byte string every match of re contains, as the
// text of a str (UTF-8) or a bytes object holds it; nil when re has none
// worth looking for. It is the longest literal the whole pattern
// concatenates; of a case-folded literal, the longest run of characters
// that have no other case (digits, punctuation: "39999@" of
// (?i)user39999@example), which must appear as they are.
//
// A literal holding U+FFFD is refused: the regexp reads an invalid UTF-8
// byte of a bytes object as U+FFFD, which the literal's UTF-8 does not
// find.
func RequiredLiteral(re *regexp.Regexp) []byte {
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	lit := literalIn(parsed.Simplify())
	if len(lit) == 0 || bytes.ContainsRune(lit, utf8.RuneError) {
		return nil
	}
	return lit
}

func literalIn(re *syntax.Regexp) []byte {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			return []byte(string(re.Rune))
		}
		return caselessRun(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return literalIn(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literalIn(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []byte
		for _, sub := range re.Sub {
			if lit := literalIn(sub); len(lit) > len(best) {
				best = lit
			}
		}
		return best
	}
	return nil
}

// caselessRun is the longest run of runes that fold to nothing else.
func caselessRun(rs []rune) []byte {
	var best, run []rune
	for _, r := range rs {
		if unicode.SimpleFold(r) == r {
			run = append(run, r)
			if len(run) > len(best) {
				best = run
			}
			continue
		}
		run = nil
	}
	if len(best) == 0 {
		return nil
	}
	return []byte(string(best))
}
