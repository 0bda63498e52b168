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

// anchoredLiteral is the literal every match of re starts the text with
// (start) or ends it with (end), or both when re is that literal alone
// (^lit$): a test on each entry's ends, without scanning its text. Nil
// when re is not anchored at a literal.
func anchoredLiteral(re *regexp.Regexp) (lit []byte, start, end bool) {
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil, false, false
	}
	parsed = parsed.Simplify()
	if parsed.Op != syntax.OpConcat || len(parsed.Sub) < 2 {
		return nil, false, false
	}
	subs := parsed.Sub
	if subs[0].Op == syntax.OpBeginText {
		if l := plainLiteral(subs[1]); l != nil {
			lit, start = l, true
			end = len(subs) == 3 && subs[2].Op == syntax.OpEndText
		}
	}
	if !start && subs[len(subs)-1].Op == syntax.OpEndText {
		if l := plainLiteral(subs[len(subs)-2]); l != nil {
			lit, end = l, true
		}
	}
	if len(lit) == 0 || bytes.ContainsRune(lit, utf8.RuneError) {
		return nil, false, false
	}
	return lit, start, end
}

// plainLiteral is the text of a case-sensitive literal (or a group of
// one), else nil.
func plainLiteral(re *syntax.Regexp) []byte {
	if re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpLiteral || re.Flags&syntax.FoldCase != 0 {
		return nil
	}
	return []byte(string(re.Rune))
}
