package pyheap

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/pycoroner/pycoroner/pyheap/layout"
	"github.com/pycoroner/pycoroner/pyheap/pyrepr"
)

// Kind classifies a type by how pyheap decodes its instances.
type Kind int

const (
	KindOther Kind = iota
	KindNone
	KindBool
	KindInt
	KindFloat
	KindStr
	KindBytes
	KindList
	KindTuple
	KindDict
	KindSet
	KindFrozenSet
	KindModule
	KindFunction
	KindCode
	KindCell
	KindType
	KindFrame
	KindException
)

// Type is a decoded type object.
type Type struct {
	Addr       uint64
	Name       string // tp_name: "int", "collections.OrderedDict", "Point"
	Flags      uint64
	Basicsize  int64
	Itemsize   int64
	Dictoffset int64
	Kind       Kind

	// how the heap walkers treat instances, set on first use (census
	// workers may race to set it; they compute the same thing)
	walk atomic.Pointer[typeWalk]

	// which census (high 32 bits) and this type's index in that census's
	// type table (low 32 bits); census workers read it concurrently
	censusKey atomic.Uint64
}

// ShortName is the type's __name__: tp_name after its last dot.
func (t *Type) ShortName() string {
	if i := strings.LastIndexByte(t.Name, '.'); i >= 0 {
		return t.Name[i+1:]
	}
	return t.Name
}

// Heap reports whether the type was created at run time (a class statement).
func (t *Type) Heap(r *Runtime) bool {
	return r.L.TPFlagsHeapType.In(t.Flags)
}

// TypeOf returns the type of the object at addr.
func (r *Runtime) TypeOf(obj uint64) (*Type, error) {
	if obj == 0 {
		return nil, ErrNull
	}
	tp, err := r.m.ptr(r.L.ObType.Add(obj))
	if err != nil {
		return nil, fmt.Errorf("object 0x%x: %w", obj, err)
	}
	return r.typeAt(tp)
}

// TypeAt decodes the type object at tp (an object whose own type is a
// type): what finds classes that have no instance.
func (r *Runtime) TypeAt(tp uint64) (*Type, error) { return r.typeAt(tp) }

func (r *Runtime) typeAt(tp uint64) (*Type, error) {
	// Most lookups hit a small direct-mapped cache in front of the map: a
	// census asks millions of times, mostly for a handful of types.
	slot := &r.typeCache[(tp>>4)&(typeCacheSize-1)]
	if slot.addr == tp && slot.t != nil {
		return slot.t, nil
	}
	// The map is shared by census workers (each has its own copy of the
	// Runtime, and so of typeCache): one type must stay one *Type. The
	// type is read outside the lock, since reading it may look types up.
	r.typesMu.Lock()
	t, ok := r.types[tp]
	r.typesMu.Unlock()
	if !ok {
		var err error
		if t, err = r.readType(tp); err != nil {
			t = nil
		}
		r.typesMu.Lock()
		if first, ok := r.types[tp]; ok {
			t = first
		} else {
			r.types[tp] = t
		}
		r.typesMu.Unlock()
	}
	if t == nil {
		return nil, fmt.Errorf("0x%x is not a readable type object", tp)
	}
	*slot = typeCacheEntry{tp, t}
	return t, nil
}

