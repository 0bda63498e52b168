package layout

// DebugCheck says how to validate one member of a process's
// _Py_DebugOffsets before trusting it, as CPython's own remote-debugging
// validator does: the offset it gives must be aligned for the member it
// locates and the member must fit within the size that the same
// _Py_DebugOffsets reports for its struct.
// The checks of a version start with its header members "version" and
// "free_threaded" (Width 8, no section).
type DebugCheck struct {
	Path   string // "thread_state.current_frame"
	At     int64  // where the member sits in _Py_DebugOffsets
	SizeAt int64  // where its section's size sits in _Py_DebugOffsets, or Missing
	Width  int64  // bytes of the member it locates; 0 for a size, not an offset
	Align  int64  // alignment of that member
}

// DebugChecks returns the generated checks for an exact version
// ("3.14.10"), falling back to the newest table of the same minor at or
// below it; nil when the version has no _Py_DebugOffsets.
func DebugChecks(version string) []DebugCheck {
	checks := debugChecks()
	if c, ok := checks[version]; ok {
		return c
	}
	return checks[nearestKey(version, checks)]
}

// nearestKey picks, among m's keys of version's minor, the newest release
// not newer than version (or the oldest when all are newer).
func nearestKey[T any](version string, m map[string]T) string {
	want := splitVersion(version)
	best, bestV, oldest, oldestV := "", []int(nil), "", []int(nil)
	for k := range m {
		v := splitVersion(k)
		if len(v) < 2 || len(want) < 2 || v[0] != want[0] || v[1] != want[1] {
			continue
		}
		if oldest == "" || lessVersion(v, oldestV) {
			oldest, oldestV = k, v
		}
		if !lessVersion(want, v) && (best == "" || lessVersion(bestV, v)) {
			best, bestV = k, v
		}
	}
	if best != "" {
		return best
	}
	return oldest
}

func splitVersion(s string) []int {
	var out []int
	n, digits := 0, false
	for _, r := range s + "." {
		switch {
		case r >= '0' && r <= '9':
			n, digits = n*10+int(r-'0'), true
		case r == '.':
			if digits {
				out = append(out, n)
			}
			n, digits = 0, false
		default:
			if digits {
				out = append(out, n)
			}
			return out // a pre-release tag ends the comparison
		}
	}
	return out
}

func lessVersion(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}
