package strtable

import (
	"math/rand"
	"regexp"
	"runtime"
	"slices"
	"testing"
)

// tableOf lays texts out as Build does; odd entries are bytes objects.
func tableOf(texts []string) *Table {
	t := &Table{Off: []uint32{0}}
	for i, s := range texts {
		t.Blob = append(t.Blob, s...)
		t.IDs = append(t.IDs, uint32(3*i+1))
		f := uint8(0)
		if i%2 == 1 {
			f = FlagBytes
		}
		if i%5 == 0 {
			f |= FlagCut
		}
		t.Flags = append(t.Flags, f)
		t.Off = append(t.Off, uint32(len(t.Blob)))
		t.Counts[2*int(f&FlagBytes)]++
		if f&FlagCut != 0 {
			t.Counts[2*int(f&FlagBytes)+1]++
		}
	}
	return t
}

var searchPatterns = []string{
	`^user39999@example\.com$`, `user3`, `^user`, `com$`, `^$`, `(?i)USER39999@EXAMPLE`,
	`(?i)kelvin`, `(?i)straße`, `héllo`, `^日本`, `🐍!$`, `\x{FFFD}`, `\xff`, `[0-9]{3}`,
	`user1|user2`, `(user)+9`, `a{2,}`, `^(abc)$`, `(?s)x.y`, `(?m)^b`, ``, `\Aab\z`, `ab\b`,
	`(?i)k9`, `(?i)s@`,
}

func randomTexts(r *rand.Rand, n int) []string {
	pieces := []string{"user", "3", "9", "@example.com", "héllo", "日本", "🐍!", "\xff", "\xef\xbf\xbd",
		"\u212a", "K", "k", "ſ", "s", "Straße", "STRASSE", "ab", "a", "b", "\n", "x", "y", "abc", ""}
	out := make([]string, n)
	for i := range out {
		var s []byte
		for j := r.Intn(6); j > 0; j-- {
			s = append(s, pieces[r.Intn(len(pieces))]...)
		}
		out[i] = string(s)
	}
	return append(out, "user39999@example.com", "abc", "", "kelvin \u212aelvin", "user39999@example.com")
}

// TestSearchAsEachEntry: every way Search narrows the entries (anchored
// literal, required literal, case-free run) finds exactly the entries the
// regexp matches one by one, of each kind.
func TestSearchAsEachEntry(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	texts := randomTexts(r, 3000)
	tb := tableOf(texts)
	if err := tb.Check(3*len(texts) + 1); err != nil {
		t.Fatal(err)
	}
	for _, p := range searchPatterns {
		re := regexp.MustCompile(p)
		for _, k := range []Kinds{{true, true}, {true, false}, {false, true}} {
			var want []int
			for i, s := range texts {
				if k.has(tb.Flags[i]) && re.MatchString(s) {
					want = append(want, i)
				}
			}
			if got, err := tb.Search(re, k); err != nil || !slices.Equal(got, want) {
				t.Errorf("%q %+v: found %d entries, want %d (%v, want %v)", p, k, len(got), len(want), first(got), first(want))
			}
		}
	}
}

func first(v []int) []int { return v[:min(len(v), 8)] }

// A literal split over two entries is neither's.
func TestSearchLiteralAcrossEntries(t *testing.T) {
	tb := tableOf([]string{"xxab", "cdyy", "abcd"})
	if got, _ := tb.Search(regexp.MustCompile(`abcd`), Kinds{true, true}); !slices.Equal(got, []int{2}) {
		t.Errorf("found %v, want [2]", got)
	}
}

func TestRequiredLiteral(t *testing.T) {
	for p, want := range map[string]string{
		`^user39999@example\.com$`: "user39999@example.com",
		`(?i)user39999@example`:    "39999@",
		`(?i)password`:             "",
		`a|b`:                      "",
		`\x{FFFD}abc`:              "",
		`(foo)+bar`:                "foo",
		`x{2,}yz`:                  "yz",
	} {
		if got := string(RequiredLiteral(regexp.MustCompile(p))); got != want {
			t.Errorf("%q: %q, want %q", p, got, want)
		}
	}
}

func TestAnchoredLiteral(t *testing.T) {
	for _, c := range []struct {
		p          string
		lit        string
		start, end bool
	}{
		{`^abc$`, "abc", true, true}, {`^abc`, "abc", true, false}, {`abc$`, "abc", false, true},
		{`^(abc)$`, "abc", true, true}, {`^abc[0-9]$`, "abc", true, false}, {`(?i)^abc$`, "", false, false},
		{`(?m)^abc$`, "", false, false}, {`abc`, "", false, false}, {`^a|b$`, "", false, false},
	} {
		lit, start, end := anchoredLiteral(regexp.MustCompile(c.p))
		if string(lit) != c.lit || start != c.start || end != c.end {
			t.Errorf("%q: %q %v %v, want %q %v %v", c.p, lit, start, end, c.lit, c.start, c.end)
		}
	}
}

