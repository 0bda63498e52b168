package pyrepr

import (
	"math"
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"
)

func float64frombits(b uint64) float64 { return math.Float64frombits(b) }

func TestStrGarbageCodePoints(t *testing.T) {
	for _, tc := range []struct {
		in   []rune
		want string
	}{
		{[]rune{0x110000}, `'\U00110000'`},
		{[]rune{-1}, `'\Uffffffff'`},
		{[]rune{'a', 0x7fffffff, '\''}, `"a\U7fffffff'"`},
	} {
		if got := Str(tc.in); got != tc.want {
			t.Errorf("Str(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestIntInvalidDigitSize(t *testing.T) {
	for _, bits := range []uint{0, 33, 64} {
		if got := Int(false, []uint32{1}, bits); !strings.HasPrefix(got, "<int: invalid digit size") {
			t.Errorf("Int(bits=%d) = %q", bits, got)
		}
	}
	if got := Int(true, nil, 30); got != "0" {
		t.Errorf("negative zero = %q", got)
	}
	if got := Int(true, []uint32{0, 0}, 30); got != "0" {
		t.Errorf("negative zero digits = %q", got)
	}
	if got := Int(false, []uint32{0xffffffff}, 32); got != "4294967295" {
		t.Errorf("32-bit digit = %q", got)
	}
}

// The truncation rule is this package's own, so its table is hand-written.
func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
		cut  bool
	}{
		{"'abc'", 5, "'abc'", false},
		{"'abc'", 10, "'abc'", false},
		{"'abcdef'", 6, "'ab...", true},
		{"'abcdef'", 0, "...", true},
		{"'abcdef'", 3, "...", true},
		{"'abcdef'", 4, "'...", true},
		{"", 0, "", false},
		{"'日本語です'", 5, "'日...", true},
		{`'a\x00b'`, 8, `'a\x00b'`, false},
		{`'a\x00bcd'`, 8, `'a...`, true}, // keep 5 would split \x00
		{`'a\x00bcd'`, 9, `'a\x00...`, true},
		{`'\u200b\u200b'`, 12, `'\u200b...`, true},
		{`'\U0001f600xyz'`, 13, `'...`, true},
		{`'\U0001f600xyz'`, 14, `'\U0001f600...`, true},
		{`'a\\b\\c'`, 7, `'a\\...`, true},
		{`'a\\b\\c'`, 6, `'a...`, true},
		{`'\nabc'`, 6, `'\n...`, true},
		{`'\nabc'`, 5, `'...`, true},
		{"123456789012345678901234567890", 10, "1234567...", true},
	} {
		got, cut := Truncate(tc.in, tc.max)
		if got != tc.want || cut != tc.cut {
			t.Errorf("Truncate(%q, %d) = %q, %v; want %q, %v", tc.in, tc.max, got, cut, tc.want, tc.cut)
		}
	}
}

func TestTruncateRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune{'a', '\\', 'x', 'u', 'U', '0', '\'', 'é', '日', '😀', '\ufffd'}
	for i := 0; i < 20000; i++ {
		cps := make([]rune, rng.Intn(30))
		for j := range cps {
			if rng.Intn(3) == 0 {
				cps[j] = rune(rng.Intn(0x110000))
			} else {
				cps[j] = alphabet[rng.Intn(len(alphabet))]
			}
		}
		for _, in := range []string{Str(cps), string(cps)} {
			max := rng.Intn(40)
			got, cut := Truncate(in, max)
			n := utf8.RuneCountInString(got)
			switch {
			case !utf8.ValidString(got) && utf8.ValidString(in):
				t.Fatalf("Truncate(%q, %d) = %q: invalid UTF-8", in, max, got)
			case cut != (utf8.RuneCountInString(in) > max && utf8.RuneCountInString(in) > 3):
				t.Fatalf("Truncate(%q, %d): cut = %v", in, max, cut)
			case !cut && got != in:
				t.Fatalf("Truncate(%q, %d) = %q without cut", in, max, got)
			case cut && (!strings.HasSuffix(got, "...") || !strings.HasPrefix(in, strings.TrimSuffix(got, "..."))):
				t.Fatalf("Truncate(%q, %d) = %q: not prefix + ...", in, max, got)
			case cut && max >= 3 && n > max:
				t.Fatalf("Truncate(%q, %d) = %q: %d runes", in, max, got, n)
			}
		}
	}
}
