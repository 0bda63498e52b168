package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/pycoroner/pycoroner/indexfile"
)

// A side file is saved beside a census index (grep's string table, the
// dominator tree): keyed as the index is, it records the fingerprint of
// the census index it was made from in its JSON "meta" array and is used
// with that census only.

// errOtherCensus: a side file of another census of the same core (the
// census index was rebuilt since): not damage, just out of date.
var errOtherCensus = errors.New("made from another census index")

// sideMeta is what every side file's meta says.
type sideMeta interface{ census() string }

func (m strMeta) census() string { return m.Census }
func (m domMeta) census() string { return m.Census }

// readSideMeta reads x's meta, and refuses it (errOtherCensus) when it was
// made from another census than the one of fingerprint fp.
func readSideMeta[M sideMeta](x *indexfile.Index, fp string) (M, error) {
	var meta M
	raw, err := indexfile.Get[byte](x, "meta")
	if err != nil {
		return meta, err
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return meta, fmt.Errorf("meta: %w", err)
	}
	if meta.census() != fp {
		return meta, errOtherCensus
	}
	return meta, nil
}

// loadSide maps hs's side file of schema and lets use read it; a file
// that cannot be loaded or that use refuses is removed (what: "string
// table"; remade: "built again") with a warning, unless it was only of
// another census. The caller closes the file it gets.
func (hs *heapSession) loadSide(schema indexfile.Schema, what, remade string, use func(*indexfile.Index) error) (*indexfile.Index, bool) {
	x, err := hs.cache.Load(hs.key, schema)
	if err != nil {
		if !errors.Is(err, indexfile.ErrNotFound) {
			hs.warnings = append(hs.warnings, fmt.Sprintf("%v; the %s was %s", err, what, remade))
		}
		return nil, false
	}
	if err := use(x); err != nil {
		// Removed before it is closed: Close stamps the arrays whose
		// checksums passed, and a stamp must not vouch for values that
		// failed their checks (they are then trusted unchecked).
		os.Remove(x.Path())
		x.Close()
		if !errors.Is(err, errOtherCensus) {
			hs.warnings = append(hs.warnings, fmt.Sprintf("saved %s %s not used: %v; it was %s", what, x.Path(), err, remade))
		}
		return nil, false
	}
	indexTrace("loaded %s", x.Path())
	return x, true
}
