package pyheap

import (
	"encoding/binary"
	"fmt"
)

// SeqItems returns up to limit item pointers of a list or tuple and its length.
func (r *Runtime) SeqItems(obj uint64, kind Kind, limit int) ([]uint64, int64, error) {
	n, err := r.varSize(obj)
	if err != nil {
		return nil, 0, err
	}
	if n < 0 || n > 1<<40 {
		return nil, 0, fmt.Errorf("sequence 0x%x: bad size %d", obj, n)
	}
	var base uint64
	if kind == KindList {
		if base, err = r.m.ptr(r.L.ListItems.Add(obj)); err != nil {
			return nil, n, err
		}
		if base == 0 && n > 0 {
			return nil, n, fmt.Errorf("list 0x%x: NULL items with size %d", obj, n)
		}
	} else {
		base = r.L.TupleItems.Add(obj)
	}
	count := n
	if count > int64(limit) {
		count = int64(limit)
	}
	return r.words(base, int(count), n)
}

func (r *Runtime) words(base uint64, count int, total int64) ([]uint64, int64, error) {
	raw, err := r.m.bytes(base, count*8)
	if err != nil {
		return nil, total, err
	}
	out := make([]uint64, count)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	return out, total, nil
}

// DictItem is one key/value pair of a dict.
type DictItem struct{ Key, Value uint64 }

// keysTable is a decoded PyDictKeysObject header.
type keysTable struct {
	entries  uint64 // address of the first entry
	nentries int64
	entrySz  uint64
	keyOff   uint64
	valueOff uint64
}

func (r *Runtime) readKeys(keys uint64) (keysTable, error) {
	L := r.L
	var kt keysTable
	nentries, err := r.m.i64(L.DictKeysNentries.Add(keys))
	if err != nil {
		return kt, fmt.Errorf("dict keys 0x%x: %w", keys, err)
	}
	var size, indexBytes uint64
	kt.entrySz, kt.keyOff, kt.valueOff = uint64(L.DictKeyEntrySize), uint64(L.DictKeyEntryKey), uint64(L.DictKeyEntryValue)
	if L.DictKeysSize.Has() { // 3.8-3.10
		s, err := r.m.i64(L.DictKeysSize.Add(keys))
		if err != nil {
			return kt, err
		}
		if s <= 0 || s > 1<<32 || s&(s-1) != 0 {
			return kt, fmt.Errorf("dict keys 0x%x: bad size %d", keys, s)
		}
		size = uint64(s)
		indexBytes = size * uint64(indexWidth(int64(size)))
	} else { // 3.11+
		log2, err := r.m.u8(L.DictKeysLog2Size.Add(keys))
		if err != nil {
			return kt, err
		}
		log2idx, err := r.m.u8(L.DictKeysLog2IndexBytes.Add(keys))
		if err != nil {
			return kt, err
		}
		kind, err := r.m.u8(L.DictKeysKind.Add(keys))
		if err != nil {
			return kt, err
		}
		if log2 > 40 || log2idx > 43 {
			return kt, fmt.Errorf("dict keys 0x%x: bad log2 size %d", keys, log2)
		}
		size, indexBytes = 1<<log2, 1<<log2idx
		if int64(kind) != L.DictKeysKindGeneral {
			kt.entrySz, kt.keyOff, kt.valueOff = uint64(L.DictUnicodeEntrySize), uint64(L.DictUnicodeEntryKey), uint64(L.DictUnicodeEntryValue)
		}
	}
	if nentries < 0 || uint64(nentries) > size || nentries > maxDictEntries {
		return kt, fmt.Errorf("dict keys 0x%x: %d entries in a table of %d", keys, nentries, size)
	}
	kt.nentries = nentries
	kt.entries = L.DictKeysIndices.Add(keys) + indexBytes
	return kt, nil
}

// DictItems returns up to limit live items of a dict, in insertion order,
// and the dict's length.
func (r *Runtime) DictItems(obj uint64, limit int) ([]DictItem, int64, error) {
	L := r.L
	used, err := r.m.i64(L.DictUsed.Add(obj))
	if err != nil {
		return nil, 0, fmt.Errorf("dict 0x%x: %w", obj, err)
	}
	keys, err := r.m.ptr(L.DictKeys.Add(obj))
	if err != nil || keys == 0 {
		return nil, used, fmt.Errorf("dict 0x%x keys: %v", obj, err)
	}
	values, err := r.m.ptr(L.DictValues.Add(obj))
	if err != nil {
		return nil, used, err
	}
	if values != 0 && L.DictValuesValues.Has() {
		values = L.DictValuesValues.Add(values)
	}
	items, err := r.keysItems(keys, values, limit)
	return items, used, err
}

