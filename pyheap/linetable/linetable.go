// Package linetable maps a bytecode offset of a CPython code object to its
// source line, for CPython 3.8 through 3.13, by decoding the code object's
// line table exactly as that version's PyCode_Addr2Line does (which is what
// frame.f_lineno and tracebacks report for a frame that is not being traced).
//
// Three formats are involved (CPython's Objects/lnotab_notes.txt and
// Objects/locations.md):
//   - 3.8, 3.9: co_lnotab, pairs of (unsigned byte-offset increment, signed
//     line increment);
//   - 3.10: co_linetable of PEP 626, pairs of (unsigned byte length of a
//     range, signed line delta, -128 meaning "no line");
//   - 3.11+: co_linetable location table, variable-length entries of code
//     units with varint-encoded line deltas and column data.
//
// The decoders never index outside the table and every loop is bounded by
// its length, so corrupt tables read from a core dump yield some answer
// (possibly ok=false) rather than a panic.
package linetable

//go:generate python3 testdata/gen.py --all

// Line returns the source line of the instruction at byte offset offset in
// a code object of CPython 3.minor whose line table is table (co_lnotab for
// 3.8/3.9, co_linetable for 3.10+) and whose co_firstlineno is firstLine.
//
// offset is in bytes from the start of the bytecode: f_lasti for 3.8/3.9,
// f_lasti*2 for 3.10, and (prev_instr - _PyCode_CODE(co)) in bytes for 3.11+.
//
// The result is what that version's PyCode_Addr2Line returns, with its -1
// ("no line number") reported as ok=false and line=0:
//   - 3.8/3.9: any offset, including negative and past-the-end ones, gets a
//     line (firstLine when the table is empty or offset precedes all
//     entries; the last line past the end);
//   - 3.10+: a negative offset gives firstLine; an offset in a range
//     without a line, or past the end of the table, gives ok=false.
//
// minor values other than 8..15 give ok=false (3.14 and 3.15 keep 3.11's location table).
func Line(minor int, table []byte, firstLine int, offset int) (line int, ok bool) {
	switch {
	case minor == 8 || minor == 9:
		line = lnotabLine(table, firstLine, offset)
	case minor == 10:
		line = pep626Line(table, firstLine, offset)
	case minor >= 11 && minor <= 15:
		line = locationLine(table, firstLine, offset)
	default:
		return 0, false
	}
	if line == -1 {
		return 0, false
	}
	return line, true
}

// lnotabLine is PyCode_Addr2Line of CPython 3.8 and 3.9. A trailing odd
// byte is ignored, as CPython does (it uses len/2 pairs).
func lnotabLine(table []byte, firstLine, offset int) int {
	line, addr := firstLine, 0
	for i := 0; i+1 < len(table); i += 2 {
		addr += int(table[i])
		if addr > offset {
			break
		}
		line += int(int8(table[i+1]))
	}
	return line
}

// pep626Line is PyCode_Addr2Line of CPython 3.10 (_PyCode_CheckLineNumber
// over PyLineTable_NextAddressRange). Each entry is one range of
// table[i] bytes whose line is the running line plus int8(table[i+1]),
// or none for -128. Zero-length ranges only move the running line.
//
// On corrupt input CPython may read past the table: a missing second byte
// of a final entry is read as 0 (CPython would read the bytes object's NUL
// terminator), and running off the end while skipping zero-length entries
// gives -1.
func pep626Line(table []byte, firstLine, offset int) int {
	if offset < 0 {
		return firstLine
	}
	computed, end := firstLine, 0
	for i := 0; i < len(table); i += 2 {
		end += int(table[i])
		ldelta := 0
		if i+1 < len(table) {
			ldelta = int(int8(table[i+1]))
		}
		cur := -1
		if ldelta != -128 {
			computed += ldelta
			cur = computed
		}
		if end > offset {
			return cur
		}
	}
	return -1
}
