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
)

// HeapIndexSchema names a saved census and the version of its form.
var HeapIndexSchema = indexfile.Schema{Kind: "census", Version: census.SavedVersion}

// SaveIndex saves the census into cache under key; label says what it is
// of (pycoroner cache lists it). The heap computes its shallow sizes and
// reverse index first, if it has not, and lays itself out flat (census.Heap.Save).
// Each array is written while the next is laid out (indexfile.Stream).
func (h *Heap) SaveIndex(cache *indexfile.Cache, key indexfile.Key, label string) (string, error) {
	s, err := cache.NewStream(key, HeapIndexSchema, label)
	if err != nil {
		return "", err
	}
	if err := h.Save(streamSink{s}); err != nil {
		s.Abort()
		return "", err
	}
	return s.Commit()
}

// LoadHeap restores a census from a saved index of this runtime's core.
// An error means the index does not fit this core or is damaged: take the
// census instead.
func (r *Runtime) LoadHeap(x *indexfile.Index) (*Heap, error) {
	r.fallbackName(0)
	h, err := census.Restore[*Type](censusModel{r}, indexSource{x})
	if err != nil {
		return nil, fmt.Errorf("saved index %s: %w", x.Path(), err)
	}
	return &Heap{Heap: h, r: r}, nil
}

type streamSink struct{ s *indexfile.Stream }

func (s streamSink) Uint64s(name string, v []uint64)      { indexfile.Put(s.s, name, v) }
func (s streamSink) Uint32s(name string, v []uint32)      { indexfile.Put(s.s, name, v) }
func (s streamSink) IDs(name string, v []census.ObjectID) { indexfile.Put(s.s, name, v) }
func (s streamSink) Bytes(name string, v []byte)          { indexfile.Put(s.s, name, v) }

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
