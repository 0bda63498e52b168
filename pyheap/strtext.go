package pyheap

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// AppendStrText appends the text of the str obj to dst as UTF-8, at most
// limit code points of it, and says whether it was cut. The bytes are
// those of string(text) for the text StrLimited decodes (lone surrogates
// become U+FFFD), so a regexp matches them as it matches that string; an
// all-ASCII str is copied as it lies. On error dst is returned unchanged.
// (The saved string table of grep holds every str of a heap this way.)
func (r *Runtime) AppendStrText(dst []byte, obj uint64, limit int) ([]byte, bool, error) {
	data, length, kind, _, err := r.strData(obj)
	if err != nil {
		return dst, false, err
	}
	n := min(length, int64(limit))
	raw, err := r.m.bytes(data, int(n)*int(kind))
	if err != nil {
		return dst, false, fmt.Errorf("str 0x%x data: %w", obj, err)
	}
	cut := length > n
	if kind == 1 && IsASCII(raw) {
		return append(dst, raw...), cut, nil
	}
	for i := 0; i < int(n); i++ {
		dst = utf8.AppendRune(dst, codePoint(raw, kind, i))
	}
	return dst, cut, nil
}

// IsASCII says that no byte of b has its high bit set (8 bytes at a
// time). A str whose header says ASCII but whose bytes do not, in a
// damaged core, is decoded as any other.
func IsASCII(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
