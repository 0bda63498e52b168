package pyheap

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"

	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// Reading a layout from a binary's DWARF costs about 100 ms for libpython
// 3.12+; the result depends only on the build, so it is kept in a cache
// directory (Options.LayoutCacheDir, chosen by the caller; cmd/pycoroner
// uses the user's cache dir) under the file's build-id and the shape of
// layout.Layout, so a new field invalidates it.

type buildIDer interface{ FileBuildID(path string) string }

func layoutCachePath(img Image, file, dir string) string {
	b, ok := img.(buildIDer)
	if !ok || dir == "" {
		return ""
	}
	id := b.FileBuildID(file)
	if id == "" {
		return ""
	}
	h := sha256.New()
	t := reflect.TypeOf(layout.Layout{})
	for i := 0; i < t.NumField(); i++ {
		h.Write([]byte(t.Field(i).Name + " " + string(t.Field(i).Tag) + "\n"))
	}
	return filepath.Join(dir, id+"-"+hex.EncodeToString(h.Sum(nil))[:12]+".json")
}

func loadCachedLayout(path string) (*layout.Layout, bool) {
	if path == "" {
		return nil, false
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 1<<20 {
		return nil, false
	}
	var L layout.Layout
	if json.Unmarshal(data, &L) != nil || L.Version == "" {
		return nil, false
	}
	return &L, true
}

func saveCachedLayout(path string, L *layout.Layout) {
	if path == "" {
		return
	}
	data, err := json.Marshal(L)
	if err != nil || os.MkdirAll(filepath.Dir(path), 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".layout-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil && cerr == nil {
		os.Rename(tmp.Name(), path)
	}
	os.Remove(tmp.Name())
}