// keysItems walks a keys table; values, when set, is a split table's
// value array.
func (r *Runtime) keysItems(keys, values uint64, limit int) ([]DictItem, error) {
	var out []DictItem
	err := r.eachKeysItem(keys, values, func(k, v uint64) bool {
		out = append(out, DictItem{Key: k, Value: v})
		return len(out) < limit
	})
	return out, err
}

// eachKeysItem calls fn for each live (key, value) of a keys table, in
// insertion order, until fn returns false. It allocates nothing: the
// census calls it for millions of dicts.
func (r *Runtime) eachKeysItem(keys, values uint64, fn func(k, v uint64) bool) error {
	var kt keysTable
	if values != 0 && keys == r.lastKeysAt {
		// Instances of one class share their keys table: read it once.
		kt = r.lastKeys
	} else {
		var err error
		if kt, err = r.readKeys(keys); err != nil {
			return err
		}
		if values != 0 {
			r.lastKeys, r.lastKeysAt = kt, keys
		}
	}
	const chunk = 512
	for start := int64(0); start < kt.nentries; start += chunk {
		n := kt.nentries - start
		if n > chunk {
			n = chunk
		}
		raw, err := r.m.bytes(kt.entries+uint64(start)*kt.entrySz, int(uint64(n)*kt.entrySz))
		if err != nil {
			return fmt.Errorf("dict entries at 0x%x: %w", kt.entries, err)
		}
		var vals []byte
		if values != 0 {
			if vals, err = r.m.bytes(values+uint64(start)*8, int(n)*8); err != nil {
				return fmt.Errorf("dict values at 0x%x: %w", values, err)
			}
		}
		for i := int64(0); i < n; i++ {
			e := raw[uint64(i)*kt.entrySz:]
			k := binary.LittleEndian.Uint64(e[kt.keyOff:])
			var v uint64
			if vals != nil {
				v = binary.LittleEndian.Uint64(vals[8*i:])
			} else {
				v = binary.LittleEndian.Uint64(e[kt.valueOff:])
			}
			if k != 0 && v != 0 && !fn(k, v) {
				return nil
			}
		}
	}
	return nil
}

// eachDictItem calls fn for each item of a dict object.
func (r *Runtime) eachDictItem(obj uint64, fn func(k, v uint64) bool) error {
	L := r.L
	keys, err := r.m.ptr(L.DictKeys.Add(obj))
	if err != nil || keys == 0 {
		return fmt.Errorf("dict 0x%x keys: %v", obj, err)
	}
	values, err := r.m.ptr(L.DictValues.Add(obj))
	if err != nil {
		return err
	}
	if values != 0 && L.DictValuesValues.Has() {
		values = L.DictValuesValues.Add(values)
	}
	return r.eachKeysItem(keys, values, fn)
}

// eachSeqItem calls fn for each item of a list or tuple.
func (r *Runtime) eachSeqItem(obj uint64, kind Kind, fn func(i int, item uint64)) error {
	raw, err := r.seqItems(obj, kind)
	if err != nil {
		return err
	}
	for i := 0; i < len(raw)/8; i++ {
		if it := binary.LittleEndian.Uint64(raw[8*i:]); it != 0 {
			fn(i, it)
		}
	}
	return nil
}

// seqItems is the item array of a tuple or list (kind), 8 bytes an
// item, as the core holds it (NULL items included).
func (r *Runtime) seqItems(obj uint64, kind Kind) ([]byte, error) {
	n, err := r.varSize(obj)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > maxDictEntries {
		return nil, fmt.Errorf("sequence 0x%x: bad size %d", obj, n)
	}
	base := r.L.TupleItems.Add(obj)
	if kind == KindList {
		if base, err = r.m.ptr(r.L.ListItems.Add(obj)); err != nil {
			return nil, err
		}
		if base == 0 {
			return nil, nil
		}
	}
	if n*8 >= prefetchBytes {
		r.m.prefetch(base, int(n)*8)
	}
	return r.m.bytes(base, int(n)*8)
}