func (r *Runtime) readType(tp uint64) (*Type, error) {
	L := r.L
	if tp == 0 || tp%8 != 0 {
		return nil, fmt.Errorf("bad type pointer 0x%x", tp)
	}
	// A type's own type must be a type: metatypes have TYPE_SUBCLASS set.
	meta, err := r.m.ptr(L.ObType.Add(tp))
	if err != nil {
		return nil, fmt.Errorf("type 0x%x: %w", tp, err)
	}
	// PyType_Type's address comes from the binary, so it needs no check:
	// then a damaged page holding PyType_Type does not make every static
	// type unreadable.
	if meta != r.static.typeType || meta == 0 {
		mflags, err := r.m.u64(L.TypeFlags.Add(meta))
		if err != nil || !L.TPFlagsTypeSubclass.In(mflags) {
			return nil, fmt.Errorf("0x%x is not a type object", tp)
		}
	}
	t := &Type{Addr: tp}
	namep, err := r.m.ptr(L.TypeName.Add(tp))
	if err != nil {
		return nil, err
	}
	if t.Name, err = r.m.img.CString(namep, 256); err != nil {
		t.Name = unreadableTypeName(namep)
		if name, ok := r.fallbackName(tp); ok {
			t.Name = name
		}
	}
	if t.Flags, err = r.m.u64(L.TypeFlags.Add(tp)); err != nil {
		return nil, err
	}
	if t.Basicsize, err = r.m.i64(L.TypeBasicsize.Add(tp)); err != nil {
		return nil, err
	}
	if t.Itemsize, err = r.m.i64(L.TypeItemsize.Add(tp)); err != nil {
		return nil, err
	}
	if t.Dictoffset, err = r.m.i64(L.TypeDictoffset.Add(tp)); err != nil {
		return nil, err
	}
	// A word that merely looks like a pointer can land on memory whose
	// "type" has the type flag set by chance: demand what every type in
	// use has.
	if L.TPFlagsReady > 0 && !L.TPFlagsReady.In(t.Flags) {
		return nil, fmt.Errorf("0x%x is not a ready type object", tp)
	}
	if t.Basicsize < 16 || t.Basicsize > 1<<20 || t.Itemsize < 0 || t.Itemsize > 1<<16 || !plausibleTypeName(t.Name) {
		return nil, fmt.Errorf("0x%x is not a plausible type object (%q, size %d)", tp, t.Name, t.Basicsize)
	}
	t.Kind = r.classify(t)
	return t, nil
}

// plausibleTypeName accepts what tp_name strings look like.
func plausibleTypeName(name string) bool {
	if name == "" || len(name) > 200 {
		return false
	}
	if strings.HasPrefix(name, "<unreadable type name") {
		return true
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || c == utf8.RuneError {
			return false
		}
	}
	return true
}

// classify recognises CPython's own (static) types by name and flags.
func (r *Runtime) classify(t *Type) Kind {
	L := r.L
	has := func(flag layout.Flag) bool { return flag.In(t.Flags) }
	if has(L.TPFlagsBaseExcSubclass) {
		return KindException
	}
	if has(L.TPFlagsHeapType) {
		return KindOther
	}
	switch t.Name {
	case "NoneType":
		return KindNone
	case "bool":
		return KindBool
	case "int":
		if has(L.TPFlagsLongSubclass) {
			return KindInt
		}
	case "float":
		return KindFloat
	case "str":
		if has(L.TPFlagsUnicodeSubclass) {
			return KindStr
		}
	case "bytes":
		if has(L.TPFlagsBytesSubclass) {
			return KindBytes
		}
	case "list":
		return KindList
	case "tuple":
		return KindTuple
	case "dict", "frozendict": // frozendict (3.15+): a PyDictObject and its hash
		return KindDict
	case "set":
		return KindSet
	case "frozenset":
		return KindFrozenSet
	case "module":
		return KindModule
	case "function":
		return KindFunction
	case "code":
		return KindCode
	case "cell":
		return KindCell
	case "type":
		return KindType
	case "frame":
		return KindFrame
	}
	if has(L.TPFlagsTypeSubclass) {
		return KindType
	}
	return KindOther
}

// varSize reads ob_size.
func (r *Runtime) varSize(obj uint64) (int64, error) {
	return r.m.i64(r.L.ObSize.Add(obj))
}

// StrValue decodes a str object as Go text (lone surrogates become U+FFFD).
func (r *Runtime) StrValue(obj uint64) (string, error) {
	cps, err := r.strN(obj, maxStrLen)
	return string(cps), err
}

