package pyheap

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

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
	return filepath.Join(dir, id+"-"+hex.EncodeToString(h.Sum(nil))[:12]+".layout")
}

// layoutCacheMagic opens a cached layout: the format is lines of "NAME
// VALUE" (Version, Minor, Source, Debug.MEMBER, then every offset field),
// read without encoding/json, whose reflection over the 200 fields of a
// Layout cost every process about 2 ms.
const layoutCacheMagic = "pycoroner layout 1"

func loadCachedLayout(path string) (*layout.Layout, bool) {
	if path == "" {
		return nil, false
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 1<<20 {
		return nil, false
	}
	L, ok := parseLayout(string(data))
	return L, ok
}

// parseLayout reads a cached layout; ok only when it has every field,
// each once, and nothing else.
func parseLayout(text string) (*layout.Layout, bool) {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[0] != layoutCacheMagic || lines[len(lines)-1] != "" {
		return nil, false
	}
	L := &layout.Layout{}
	fields := map[string]*int64{}
	layout.EachField(L, func(name string, _ []string, v *int64) error {
		fields[name] = v
		return nil
	})
	seen := map[string]bool{}
	for _, line := range lines[1 : len(lines)-1] {
		name, value, ok := strings.Cut(line, " ")
		if !ok || seen[name] {
			return nil, false
		}
		seen[name] = true
		switch {
		case name == "Version":
			L.Version = value
		case name == "Source":
			L.Source = value
		case name == "Minor":
			n, err := strconv.Atoi(value)
			if err != nil {
				return nil, false
			}
			L.Minor = n
		case strings.HasPrefix(name, "Debug."):
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return nil, false
			}
			if L.Debug == nil {
				L.Debug = map[string]int64{}
			}
			L.Debug[strings.TrimPrefix(name, "Debug.")] = n
		default:
			v, ok := fields[name]
			if !ok {
				return nil, false
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return nil, false
			}
			*v = n
		}
	}
	for name := range fields {
		if !seen[name] {
			return nil, false
		}
	}
	if L.Version == "" || !seen["Minor"] || !seen["Source"] {
		return nil, false
	}
	return L, true
}

// formatLayout is the cached form of L (parseLayout).
func formatLayout(L *layout.Layout) (string, bool) {
	var b strings.Builder
	b.WriteString(layoutCacheMagic + "\n")
	if strings.ContainsAny(L.Version+L.Source, "\n") {
		return "", false
	}
	fmt.Fprintf(&b, "Version %s\nMinor %d\nSource %s\n", L.Version, L.Minor, L.Source)
	keys := make([]string, 0, len(L.Debug))
	for k := range L.Debug {
		if strings.ContainsAny(k, " \n") {
			return "", false
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "Debug.%s %d\n", k, L.Debug[k])
	}
	layout.EachField(L, func(name string, _ []string, v *int64) error {
		fmt.Fprintf(&b, "%s %d\n", name, *v)
		return nil
	})
	return b.String(), true
}

func saveCachedLayout(path string, L *layout.Layout) {
	if path == "" {
		return
	}
	text, ok := formatLayout(L)
	if !ok || os.MkdirAll(filepath.Dir(path), 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".layout-*")
	if err != nil {
		return
	}
	_, err = tmp.WriteString(text)
	if cerr := tmp.Close(); err == nil && cerr == nil {
		os.Rename(tmp.Name(), path)
	}
	os.Remove(tmp.Name())
}
