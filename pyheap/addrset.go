package pyheap

// addrMap maps object addresses to int32 values with open addressing: the
// census touches millions of addresses and a Go map costs several times
// more per entry.
type addrMap struct {
	keys []uint64 // 0 marks an empty slot: no object lives at address 0
	vals []int32
	n    int
}

func newAddrMap(capacity int) *addrMap {
	size := 1024
	for size < capacity*2 {
		size <<= 1
	}
	return &addrMap{keys: make([]uint64, size), vals: make([]int32, size)}
}

func hashAddr(a uint64) uint64 {
	a ^= a >> 33
	a *= 0xff51afd7ed558ccd
	a ^= a >> 33
	return a
}

// get returns the value stored for addr.
func (m *addrMap) get(addr uint64) (int32, bool) {
	mask := uint64(len(m.keys) - 1)
	for i := hashAddr(addr) & mask; ; i = (i + 1) & mask {
		switch m.keys[i] {
		case addr:
			return m.vals[i], true
		case 0:
			return 0, false
		}
	}
}

// put stores v for addr unless addr is present; it reports whether it added.
func (m *addrMap) put(addr uint64, v int32) bool {
	if (m.n+1)*2 > len(m.keys) {
		m.grow()
	}
	mask := uint64(len(m.keys) - 1)
	for i := hashAddr(addr) & mask; ; i = (i + 1) & mask {
		switch m.keys[i] {
		case addr:
			return false
		case 0:
			m.keys[i], m.vals[i] = addr, v
			m.n++
			return true
		}
	}
}

func (m *addrMap) grow() {
	old := *m
	*m = addrMap{keys: make([]uint64, len(old.keys)*2), vals: make([]int32, len(old.keys)*2)}
	for i, k := range old.keys {
		if k != 0 {
			m.put(k, old.vals[i])
		}
	}
}

func (m *addrMap) len() int { return m.n }
