package coreread

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"time"
)

// Identity identifies a core file's content without reading all of it,
// for caches of what was computed from it: a core rewritten in place (a
// new gcore of the same process) differs in its notes (registers, times,
// mappings) if not in size or time; the same core copied elsewhere keeps
// it. It holds no path.
type Identity struct {
	Size  int64
	MTime time.Time
	// Notes is a SHA-256 of the program headers and every PT_NOTE's bytes.
	Notes [32]byte
}

// maxIdentityNotes bounds what Identity hashes of an untrusted core.
const maxIdentityNotes = 256 << 20

// Identity returns the core's identity.
func (p *Process) Identity() (Identity, error) {
	st, err := p.f.Stat()
	if err != nil {
		return Identity{}, fmt.Errorf("identity of %s: %w", p.path, err)
	}
	_, progs, err := readHeaders(p.f, st.Size(), p.path)
	if err != nil {
		return Identity{}, fmt.Errorf("identity of %s: %w", p.path, err)
	}
	h := sha256.New()
	var b [48]byte
	hashed := uint64(0)
	for _, pr := range progs {
		le := binary.LittleEndian
		le.PutUint64(b[0:], uint64(pr.Type))
		le.PutUint64(b[8:], pr.Off)
		le.PutUint64(b[16:], pr.Vaddr)
		le.PutUint64(b[24:], pr.Filesz)
		le.PutUint64(b[32:], pr.Memsz)
		le.PutUint64(b[40:], uint64(pr.Flags))
		h.Write(b[:])
		if pr.Type != elf.PT_NOTE {
			continue
		}
		size := uint64(len(p.data))
		if pr.Off >= size || hashed >= maxIdentityNotes {
			continue
		}
		n := min(pr.Filesz, size-pr.Off, maxIdentityNotes-hashed)
		h.Write(p.data[pr.Off : pr.Off+n])
		hashed += n
	}
	id := Identity{Size: st.Size(), MTime: st.ModTime()}
	h.Sum(id.Notes[:0])
	return id, nil
}
