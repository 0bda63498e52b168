package pyheap

import (
	"context"
	"github.com/pycoroner/pycoroner/pyheap/census"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// censusCores are the cores the census is checked on: the goldens, and
// gcores of the threads scenario where the harness can make them.
func censusCores(t *testing.T) map[string]string {
	_, self, _, _ := runtime.Caller(0)
	golden := filepath.Join(filepath.Dir(self), "..", "testdata", "golden")
	cores := map[string]string{
		"golden-debian-3.11": filepath.Join(golden, "debian-3.11-gcore.core.xz"),
		"golden-3.13":        filepath.Join(golden, "pyenv-3.13-abort.core.xz"),
	}
	if testing.Short() {
		return cores
	}
	if _, err := harness.GcorePath(); err != nil {
		return cores
	}
	for _, in := range harness.FindInterpreters() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		res, err := harness.CachedCore(ctx, in, "threads", harness.Gcore)
		cancel()
		if err == nil {
			cores[in.Name] = res.CorePath
		}
	}
	return cores
}

// openCore opens a core, with an empty sysroot: the goldens' files are
// not on this host, and the harness cores must not need theirs either.
func openCore(t *testing.T, path string) *coreread.Process {
	t.Helper()
	p, err := coreread.Open(path, coreread.Options{Sysroot: t.TempDir(), Decompress: coreread.DecompressOptions{CacheDir: filepath.Join(os.TempDir(), "pycoroner-test-cache")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// openRuntime finds a fresh runtime, with no types decoded yet.
func openRuntime(t *testing.T, p *coreread.Process) *Runtime {
	t.Helper()
	r, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A census split among workers must find exactly what one worker finds:
// the same objects with the same types, and the same edges from each. Run
// with -race, this is also the check that the workers share nothing they
// should not.
func TestCensusWorkersAgree(t *testing.T) {
	for name, path := range censusCores(t) {
		t.Run(name, func(t *testing.T) {
			p := openCore(t, path)
			census := func(workers int) *Heap {
				r := openRuntime(t, p)
				h, err := r.BuildHeap(HeapOptions{Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				return h
			}
			one := census(1)
			for _, workers := range []int{2, 3} {
				many := census(workers)
				if one.Len() != many.Len() || one.Stats.Edges != many.Stats.Edges || one.Stats.Conservative != many.Stats.Conservative || one.Stats.Unreadable != many.Stats.Unreadable {
					t.Fatalf("%d workers: %d objects, %d edges (%d conservative, %d unreadable); one worker: %d, %d (%d, %d)", workers,
						many.Len(), many.Stats.Edges, many.Stats.Conservative, many.Stats.Unreadable,
						one.Len(), one.Stats.Edges, one.Stats.Conservative, one.Stats.Unreadable)
				}
				for i := 0; i < one.Len(); i++ {
					id := ObjectID(i)
					if one.Addr(id) != many.Addr(id) || one.Type(id).Addr != many.Type(id).Addr {
						t.Fatalf("%d workers: object %d is 0x%x (%s), one worker has 0x%x (%s)", workers, i,
							many.Addr(id), many.Type(id).Name, one.Addr(id), one.Type(id).Name)
					}
					a := slices.Sorted(slices.Values(one.EdgeAddrs(id)))
					b := slices.Sorted(slices.Values(many.EdgeAddrs(id)))
					if !slices.Equal(a, b) {
						t.Fatalf("%d workers: object 0x%x has edges %x, one worker %x", workers, one.Addr(id), b, a)
					}
				}
				if one.Len() < 1000 {
					t.Fatalf("only %d objects: not a real heap", one.Len())
				}
			}
		})
	}
}

// The census's fast path (censusReader.AppendRefs) must report exactly
// what Refs reports, in the same order, for every object it takes.
func TestAppendRefsIsRefs(t *testing.T) {
	forEachCensusObject(t, func(t *testing.T, cr *censusReader, _ int, addr uint64, typ *Type) bool {
		fast, ok := cr.AppendRefs(addr, typ, nil)
		if !ok {
			return false
		}
		var slow []uint64
		cr.Refs(addr, typ, func(target uint64, _ Ref, conservative bool) {
			if conservative {
				t.Fatalf("0x%x (%s): a conservative reference on the fast path", addr, typ.Name)
			}
			slow = append(slow, target)
		})
		if !slices.Equal(fast, slow) {
			t.Fatalf("0x%x (%s): AppendRefs %x, Refs %x", addr, typ.Name, fast, slow)
		}
		return true
	})
}

// LabelledAmong reports what Labelled reports of the targets its filter
// may have, with the same labels in the same order: tuples and lists on
// their fast path, and every other kind through Labelled. Each object's
// filter holds every other of its targets (and its type for half of them).
func TestLabelledAmongIsLabelledFiltered(t *testing.T) {
	type labelled struct {
		target uint64
		via    string
		cons   bool
	}
	forEachCensusObject(t, func(t *testing.T, cr *censusReader, i int, addr uint64, typ *Type) bool {
		var all []labelled
		cr.Labelled(addr, typ, func(target uint64, via Ref, cons bool) {
			all = append(all, labelled{target, via.String(), cons})
		})
		var f census.AddrFilter
		for k, l := range all {
			if k%2 == i%2 {
				f.Add(l.target)
			}
		}
		var want, got []labelled
		for _, l := range all {
			if f.MayHave(l.target) {
				want = append(want, l)
			}
		}
		cr.LabelledAmong(addr, typ, &f, func(target uint64, via Ref, cons bool) {
			got = append(got, labelled{target, via.String(), cons})
		})
		if !slices.Equal(got, want) {
			t.Fatalf("0x%x (%s): LabelledAmong %v, Labelled filtered %v", addr, typ.Name, got, want)
		}
		return len(want) > 0
	})
}

// forEachCensusObject takes the census of each test core and calls
// compare for every object, with a census reader of the core's: the
// setup of the tests that hold a fast path of the reader to its slow one.
// compare reports whether it compared anything; each core must have had
// instances, tuples and lists compared.
func forEachCensusObject(t *testing.T, compare func(t *testing.T, cr *censusReader, i int, addr uint64, typ *Type) bool) {
	for name, path := range censusCores(t) {
		t.Run(name, func(t *testing.T) {
			p := openCore(t, path)
			r := openRuntime(t, p)
			h, err := r.BuildHeap(HeapOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cr := &censusReader{r: r.NewReader()}
			compared := map[Kind]int{}
			for i := 0; i < h.Len(); i++ {
				addr, typ := h.Addr(ObjectID(i)), h.Type(ObjectID(i))
				if compare(t, cr, i, addr, typ) {
					compared[typ.Kind]++
				}
			}
			if compared[KindOther] == 0 || compared[KindTuple] == 0 || compared[KindList] == 0 {
				t.Fatalf("compared for %v: the test needs instances, tuples and lists", compared)
			}
		})
	}
}

// Descriptors (the methods, members and slots of built-in types, thousands
// in any heap) are walked precisely: their class and names, labelled, and
// nothing found by a conservative scan.
func TestDescriptorsWalkedPrecisely(t *testing.T) {
	for name, path := range censusCores(t) {
		t.Run(name, func(t *testing.T) {
			p := openCore(t, path)
			r := openRuntime(t, p)
			h, err := r.BuildHeap(HeapOptions{})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for i := 0; i < h.Len(); i++ {
				id := ObjectID(i)
				kind := h.Type(id).Name
				switch kind {
				case "method_descriptor", "member_descriptor", "getset_descriptor", "wrapper_descriptor":
				default:
					continue
				}
				seen[kind]++
				labels := map[string]bool{}
				for _, e := range h.Edges(id) {
					if e.Conservative {
						t.Fatalf("%s at 0x%x: conservative edge %s", kind, h.Addr(id), e.Via)
					}
					labels[e.Via.String()] = true
					if tt := h.Type(e.Target); e.Via.IsField("__objclass__") && !r.L.TPFlagsTypeSubclass.In(tt.Flags) {
						t.Fatalf("%s at 0x%x: __objclass__ is a %s", kind, h.Addr(id), h.Type(e.Target).Name)
					}
					if e.Via.IsField("__name__") && h.Type(e.Target).Kind != KindStr {
						t.Fatalf("%s at 0x%x: __name__ is a %s", kind, h.Addr(id), h.Type(e.Target).Name)
					}
				}
				if !labels["__objclass__"] || !labels["__name__"] {
					t.Fatalf("%s at 0x%x: edges %v, want __objclass__ and __name__", kind, h.Addr(id), labels)
				}
			}
			for _, kind := range []string{"method_descriptor", "member_descriptor", "getset_descriptor", "wrapper_descriptor"} {
				if seen[kind] < 10 {
					t.Errorf("only %d %s objects", seen[kind], kind)
				}
			}
		})
	}
}
