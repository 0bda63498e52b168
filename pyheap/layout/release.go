package layout

import "sort"

// ForRelease returns the table generated for an exact release ("3.13.18"),
// or for the newest release of the same minor not newer than it, from the
// headers of a distribution's build (tables_patch_gen.go); ok is false
// when no release of that minor at or below it has one: then the minor's
// table (ForVersion) applies, or OldestRelease when the minor has none.
func ForRelease(version string) (l *Layout, ok bool) {
	key := nearestKey(version, patchTables())
	if key == "" || lessVersion(splitVersion(version), splitVersion(key)) {
		return nil, false
	}
	c := *patchTables()[key]
	return &c, true
}

// OldestRelease returns the table of the oldest release of version's minor
// that has one, for a release older than all of them.
func OldestRelease(version string) (l *Layout, ok bool) {
	key := nearestKey(version, patchTables())
	if key == "" {
		return nil, false
	}
	c := *patchTables()[key]
	return &c, true
}

// Releases lists the exact releases that have a table of their own.
func Releases() []string {
	out := make([]string, 0, len(patchTables()))
	for k := range patchTables() {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return lessVersion(splitVersion(out[i]), splitVersion(out[j])) })
	return out
}
