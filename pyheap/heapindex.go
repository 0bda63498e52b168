package pyheap

import (
	"fmt"

	"github.com/pycoroner/pycoroner/indexfile"
	"github.com/pycoroner/pycoroner/pyheap/census"
)

// A heap census saved in an index file (package indexfile) and restored
// from it; what is saved is census.Heap's saved form.

// SavedParts names the parts of a restored census read on first use
// (census.SavedParts).
type SavedParts = census.SavedParts

const (
	SavedAddrs   = census.SavedAddrs
	SavedSizes   = census.SavedSizes
	SavedReverse = census.SavedReverse
	SavedForward = census.SavedForward
	SavedAll     = census.SavedAll
	SavedTotals  = census.SavedTotals
)

// HeapIndexSchema names a saved census and the version of its form.
var HeapIndexSchema = indexfile.Schema{Kind: "census", Version: census.SavedVersion}

// SaveIndex saves the census into cache under key; label says what it is
// of (pycoroner cache lists it). The heap computes its shallow sizes and
// reverse index first, if it has not, and lays itself out flat (census.Heap.Save).
func (h *Heap) SaveIndex(cache *indexfile.Cache, key indexfile.Key, label string) (string, error) {
	b := indexfile.NewBuilder(label)
	if err := h.Save(builderSink{b}); err != nil {
		return "", err
	}
	h.saveConservativeModules(b)
	return cache.Save(key, HeapIndexSchema, b)
}

// LoadHeap restores a census from a saved index of this runtime's core.
// An error means the index does not fit this core or is damaged: take the
// census instead.
func (r *Runtime) LoadHeap(x *indexfile.Index) (*Heap, error) {
	// Restoring reads the type table on one goroutine, so the names that
	// must come from memory are looked up only if a type's own name turns
	// out unreadable (a core without its binary); a warm command on a core
	// with its files then skips walking builtins and sys.modules.
	h, err := census.Restore[*Type](censusModel{r}, indexSource{x})
	r.sealFallbackNames()
	if err != nil {
		return nil, fmt.Errorf("saved index %s: %w", x.Path(), err)
	}
	heap := &Heap{Heap: h, r: r}
	if err := heap.restoreConservativeModules(x); err != nil {
		return nil, fmt.Errorf("saved index %s: %w", x.Path(), err)
	}
	return heap, nil
}

type builderSink struct{ b *indexfile.Builder }

func (s builderSink) Uint64s(name string, v []uint64)      { indexfile.Add(s.b, name, v) }
func (s builderSink) Uint32s(name string, v []uint32)      { indexfile.Add(s.b, name, v) }
func (s builderSink) IDs(name string, v []census.ObjectID) { indexfile.Add(s.b, name, v) }
func (s builderSink) Bytes(name string, v []byte)          { indexfile.Add(s.b, name, v) }

type indexSource struct{ x *indexfile.Index }

func (s indexSource) Has(name string) bool     { return s.x.Has(name) }
func (s indexSource) Trusted(name string) bool { return s.x.Trusted(name) }
func (s indexSource) Uint64s(name string) ([]uint64, error) {
	return indexfile.Get[uint64](s.x, name)
}
func (s indexSource) Uint32s(name string) ([]uint32, error) {
	return indexfile.Get[uint32](s.x, name)
}
func (s indexSource) IDs(name string) ([]census.ObjectID, error) {
	return indexfile.Get[census.ObjectID](s.x, name)
}
func (s indexSource) Bytes(name string) ([]byte, error) { return indexfile.Get[byte](s.x, name) }