// strData reads a str's header: where its code points are, how many,
// their width in bytes (1, 2 or 4), and whether they are all ASCII.
func (r *Runtime) strData(obj uint64) (data uint64, length int64, kind uint32, ascii bool, err error) {
	L := r.L
	length, err = r.m.i64(L.UnicodeLength.Add(obj))
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("str 0x%x: %w", obj, err)
	}
	if length < 0 {
		return 0, 0, 0, false, fmt.Errorf("str 0x%x: negative length %d", obj, length)
	}
	state, err := r.m.u32(L.UnicodeState.Add(obj))
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("str 0x%x: %w", obj, err)
	}
	kind = (state >> uint(L.UnicodeKindShift)) & (1<<uint(L.UnicodeKindBits) - 1)
	compact := state>>uint(L.UnicodeCompactShift)&1 == 1
	ascii = state>>uint(L.UnicodeASCIIShift)&1 == 1
	if L.HasUnicodeReady() && state>>uint(L.UnicodeReadyShift)&1 == 0 {
		return 0, 0, 0, false, fmt.Errorf("str 0x%x is a legacy string that is not ready", obj)
	}
	switch {
	case compact && ascii:
		data = obj + uint64(L.ASCIISize)
	case compact:
		data = obj + uint64(L.CompactUnicodeSize)
	default:
		if data, err = r.m.ptr(L.UnicodeDataAny.Add(obj)); err != nil {
			return 0, 0, 0, false, fmt.Errorf("str 0x%x data: %w", obj, err)
		}
	}
	if kind != 1 && kind != 2 && kind != 4 {
		return 0, 0, 0, false, fmt.Errorf("str 0x%x: bad kind %d", obj, kind)
	}
	return data, length, kind, ascii, nil
}

func (r *Runtime) strN(obj uint64, limit int64) ([]rune, error) {
	data, length, kind, _, err := r.strData(obj)
	if err != nil {
		return nil, err
	}
	n := length
	if n > limit {
		n = limit
	}
	raw, err := r.m.bytes(data, int(n)*int(kind))
	if err != nil {
		return nil, fmt.Errorf("str 0x%x data: %w", obj, err)
	}
	out := make([]rune, n)
	for i := range out {
		out[i] = codePoint(raw, kind, i)
	}
	if length > limit {
		return out, errTruncated
	}
	return out, nil
}

// codePoint is the i-th code point of a str's data raw, of kind (1, 2
// or 4 bytes each).
func codePoint(raw []byte, kind uint32, i int) rune {
	switch kind {
	case 1:
		return rune(raw[i])
	case 2:
		return rune(binary.LittleEndian.Uint16(raw[2*i:]))
	default:
		return rune(binary.LittleEndian.Uint32(raw[4*i:]))
	}
}

var errTruncated = fmt.Errorf("value truncated")

// StrASCII returns the text of an all-ASCII str as the bytes in the image
// (at most limit of them, and whether it was cut), without decoding it;
// ok is false for any other str. The bytes are the image's: they must not
// be kept or changed. (grep reads every str of a heap: decoding each into
// runes and a Go string was a third of its time.)
func (r *Runtime) StrASCII(obj uint64, limit int) (text []byte, cut, ok bool, err error) {
	data, length, kind, ascii, err := r.strData(obj)
	if err != nil || !ascii || kind != 1 {
		return nil, false, false, err
	}
	n := min(length, int64(limit))
	if text, err = r.m.bytes(data, int(n)); err != nil {
		return nil, false, false, fmt.Errorf("str 0x%x data: %w", obj, err)
	}
	return text, length > n, true, nil
}

// Bytes decodes a bytes object's contents, at most limit bytes.
func (r *Runtime) Bytes(obj uint64, limit int) ([]byte, bool, error) {
	n, err := r.varSize(obj)
	if err != nil {
		return nil, false, fmt.Errorf("bytes 0x%x: %w", obj, err)
	}
	if n < 0 {
		return nil, false, fmt.Errorf("bytes 0x%x: negative size %d", obj, n)
	}
	cut := false
	if n > int64(limit) {
		n, cut = int64(limit), true
	}
	b, err := r.m.bytes(r.L.BytesData.Add(obj), int(n))
	return b, cut, err
}

