package linetable

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// Vectors written by testdata/gen.py (go generate) under each interpreter.
type codeVector struct {
	Origin     string   `json:"origin"`
	Name       string   `json:"name"`
	FirstLine  int      `json:"firstlineno"`
	Table      string   `json:"table"`
	CodeLen    int      `json:"code_len"`
	Lines      []*int   `json:"lines"`    // per 2-byte unit; nil = no line
	Extra      [][2]any `json:"extra"`    // [offset, line or null] from PyCode_Addr2Line
	Observed   [][2]int `json:"observed"` // [f_lasti, f_lineno] from live frames
	tableBytes []byte
}

type vectorFile struct {
	Python           string       `json:"python"`
	Minor            int          `json:"minor"`
	Code             []codeVector `json:"code"`
	SyntheticOffsets []int        `json:"synthetic_offsets"`
	Synthetic        []struct {
		Table     string `json:"table"`
		FirstLine int    `json:"firstlineno"`
		Lines     []*int `json:"lines"` // per SyntheticOffsets; nil = -1
	} `json:"synthetic"`
}

func loadVectors(t *testing.T, minor int) *vectorFile {
	t.Helper()
	path := filepath.Join("testdata", fmt.Sprintf("python3.%d.json", minor))
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing vectors (run go generate): %v", err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if v.Minor != minor || len(v.Code) < 50 {
		t.Fatalf("%s: minor %d, %d code objects", path, v.Minor, len(v.Code))
	}
	for i := range v.Code {
		c := &v.Code[i]
		if c.tableBytes, err = hex.DecodeString(c.Table); err != nil {
			t.Fatalf("%s: %s: %v", path, c.Name, err)
		}
		if len(c.Lines) != c.CodeLen/2 {
			t.Fatalf("%s: %s: %d lines for %d bytes", path, c.Name, len(c.Lines), c.CodeLen)
		}
	}
	return &v
}

func check(t *testing.T, v *vectorFile, c *codeVector, offset int, want *int, what string) bool {
	t.Helper()
	got, ok := Line(v.Minor, c.tableBytes, c.FirstLine, offset)
	switch {
	case want == nil && ok:
		t.Errorf("Python %s %s %s: offset %d (%s): got line %d, want none", v.Python, c.Origin, c.Name, offset, what, got)
	case want != nil && (!ok || got != *want):
		t.Errorf("Python %s %s %s: offset %d (%s): got %d, %v, want %d", v.Python, c.Origin, c.Name, offset, what, got, ok, *want)
	default:
		return true
	}
	return false
}

func TestVectors(t *testing.T) {
	for minor := 8; minor <= 15; minor++ {
		t.Run(fmt.Sprintf("3.%d", minor), func(t *testing.T) {
			v := loadVectors(t, minor)
			var n, none, extra, observed, failed int
			for i := range v.Code {
				c := &v.Code[i]
				for unit, want := range c.Lines {
					n++
					if want == nil {
						none++
					}
					if !check(t, v, c, unit*2, want, "co_lines") {
						failed++
					}
				}
				for _, e := range c.Extra {
					extra++
					var want *int
					if e[1] != nil {
						w := int(e[1].(float64))
						want = &w
					}
					if !check(t, v, c, int(e[0].(float64)), want, "PyCode_Addr2Line") {
						failed++
					}
				}
				for _, o := range c.Observed {
					observed++
					if !check(t, v, c, o[0], &o[1], "live f_lineno") {
						failed++
					}
				}
				if failed > 20 {
					t.Fatal("too many failures")
				}
			}
			if observed == 0 {
				t.Error("no live frame observations")
			}
			t.Logf("Python %s: %d code objects, %d unit offsets (%d without line), %d extra offsets, %d live observations",
				v.Python, len(v.Code), n, none, extra, observed)
		})
	}
}

// TestGarbage feeds random, truncated and mutated tables to every decoder;
// it must never panic, and must stay within CPython's semantics for
// negative offsets.
func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	var real [][]byte
	for minor := 8; minor <= 15; minor++ {
		for _, c := range loadVectors(t, minor).Code {
			real = append(real, c.tableBytes)
		}
	}
	offsets := []int{-1 << 40, -3, -1, 0, 1, 2, 7, 100, 255, 256, 4096, 1 << 20, 1 << 40}
	for i := 0; i < 20000; i++ {
		var table []byte
		switch i % 3 {
		case 0:
			table = make([]byte, rng.Intn(64))
			rng.Read(table)
		case 1:
			r := real[rng.Intn(len(real))]
			table = r[:rng.Intn(len(r)+1)]
		default:
			r := real[rng.Intn(len(real))]
			table = append([]byte(nil), r...)
			for j := 0; j < 3 && len(table) > 0; j++ {
				table[rng.Intn(len(table))] = byte(rng.Intn(256))
			}
		}
		for _, minor := range []int{0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16} {
			for _, off := range append(offsets, rng.Intn(1<<16)) {
				line, ok := Line(minor, table, 17, off)
				if minor >= 10 && minor <= 15 && off < 0 && (!ok || line != 17) {
					t.Fatalf("minor %d table %x offset %d: got %d, %v; want firstLine", minor, table, off, line, ok)
				}
				if (minor < 8 || minor > 15) && ok {
					t.Fatalf("unsupported minor %d gave ok", minor)
				}
			}
		}
	}
}

// TestSynthetic checks malformed tables (random bytes, installed into a
// code object with code.replace) against the interpreter's own
// PyCode_Addr2Line.
func TestSynthetic(t *testing.T) {
	for minor := 8; minor <= 15; minor++ {
		v := loadVectors(t, minor)
		if len(v.Synthetic) < 100 {
			t.Fatalf("Python %s: only %d synthetic tables", v.Python, len(v.Synthetic))
		}
		failed := 0
		for _, s := range v.Synthetic {
			table, err := hex.DecodeString(s.Table)
			if err != nil || len(s.Lines) != len(v.SyntheticOffsets) {
				t.Fatalf("Python %s: bad synthetic vector %q", v.Python, s.Table)
			}
			for i, off := range v.SyntheticOffsets {
				got, ok := Line(minor, table, s.FirstLine, off)
				want := s.Lines[i]
				if (want == nil) == ok || (ok && got != *want) {
					w := "none"
					if want != nil {
						w = fmt.Sprint(*want)
					}
					t.Errorf("Python %s: table %x first %d offset %d: got %d, %v; want %s", v.Python, table, s.FirstLine, off, got, ok, w)
					if failed++; failed > 20 {
						t.FailNow()
					}
				}
			}
		}
	}
}

// On some malformed tables CPython reads beyond the bytes object's NUL
// terminator, so there is nothing to compare with; the result follows the
// documented rule.
func TestBeyondCPython(t *testing.T) {
	for _, tc := range []struct {
		minor int
		table []byte
		off   int
		line  int
		ok    bool
	}{
		{10, []byte{4, 0, 0, 3}, 4, 0, false},                                                   // trailing zero-length range, offset past the end
		{10, []byte{4, 0, 0}, 4, 0, false},                                                      // same with an odd length
		{11, []byte{0xe8, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f}, 0, -(1<<31 - 1) + 5, true}, // 7-byte varint: bits past 32 dropped, 0xffffffff -> -(2**31-1)
	} {
		line, ok := Line(tc.minor, tc.table, 5, tc.off)
		if line != tc.line || ok != tc.ok {
			t.Errorf("Line(%d, %x, 5, %d) = %d, %v; want %d, %v", tc.minor, tc.table, tc.off, line, ok, tc.line, tc.ok)
		}
	}
}