// SetItems returns up to limit keys of a set or frozenset and its length.
func (r *Runtime) SetItems(obj uint64, limit int) ([]uint64, int64, error) {
	L := r.L
	used, err := r.m.i64(L.SetUsed.Add(obj))
	if err != nil {
		return nil, 0, err
	}
	mask, err := r.m.i64(L.SetMask.Add(obj))
	if err != nil {
		return nil, used, err
	}
	table, err := r.m.ptr(L.SetTable.Add(obj))
	if err != nil {
		return nil, used, err
	}
	if mask < 0 || mask > maxDictEntries || (mask+1)&mask != 0 {
		return nil, used, fmt.Errorf("set 0x%x: bad mask %d", obj, mask)
	}
	raw, err := r.m.bytes(table, int(mask+1)*int(L.SetEntrySize))
	if err != nil {
		return nil, used, err
	}
	var out []uint64
	for i := int64(0); i <= mask && len(out) < limit; i++ {
		k := binary.LittleEndian.Uint64(raw[i*L.SetEntrySize+int64(L.SetEntryKey):])
		if k == 0 {
			continue
		}
		if t, err := r.TypeOf(k); err != nil || t.Name == "<dummy key> type" {
			continue // a deleted slot
		}
		out = append(out, k)
	}
	return out, used, nil
}

// Attributes returns up to limit (name, value) pairs of an instance's
// __dict__, wherever this version keeps it, and the address of the dict
// object when one exists.
func (r *Runtime) Attributes(obj uint64, t *Type, limit int) ([]DictItem, uint64, error) {
	dict, keys, values, err := r.instanceDict(obj, t)
	if err != nil || (dict == 0 && keys == 0) {
		return nil, 0, err
	}
	if dict != 0 {
		items, _, err := r.DictItems(dict, limit)
		return items, dict, err
	}
	items, err := r.keysItems(keys, values, limit)
	return items, 0, err
}

// instanceDict says where an instance's attributes are: a dict object, or
// (3.11+) a values array that shares its keys with the type.
func (r *Runtime) instanceDict(obj uint64, t *Type) (dict, keys, values uint64, err error) {
	L := r.L
	managed := L.TPFlagsManagedDict.In(t.Flags)
	if !managed {
		if t.Dictoffset == 0 {
			return 0, 0, 0, nil
		}
		off := t.Dictoffset
		if off < 0 { // var-sized object: the dict sits after the items
			n, err := r.varSize(obj)
			if err != nil {
				return 0, 0, 0, err
			}
			if n < 0 {
				n = -n
			}
			size := t.Basicsize + n*t.Itemsize
			size = (size + 7) &^ 7
			off += size
		}
		d, err := r.m.ptr(obj + uint64(off))
		return d, 0, 0, err
	}
	slot, err := r.m.ptr(obj + uint64(L.ManagedDictOffset))
	if err != nil {
		return 0, 0, 0, err
	}
	switch {
	case L.TaggedManagedDictSlot() && slot&1 == 1: // tagged: the values array starts one byte on
		values = slot + 1
	case slot != 0:
		return slot, 0, 0, nil
	case L.TPFlagsInlineValues.In(t.Flags): // 3.13
		values = obj + uint64(t.Basicsize)
		valid, err := r.m.u8(L.DictValuesValid.Add(values))
		if err != nil || valid == 0 {
			return 0, 0, 0, err
		}
	case L.HasManagedValuesPointer():
		if values, err = r.m.ptr(obj + uint64(L.ManagedValuesOffset)); err != nil || values == 0 {
			return 0, 0, 0, err
		}
	default:
		return 0, 0, 0, nil
	}
	keys, err = r.m.ptr(L.HeapTypeCachedKeys.Add(t.Addr))
	if err != nil || keys == 0 {
		return 0, 0, 0, fmt.Errorf("type %s has no shared keys: %v", t.Name, err)
	}
	if L.DictValuesValues.Has() {
		values = L.DictValuesValues.Add(values)
	}
	return 0, keys, values, nil
}

// DictLookupStr finds a str key in a dict and returns its value.
func (r *Runtime) DictLookupStr(dict uint64, key string) (uint64, bool) {
	items, _, err := r.DictItems(dict, maxDictEntries)
	if err != nil {
		return 0, false
	}
	for _, it := range items {
		if t, err := r.TypeOf(it.Key); err == nil && t.Kind == KindStr {
			if s, err := r.StrValue(it.Key); err == nil && s == key {
				return it.Value, true
			}
		}
	}
	return 0, false
}

// indexWidth is the byte width of a 3.8-3.10 keys table's index entries,
// as wide as the table size needs (DK_IXSIZE).
func indexWidth(size int64) int64 {
	switch {
	case size <= 0xff:
		return 1
	case size <= 0xffff:
		return 2
	case size <= 0xffffffff:
		return 4
	}
	return 8
}