// intDigits reads an int's sign and digits.
func (r *Runtime) intDigits(obj uint64) (neg bool, digits []uint32, err error) {
	L := r.L
	var ndigits int64
	if L.HasLongTag() {
		tag, err := r.m.u64(L.LongTag.Add(obj))
		if err != nil {
			return false, nil, err
		}
		ndigits = int64(tag >> uint(L.LongNonSizeBits))
		sign := tag & 3 // 0 positive, 1 zero, 2 negative
		if sign == 1 {
			ndigits = 0
		}
		neg = sign == 2
	} else {
		size, err := r.varSize(obj)
		if err != nil {
			return false, nil, err
		}
		neg = size < 0
		if size < 0 {
			size = -size
		}
		ndigits = size
	}
	if ndigits < 0 || ndigits > maxIntDigits {
		return false, nil, fmt.Errorf("int 0x%x: %d digits is out of range", obj, ndigits)
	}
	raw, err := r.m.bytes(L.LongDigits.Add(obj), int(ndigits)*int(L.LongDigitSize))
	if err != nil {
		return false, nil, err
	}
	digits = make([]uint32, ndigits)
	for i := range digits {
		if L.LongDigitSize == 2 {
			digits[i] = uint32(binary.LittleEndian.Uint16(raw[2*i:]))
		} else {
			digits[i] = binary.LittleEndian.Uint32(raw[4*i:])
		}
	}
	return neg, digits, nil
}

// IntRepr returns repr() of an int object.
func (r *Runtime) IntRepr(obj uint64) (string, error) {
	neg, digits, err := r.intDigits(obj)
	if err != nil {
		return "", err
	}
	return pyrepr.Int(neg, digits, uint(r.L.LongShift)), nil
}

// Int64 reads an int object that fits in 64 bits.
func (r *Runtime) Int64(obj uint64) (int64, error) {
	neg, digits, err := r.intDigits(obj)
	if err != nil {
		return 0, err
	}
	var v uint64
	shift := uint(r.L.LongShift)
	for i := len(digits) - 1; i >= 0; i-- {
		if v>>(64-shift) != 0 {
			return 0, fmt.Errorf("int 0x%x does not fit in 64 bits", obj)
		}
		v = v<<shift | uint64(digits[i])
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// Float reads a float object's value.
func (r *Runtime) Float(obj uint64) (float64, error) {
	bits, err := r.m.u64(r.L.FloatValue.Add(obj))
	return math.Float64frombits(bits), err
}

// shortText renders code points for use in names (not a repr).
func shortText(cps []rune) string {
	var b strings.Builder
	for _, c := range cps {
		if !utf8.ValidRune(c) {
			c = utf8.RuneError
		}
		b.WriteRune(c)
	}
	return b.String()
}

// forgetTypes drops every decoded type, after the layout changed.
func (r *Runtime) forgetTypes() {
	r.typesMu.Lock()
	r.types = map[uint64]*Type{}
	r.typesMu.Unlock()
	r.typeCache = [typeCacheSize]typeCacheEntry{}
}

// renameTypes names, in place, the types read before their names became
// known from memory (typenames.go): a census in progress holds on to
// them, and one type must stay one *Type.
func (r *Runtime) renameTypes() {
	r.typesMu.Lock()
	defer r.typesMu.Unlock()
	for tp, t := range r.types {
		if t == nil || !strings.HasPrefix(t.Name, "<unreadable") {
			continue
		}
		if name, ok := r.fallback[tp]; ok {
			t.Name = name
			t.Kind = r.classify(t)
			t.walk.Store(nil)
		}
	}
}