// Check refuses tables a damaged or forged file could hold whose shape is
// wrong; offsets out of order are found by the search that reads them.
func TestCheck(t *testing.T) {
	good := func() *Table { return tableOf([]string{"ab", "", "cde"}) }
	for name, damage := range map[string]func(*Table){
		"offset past text": func(tb *Table) { tb.Off[3] = 9 },
		"short flags":      func(tb *Table) { tb.Flags = tb.Flags[:2] },
		"no offsets":       func(tb *Table) { tb.Off = nil },
		"counts":           func(tb *Table) { tb.Counts[0]++ },
		"negative counts":  func(tb *Table) { tb.Counts[0], tb.Counts[2] = -1, 4 },
		"more than census": func(tb *Table) { tb.IDs = append(tb.IDs, 1, 2, 3, 4, 5, 6, 7, 8) },
	} {
		tb := good()
		damage(tb)
		if err := tb.Check(3); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	tb := good()
	if err := tb.Check(10); err != nil {
		t.Fatal(err)
	}
	if s, c := tb.Count(Kinds{true, true}); s != 3 || c != 1 {
		t.Errorf("counts %d %d, want 3 1", s, c)
	}
	if s, c := tb.Count(Kinds{false, true}); s != 1 || c != 0 {
		t.Errorf("bytes counts %d %d, want 1 0", s, c)
	}
	// Searches that read every offset find them out of order; one that
	// reads only some (a literal's) must not fail on them.
	for _, p := range []string{`^ab$`, `cd`, `(?i)x`} {
		for _, off := range [][]uint32{{0, 4, 2, 5}, {0, 9, 2, 5}, {0, 2, 1, 5}} {
			tb := good()
			tb.Off = off
			if err := tb.Check(10); err != nil {
				t.Fatalf("%v: %v", off, err)
			}
			if _, err := tb.Search(regexp.MustCompile(p), Kinds{true, true}); err != ErrDamaged && p != `cd` {
				t.Errorf("%q, offsets %v: %v, want ErrDamaged", p, off, err)
			}
		}
	}
}

// Split among workers, the text is cut at entry boundaries: no entry is
// lost or found twice.
func TestSearchSplit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	r := rand.New(rand.NewSource(2))
	var texts []string
	for len(texts) < 600000 {
		texts = append(texts, randomTexts(r, 3000)...)
	}
	tb := tableOf(texts)
	if len(tb.Blob) < 4<<20 {
		t.Fatalf("text of %d bytes: too small to be split", len(tb.Blob))
	}
	for _, p := range []string{`^user39999@example\.com$`, `user3`, `^abc`, `(?i)k9`, `(?m)^b`} {
		re := regexp.MustCompile(p)
		var want []int
		for i, s := range texts {
			if re.MatchString(s) {
				want = append(want, i)
			}
		}
		if got, err := tb.Search(re, Kinds{true, true}); err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: found %d entries, want %d", p, len(got), len(want))
		}
	}
}

// Every entry is among the candidates of its own text, and only entries
// of that text are.
func TestExactIndex(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	texts := randomTexts(r, 5000)
	tb := tableOf(texts)
	x := tb.BuildExact()
	if !x.Check(tb.Len()) || x.Check(tb.Len()+2) || !slices.IsSorted(x.Tags) {
		t.Fatal("Check or order: wrong")
	}
	for i, s := range texts {
		cands := x.Candidates([]byte(s))
		if !slices.Contains(cands, tb.IDs[i]) || !slices.IsSorted(cands) {
			t.Fatalf("entry %d (%q): candidates %v", i, s, cands)
		}
		same := 0
		for _, o := range texts {
			if o == s {
				same++
			}
		}
		if len(cands) != same {
			t.Errorf("%q: %d candidates, %d entries of that text", s, len(cands), same)
		}
	}
	if lit, ok := ExactLiteral(regexp.MustCompile(`^(héllo)$`)); !ok || string(lit) != "héllo" {
		t.Errorf("ExactLiteral: %q %v", lit, ok)
	}
	if _, ok := ExactLiteral(regexp.MustCompile(`^héllo`)); ok {
		t.Error("ExactLiteral of a prefix")
	}
	x.IDs = x.IDs[:3] // a damaged index: no panic
	for _, s := range texts {
		x.Candidates([]byte(s))
	}
}
