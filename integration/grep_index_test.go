package integration

import (
	"bytes"
	encbin "encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// grep's saved string table (cmd/pycoroner/grepindex.go): the first grep
// on a core builds the table of every str and bytes object's text and
// saves it beside the census index, later greps search it instead of the
// core. Every grep answers exactly as with --no-index (which reads the
// objects in the core, as grep did before the table), whatever the
// pattern: anchored and unanchored literals, case-insensitive, regexps
// without a literal, non-ASCII text of each str kind (Latin-1, BMP,
// astral) and bytes that are not UTF-8.

// scalarsLocals are the str and bytes locals of the threads scenario's
// scalars_leaf frame, as the oracle states them.
func scalarsLocals(t *testing.T, o *harness.Oracle) (harness.Thread, map[string]harness.Value) {
	t.Helper()
	for _, th := range o.Threads {
		for _, f := range th.Frames {
			if f.Function == "scalars_leaf" {
				return th, f.Locals
			}
		}
	}
	t.Fatal("the oracle has no scalars_leaf frame")
	return harness.Thread{}, nil
}

// plainStrValue is the value of a str whose repr has no escapes ('...'
// with no backslash), else "".
func plainStrValue(v harness.Value) string {
	r := v.Repr
	if v.Type != "str" || len(r) < 3 || r[0] != '\'' || r[len(r)-1] != '\'' || strings.ContainsAny(r[1:len(r)-1], `\'`) {
		return ""
	}
	return r[1 : len(r)-1]
}

type grepCase struct {
	args []string // grep's arguments after CORE
	// want: the str local of scalars_leaf every run must find, held by
	// that local ("" for none).
	want string
	// jsonOnly: checked as JSON only. The text renders the answer JSON
	// compares, so one of each string's five patterns is run as text.
	jsonOnly bool
}

// grepCases are the patterns asked of the threads core: for each str
// local with a plain value, its exact text, an unanchored piece, and the
// text in other case; then patterns of every other shape.
func grepCases(t *testing.T, locals map[string]harness.Value) []grepCase {
	var cases []grepCase
	for _, name := range []string{"ascii_text", "latin1_text", "bmp_text", "astral_text"} {
		v := plainStrValue(locals[name])
		if v == "" {
			t.Fatalf("local %s: no plain str value in the oracle (%+v)", name, locals[name])
		}
		_, first := utf8.DecodeRuneInString(v)
		_, last := utf8.DecodeLastRuneInString(v)
		cases = append(cases,
			grepCase{args: []string{"^" + regexp.QuoteMeta(v) + "$"}, want: name},
			grepCase{args: []string{"--type", "str", regexp.QuoteMeta(v[first:])}, want: name},
			grepCase{args: []string{"^" + regexp.QuoteMeta(v[:len(v)-last])}, want: name},
			grepCase{args: []string{regexp.QuoteMeta(v[first:]) + "$"}, want: name},
			grepCase{args: []string{"(?i)^" + regexp.QuoteMeta(strings.ToUpper(v)) + "$"}, want: name},
		)
		for i := len(cases) - 4; i < len(cases); i++ {
			cases[i].jsonOnly = true
		}
	}
	return append(cases,
		grepCase{args: []string{"--max", "0", `long string 0[0-9]+;`}, want: "long_text"},
		grepCase{args: []string{"(?i)LONG STRING 039"}, want: "long_text"},
		grepCase{args: []string{"--max", "3", `[0-9]{3}`}, want: ""},
		grepCase{args: []string{"--max", "0", `^$`}, want: ""},
		grepCase{args: []string{"--max", "2", ``}, want: ""},
		grepCase{args: []string{"--type", "bytes", `\x{FFFD}`}, want: ""}, // raw_bytes's \xff is not UTF-8
		grepCase{args: []string{"--type", "bytes", `^\x00`}, want: ""},
		grepCase{args: []string{`\x{FFFD}`}, want: ""},
		grepCase{args: []string{`pycoroner-|worker-containers`}, want: ""},
		grepCase{args: []string{`(?s)^\x00\n\t`}, want: ""},
		grepCase{args: []string{"--paths", "h\u00e9ll"}, want: ""},
		grepCase{args: []string{`no such text anywhere 1234`}, want: ""},
	)
}

func TestGrepSameAnswersWithStringTable(t *testing.T) {
	forEachCoreMode(t, "threads", []harness.Mode{harness.Gcore}, func(t *testing.T, res *harness.Result) {
		th, locals := scalarsLocals(t, res.Oracle)
		dir := t.TempDir()
		for i, c := range grepCases(t, locals) {
			for _, json := range []bool{true, false} {
				if !json && c.jsonOnly {
					continue
				}
				args := append([]string{"grep", res.CorePath}, c.args...)
				if json {
					args = append([]string{"grep", "--json", res.CorePath}, c.args...)
				}
				plain := runIndexed(t, dir, append([]string{"--no-index"}, args...)...)
				if plain.code != 0 || strings.Contains(string(plain.stderr), "index:") {
					t.Fatalf("%q --no-index: exit %d, or an index used: %s", args, plain.code, plain.stderr)
				}
				first := runIndexed(t, dir, args...)
				runs := []struct {
					name  string
					r     result
					trace string
				}{{"first", first, "index: saved " + dir + "/strings-"}}
				again := first
				if i == 0 {
					// After the first case every run loads the table: a
					// second run would be the first again.
					again = runIndexed(t, dir, args...)
					runs = append(runs, runs[0])
					runs[1].name, runs[1].r = "again", again
				}
				for _, r := range runs {
					if i > 0 || !json || r.name == "again" {
						r.trace = "index: loaded " + dir + "/strings-"
					}
					same := bytes.Equal(r.r.stdout, plain.stdout)
					if json {
						same = sameAnswer(t, r.r.stdout, plain.stdout)
					}
					if r.r.code != 0 || !same {
						t.Errorf("%q, %s run: exit %d, answer differs from --no-index:\n%s\n--- without the index:\n%s\nstderr: %s", args, r.name, r.r.code, r.r.stdout, plain.stdout, r.r.stderr)
					}
					if !strings.Contains(string(r.r.stderr), r.trace) || indexWarning(r.r.stderr) {
						t.Errorf("%q, %s run: stderr does not say %q, or warns of the index: %s", args, r.name, r.trace, r.r.stderr)
					}
				}
				if json && c.want != "" {
					checkGrepFinds(t, args, again.stdout, th, c.want, locals[c.want])
				}
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.pycidx"))
		if len(files) != 2 {
			t.Errorf("index cache holds %v, want one census index and one string table", files)
		}
	})
}

// checkGrepFinds: grep's answer holds the str the oracle names, at its
// address, held by its frame's local.
func checkGrepFinds(t *testing.T, args []string, stdout []byte, th harness.Thread, local string, v harness.Value) {
	t.Helper()
	var matches []struct {
		Address, Type, Value string
		Holders              []heapHolder
	}
	if _, err := unwrap(stdout, &matches); err != nil {
		t.Fatalf("%q: %v: %s", args, err, stdout)
	}
	want, err := v.Addr()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		if a, err := harness.ParseAddress(m.Address); err != nil || a != want {
			continue
		}
		if m.Type != "str" || (plainStrValue(v) != "" && m.Value != plainStrValue(v)) {
			t.Errorf("%q: %s found as %s %q, the oracle says %s", args, local, m.Type, m.Value, v.Repr)
		}
		for _, h := range m.Holders {
			if h.Kind == "frame" && h.ThreadID == th.ThreadID && h.Function == "scalars_leaf" && h.Name == local {
				return
			}
		}
		t.Errorf("%q: %s at %s is not held by its frame's local: %+v", args, local, v.Address, m.Holders)
		return
	}
	t.Errorf("%q: %s (%s at %s) not found among %d matches", args, local, v.Repr, v.Address, len(matches))
}

// A damaged string table, or one of a foreign format or schema version,
// is noticed, named in a warning, built again and saved, and the answer
// is the same; one of another census (the census index saved again since)
// is built again without a warning.
func TestGrepDamagedStringTableRebuilt(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	_, locals := scalarsLocals(t, res.Oracle)
	dir := t.TempDir()
	bmp := plainStrValue(locals["bmp_text"])
	// The first searches the table's text, the second is answered from
	// its exact index: each reads its own arrays.
	queries := [][]string{
		{"grep", "--json", res.CorePath, regexp.QuoteMeta(bmp)},
		{"grep", "--json", res.CorePath, "^" + regexp.QuoteMeta(bmp) + "$"},
	}
	var want [][]byte
	for i, args := range queries {
		r := runIndexed(t, dir, args...)
		if r.code != 0 || (i == 0 && !strings.Contains(string(r.stderr), "index: saved "+dir+"/strings-")) {
			t.Fatalf("%q: exit %d, or no string table saved: %s", args, r.code, r.stderr)
		}
		plain := runIndexed(t, dir, append([]string{"--no-index"}, args...)...)
		if !sameAnswer(t, r.stdout, plain.stdout) {
			t.Fatalf("%q: answer differs from --no-index: %s\n%s", args, r.stdout, plain.stdout)
		}
		want = append(want, resultOf(t, r.stdout))
	}
	file, data := savedFile(t, dir, "strings-*.pycidx")
	damages := map[string]func([]byte) []byte{
		// The header's versions (indexfile/format.go), its checksum made
		// right: a file another pycoroner wrote.
		"foreign format version": func(b []byte) []byte { return patchedHeader(b, 8) },
		"foreign schema version": func(b []byte) []byte { return patchedHeader(b, 12) },
		"text bit flipped": func(b []byte) []byte {
			c := bytes.Clone(b)
			c[arrayMiddle(t, b, "text")] ^= 1
			return c
		},
		"exact index bit flipped": func(b []byte) []byte {
			c := bytes.Clone(b)
			c[arrayMiddle(t, b, "exact_ids")] ^= 1
			return c
		},
	}
	for name, d := range fileDamages {
		damages[name] = d
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(file, damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
			warned := false
			for i, args := range queries {
				got := runIndexed(t, dir, args...)
				if got.code != 0 || !bytes.Equal(resultOf(t, got.stdout), want[i]) {
					t.Fatalf("%q: exit %d, answer differs after the string table was damaged: %s", args, got.code, got.stderr)
				}
				env, err := unwrap(got.stdout, &[]any{})
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(got.stderr), "warning: ") {
					if len(env.Warnings) == 0 || !strings.Contains(string(got.stderr), "index: saved "+dir+"/strings-") {
						t.Errorf("%q: the warning is not in the answer (%q), or the table not saved again: %s", args, env.Warnings, got.stderr)
					}
					warned = true
				}
			}
			if !warned {
				t.Errorf("no warning about the damaged string table")
			}
			for i, args := range queries {
				again := runIndexed(t, dir, args...)
				if !bytes.Equal(resultOf(t, again.stdout), want[i]) || !strings.Contains(string(again.stderr), "index: loaded "+dir+"/strings-") || strings.Contains(string(again.stderr), "warning") {
					t.Errorf("%q: the saved string table was not used, or answered differently: %s", args, again.stderr)
				}
			}
		})
	}
	t.Run("other census", func(t *testing.T) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := runIndexed(t, dir, "index", "--force", "--census-only", res.CorePath); r.code != 0 {
			t.Fatalf("index --force: exit %d: %s", r.code, r.stderr)
		}
		got := runIndexed(t, dir, queries[0]...)
		if !bytes.Equal(resultOf(t, got.stdout), want[0]) || strings.Contains(string(got.stderr), "warning") ||
			!strings.Contains(string(got.stderr), "index: saved "+dir+"/strings-") {
			t.Fatalf("answer differs, a warning, or no new string table after the census index was saved again: %s", got.stderr)
		}
	})
}

