package pyheap_test

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap"
)

// objectBudget is how long decoding one mutated object may take.
const objectBudget = 2 * time.Second

// fuzzObject is one real object of a core that FuzzObject mutates.
type fuzzObject struct {
	kind string // "str", "int", "dict", "code", "linetable", or another type name
	addr uint64
	span uint64 // bytes from addr that mutations may touch
}

// objectBase is a real core held in memory, writable, with a catalogue of
// objects to mutate.
type objectBase struct {
	name string
	img  *patchedImage
	rt   *pyheap.Runtime // shared by the decoders that cache nothing about the object
	objs []fuzzObject
}

// maxCatalogue bounds the objects mutated per core (and so the seeds).
const maxCatalogue = 40

// FuzzObject mutates one real object at a time (str of every kind, int,
// dict, code objects and their line tables, containers) and decodes it
// the way stacks --locals does. Code objects are cached by the runtime, so
// for them (and their line tables) each input gets a fresh runtime.
func FuzzObject(f *testing.F) {
	cores := newFuzzBases(f, false)
	bases := map[*fuzzBase]*objectBase{}
	get := func(tb testing.TB, which uint8) *objectBase {
		c := cores.get(tb, which)
		if ob, ok := bases[c]; ok {
			return ob
		}
		p, err := coreread.Open(c.path, c.opts)
		if err != nil {
			tb.Fatal(err)
		}
		f.Cleanup(func() { p.Close() })
		ob := &objectBase{name: c.name, img: newPatchedImage(p)}
		ob.catalogue(tb)
		bases[c] = ob
		return ob
	}
	for _, i := range seeded() {
		b := get(f, uint8(i))
		for j, o := range b.objs {
			orig := make([]byte, min(o.span, 64))
			b.img.ReadAt(orig, o.addr)
			f.Add(uint8(i), uint16(j), uint16(0), orig)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, sel, at uint16, data []byte) {
		b := get(t, which)
		o := b.objs[int(sel)%len(b.objs)]
		if len(data) > 64 {
			data = data[:64]
		}
		undo := b.img.patch(o.addr+uint64(at)%o.span, data)
		defer undo()
		withBudget(t, objectBudget, fmt.Sprintf("%s, %s at 0x%x", b.name, o.kind, o.addr), func() error {
			rt := b.rt
			if o.kind == "code" || o.kind == "linetable" {
				var err error
				if rt, err = pyheap.Open(b.img, pyheap.Options{}); err != nil {
					return userError("runtime", err)
				}
			}
			return decodeObject(rt, o)
		})
	})
}

