package linetable

// Location table entry kinds of CPython 3.11+ (Include/cpython/code.h,
// _PyCodeLocationInfoKind): bits 3..6 of an entry's first byte.
const (
	locShort0    = 0  // 0..9: short form, same line
	locOneLine0  = 10 // one-line form, line delta 0
	locOneLine1  = 11 // one-line form, line delta 1
	locOneLine2  = 12 // one-line form, line delta 2
	locNoColumns = 13 // line delta as signed varint, no columns
	locLong      = 14 // line delta as signed varint, then end line and columns
	locNone      = 15 // no location
)

// locationLine is PyCode_Addr2Line of CPython 3.11, 3.12 and 3.13
// (_PyCode_CheckLineNumber over _PyLineTable_NextAddressRange). Each entry
// starts with a byte that has bit 7 set; its low 3 bits are the length in
// code units minus one, bits 3..6 the kind. Only the line delta is decoded;
// the column data is skipped by scanning for the next byte with bit 7 set,
// as CPython does.
func locationLine(table []byte, firstLine, offset int) int {
	if offset < 0 {
		return firstLine
	}
	computed, end := firstLine, 0
	for p := 0; p < len(table); {
		first := table[p]
		computed += lineDelta(table, p)
		cur := computed
		if first>>3 == 0x1f { // bit 7 set and kind locNone
			cur = -1
		}
		end += (int(first&7) + 1) * 2 // code units are 2 bytes
		if end > offset {
			return cur
		}
		p++
		for p < len(table) && table[p]&0x80 == 0 {
			p++
		}
	}
	return -1
}

// lineDelta is get_line_delta: the line increment of the entry at table[p].
func lineDelta(table []byte, p int) int {
	switch (table[p] >> 3) & 15 {
	case locNoColumns, locLong:
		return signedVarint(table, p+1)
	case locOneLine1:
		return 1
	case locOneLine2:
		return 2
	default: // locShort0..9, locOneLine0, locNone
		return 0
	}
}

// signedVarint is scan_signed_varint: an unsigned varint (6-bit groups,
// least significant first, bit 6 = more follow) with the sign in bit 0.
// Bytes past the end of the table read as 0, which ends the varint (CPython
// would read the bytes object's NUL terminator there); groups that would
// shift beyond 32 bits are dropped, as are such bits in CPython's unsigned
// int.
func signedVarint(table []byte, p int) int {
	var val uint32
	for shift := uint(0); ; shift += 6 {
		var b byte
		if p < len(table) {
			b = table[p]
		}
		p++
		if shift < 32 {
			val |= uint32(b&63) << shift
		}
		if b&64 == 0 || p > len(table) {
			break
		}
	}
	if val&1 != 0 {
		return -int(int32(val >> 1))
	}
	return int(val >> 1)
}