// patchedHeader is b with the u32 at off of its header changed and the
// header's checksum (its last 4 of 256 bytes) made right again.
func patchedHeader(b []byte, off int) []byte {
	c := bytes.Clone(b)
	le := encbin.LittleEndian
	le.PutUint32(c[off:], le.Uint32(c[off:])+1)
	le.PutUint32(c[252:], crc32.ChecksumIEEE(c[:252]))
	return c
}

// A damaged census index found only when grep first reads its addresses
// and reverse index (after the string table found a match) is rebuilt
// with a warning, and the answer is the same.
func TestGrepDamagedCensusPartRebuilt(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	_, locals := scalarsLocals(t, res.Oracle)
	dir := t.TempDir()
	args := []string{"grep", "--json", res.CorePath, "^" + regexp.QuoteMeta(plainStrValue(locals["astral_text"])) + "$"}
	want := runIndexed(t, dir, args...)
	if want.code != 0 {
		t.Fatalf("exit %d: %s", want.code, want.stderr)
	}
	file, data := savedFile(t, dir, "census-*.pycidx")
	// A bit of the middle of its address bitmap flipped: an array grep reads
	// only once the string table has found a match.
	c := bytes.Clone(data)
	c[arrayMiddle(t, data, "addr_words")] ^= 0x10
	if err := os.WriteFile(file, c, 0o600); err != nil {
		t.Fatal(err)
	}
	got := runIndexed(t, dir, args...)
	if got.code != 0 || !bytes.Equal(resultOf(t, got.stdout), resultOf(t, want.stdout)) {
		t.Fatalf("exit %d, answer differs after the census index was damaged: %s", got.code, got.stderr)
	}
	if !strings.Contains(string(got.stderr), "warning: saved index") {
		t.Errorf("no warning about the damaged census index: %s", got.stderr)
	}
	again := runIndexed(t, dir, args...)
	if !bytes.Equal(resultOf(t, again.stdout), resultOf(t, want.stdout)) || strings.Contains(string(again.stderr), "warning") {
		t.Errorf("answer differs, or a warning, after the rebuild: %s", again.stderr)
	}
}

// arrayMiddle is the offset of the middle of the array named name in an
// index file: its entry in the section table after the 256-byte header
// (indexfile/format.go: name [32], type, offset u64 at 40, length u64 at
// 48).
func arrayMiddle(t *testing.T, data []byte, name string) int {
	t.Helper()
	le := encbin.LittleEndian
	for e := 256; e+64 <= min(len(data), 1<<16); e += 64 {
		if string(bytes.TrimRight(data[e:e+32], "\x00")) == name {
			off, n := le.Uint64(data[e+40:]), le.Uint64(data[e+48:])
			if n == 0 || off+n > uint64(len(data)) {
				t.Fatalf("array %s: %d bytes at %d, in a file of %d", name, n, off, len(data))
			}
			return int(off + n/2)
		}
	}
	t.Fatalf("no array %s in the section table", name)
	return 0
}

// indexWarning: stderr warns of a saved index or string table (other
// warnings, such as more matches than shown, are the answer's).
func indexWarning(stderr []byte) bool {
	for _, line := range strings.Split(string(stderr), "\n") {
		if strings.HasPrefix(line, "warning: ") && (strings.Contains(line, "index") || strings.Contains(line, "string table")) {
			return true
		}
	}
	return false
}