// decodeObject runs the decoders that apply to o and returns the first
// thing a user should never see.
func decodeObject(rt *pyheap.Runtime, o fuzzObject) error {
	var errs, known []error
	check := func(what string, err error) { errs = append(errs, userError(what, err)) }
	switch o.kind {
	case "str":
		s, err := rt.StrValue(o.addr)
		check("str", err)
		if err == nil && !utf8.ValidString(s) {
			errs = append(errs, fmt.Errorf("str at 0x%x decoded to invalid UTF-8", o.addr))
		}
	case "int":
		_, err := rt.IntRepr(o.addr)
		check("int", err)
	case "dict":
		items, _, err := rt.DictItems(o.addr, 1000)
		check("dict", err)
		if len(items) > 1000 {
			errs = append(errs, fmt.Errorf("DictItems returned %d items, limit 1000", len(items)))
		}
	case "code", "linetable":
		interps, err := rt.Interpreters()
		check("interpreters", err)
		for _, in := range interps {
			states, err := rt.ThreadStates(in)
			check("threads", err)
			for _, ts := range states {
				frames, err := rt.Frames(ts)
				check("frames", err)
				for _, fr := range frames {
					if fr.Line < 0 {
						errs = append(errs, fmt.Errorf("frame %s has line %d (first line %d): a line is 0 (unknown) or more", fr.Function, fr.Line, fr.FirstLine))
					}
					for _, l := range fr.Locals {
						check("local "+l.Name, rt.Describe(l.Value).Err)
					}
				}
			}
		}
	}
	v := rt.Describe(o.addr)
	check("describe", v.Err)
	if n := utf8.RuneCountInString(v.Repr); n > pyheap.ReprLimit+64 {
		errs = append(errs, fmt.Errorf("repr of %d characters, limit %d", n, pyheap.ReprLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return errors.Join(known...)
}

// The committed crasher testdata/fuzz/FuzzObject/negative-firstlineno
// gave frames negative line numbers from a corrupt co_firstlineno; lines
// below 1 are now reported as 0 (unknown).

// catalogue picks the objects to mutate: a census of the clean core, the
// code objects its threads run and their line tables.
func (b *objectBase) catalogue(tb testing.TB) {
	rt, err := pyheap.Open(b.img, pyheap.Options{})
	if err != nil {
		tb.Fatalf("%s: %v", b.name, err)
	}
	b.rt = rt
	h, err := rt.BuildHeap(pyheap.HeapOptions{})
	if err != nil {
		tb.Fatalf("%s: census: %v", b.name, err)
	}
	seen := map[string]bool{} // kind/bucket
	add := func(kind, bucket string, addr, span uint64) {
		if key := kind + "/" + bucket; !seen[key] && len(b.objs) < maxCatalogue {
			seen[key] = true
			b.objs = append(b.objs, fuzzObject{kind, addr, span})
		}
	}
	codes := 0
	interps, _ := rt.Interpreters()
	for _, in := range interps {
		states, _ := rt.ThreadStates(in)
		for _, ts := range states {
			frames, _ := rt.Frames(ts)
			for _, fr := range frames {
				if fr.Code == 0 {
					continue
				}
				if codes++; codes > 4 {
					break
				}
				add("code", fr.Function, fr.Code, 128)
				off := rt.L.CodeLinetable
				if off < 0 {
					off = rt.L.CodeLnotab
				}
				if table, err := b.img.Uint64(fr.Code + uint64(off)); err == nil && off >= 0 && table != 0 {
					add("linetable", fr.Function, table+32, 64) // the bytes' data, after ob_shash
				}
			}
		}
	}
	for i := 0; i < h.Len(); i++ {
		id := pyheap.ObjectID(i)
		addr, name := h.Addr(id), h.Type(id).Name
		switch name {
		case "str":
			s, err := rt.StrValue(addr)
			if err == nil {
				add("str", strBucket(s), addr, 64)
			}
		case "int":
			if r, err := rt.IntRepr(addr); err == nil {
				add("int", string(rune('0'+min(len(r)/8, 9)))+r[:1], addr, 64)
			}
		case "dict":
			if items, n, err := rt.DictItems(addr, 64); err == nil {
				add("dict", string(rune('0'+min(int(n)/4, 9)))+string(rune('0'+min(len(items), 1))), addr, 64)
			}
		case "tuple", "list", "set", "frozenset", "float", "bytes", "function", "type", "module", "cell", "method", "generator", "coroutine":
			add(name, "", addr, 64)
		}
	}
	if len(b.objs) == 0 {
		tb.Fatalf("%s: no objects to mutate", b.name)
	}
}

// strBucket classes a str by its widest character and its length, so the
// catalogue holds one of every kind (ASCII, Latin-1, UCS-2, UCS-4).
func strBucket(s string) string {
	widest := rune(0)
	for _, r := range s {
		widest = max(widest, r)
	}
	kind := "ascii"
	switch {
	case widest > 0xffff:
		kind = "ucs4"
	case widest > 0xff:
		kind = "ucs2"
	case widest > 0x7f:
		kind = "latin1"
	}
	if len(s) > 100 {
		return kind + "-long"
	}
	return kind
}

// patchedImage is a core's memory copied into writable buffers, so that
// fuzzing can change it; what the core does not hold (file-backed pages)
// is read from the core's files as usual.
type patchedImage struct {
	*coreread.Process
	segs []coreread.Segment
	data [][]byte
}

func newPatchedImage(p *coreread.Process) *patchedImage {
	m := &patchedImage{Process: p, segs: p.Segments()}
	for _, s := range m.segs {
		m.data = append(m.data, append([]byte(nil), p.InCore(s.Vaddr, int(s.Filesz))...))
	}
	return m
}

func (m *patchedImage) InCore(addr uint64, n int) []byte {
	i := sort.Search(len(m.segs), func(i int) bool { return m.segs[i].Vaddr+m.segs[i].Memsz > addr })
	if i == len(m.segs) || addr < m.segs[i].Vaddr || n < 0 {
		return nil
	}
	d := m.data[i]
	rel := addr - m.segs[i].Vaddr
	if rel >= uint64(len(d)) {
		return nil
	}
	return d[rel:min(uint64(len(d)), rel+uint64(n))]
}

func (m *patchedImage) ReadAt(b []byte, addr uint64) (int, error) {
	done := 0
	for done < len(b) {
		a := addr + uint64(done)
		if got := m.InCore(a, len(b)-done); len(got) > 0 {
			done += copy(b[done:], got)
			continue
		}
		// Not in the core: at most up to the next page, where the next
		// segment may start.
		k := min(len(b)-done, int(4096-a%4096))
		n, err := m.Process.ReadAt(b[done:done+k], a)
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (m *patchedImage) Uint64(addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := m.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56, nil
}

func (m *patchedImage) CString(addr uint64, max int) (string, error) {
	var out []byte
	var c [1]byte
	for len(out) < max {
		if _, err := m.ReadAt(c[:], addr+uint64(len(out))); err != nil {
			return "", err
		}
		if c[0] == 0 {
			return string(out), nil
		}
		out = append(out, c[0])
	}
	return string(out), errors.New("string longer than its limit")
}

// patch writes b at addr where the core holds that memory and returns the
// function that restores it.
func (m *patchedImage) patch(addr uint64, b []byte) func() {
	dst := m.InCore(addr, len(b))
	old := append([]byte(nil), dst...)
	copy(dst, b)
	return func() { copy(dst, old) }
}
