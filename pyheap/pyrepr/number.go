package pyrepr

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Float returns repr() of a Python float.
//
// CPython formats with PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0):
// the shortest digit string that round-trips (David Gay's dtoa mode 0; Go's
// strconv shortest formatting yields the same digits), placed according to
// decpt, the position of the decimal point relative to the digits
// (value = 0.d1d2...dn × 10**decpt):
//   - decpt <= -4 or decpt > 16: exponent notation d1[.d2...dn]e±XX with at
//     least two exponent digits and no ".0" (1e+16, 1.5e-05, 5e-324);
//   - otherwise fixed notation, padded with zeros, with ".0" appended when
//     there is no fractional part (123456789.0, 0.0001, -0.0).
//
// Infinities are "inf" and "-inf"; every NaN is "nan" (its sign is ignored).
func Float(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	// "-d.ddde±XX" with the shortest round-trip digits.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	epos := strings.IndexByte(s, 'e')
	mant, exp := s[:epos], s[epos+1:]
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	decpt := e + 1

	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case decpt <= -4 || decpt > 16:
		b.WriteString(digits[:1])
		if len(digits) > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		x := decpt - 1
		b.WriteByte('e')
		if x < 0 {
			b.WriteByte('-')
			x = -x
		} else {
			b.WriteByte('+')
		}
		if x < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.Itoa(x))
	case decpt <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -decpt))
		b.WriteString(digits)
	case decpt >= len(digits):
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", decpt-len(digits)))
		b.WriteString(".0")
	default:
		b.WriteString(digits[:decpt])
		b.WriteByte('.')
		b.WriteString(digits[decpt:])
	}
	return b.String()
}

// Int returns repr() of a Python int stored as CPython stores it: the
// magnitude as a little-endian array of digits of bitsPerDigit bits each
// (PyLong_SHIFT: 30 on these 64-bit builds, 15 on some others) and the sign
// separately (ob_size < 0 before 3.12, lv_tag sign bits from 3.12). Zero may
// be given as no digits or as zero digits; a negative zero prints as "0".
//
// The value is Σ digits[i] << (i*bitsPerDigit); digits are not masked, so a
// corrupt digit >= 2**bitsPerDigit still contributes its full value. There
// is no length limit: unlike CPython 3.11+ (and the 3.8–3.10 security
// releases), which refuse to convert ints of more than 4300 decimal digits
// by default, this always prints every digit; use [Truncate] for display.
// A bitsPerDigit outside 1..32 cannot describe a CPython int, and yields
// "<int: invalid digit size N>".
func Int(negative bool, digits []uint32, bitsPerDigit uint) string {
	if bitsPerDigit < 1 || bitsPerDigit > 32 {
		return "<int: invalid digit size " + strconv.FormatUint(uint64(bitsPerDigit), 10) + ">"
	}
	v := new(big.Int)
	d := new(big.Int)
	for i := len(digits) - 1; i >= 0; i-- {
		v.Lsh(v, bitsPerDigit)
		v.Add(v, d.SetUint64(uint64(digits[i])))
	}
	if negative {
		v.Neg(v)
	}
	return v.String()
}

// IntFromInt64 returns repr() of a Python int that fits in an int64, e.g.
// one decoded from a single-digit (compact) int.
func IntFromInt64(v int64) string {
	return strconv.FormatInt(v, 10)
}
