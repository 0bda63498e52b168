package pyheap

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// Runtime is the CPython runtime found in an image: where _PyRuntime is,
// which version it is, and the layout used to read it.
//
// Concurrency: a *Runtime is one reader of the image. What Open found is
// shared by every reader and read-only once Open returns: the layout, the
// addresses, the version, the warnings, the type names learnt from
// memory. The table of decoded types is shared too, guarded by its own
// lock (one type stays one *Type for every reader). The rest is the
// reader's own cache (its window on memory, a type cache, decoded code
// objects, the last dict keys table) and makes a *Runtime unsafe for use
// by two goroutines at once: a goroutine that reads the image alongside
// others takes its own reader with NewReader (the census gives one to
// each of its workers). Heap questions (BuildHeap, Heap's methods) are
// asked from one goroutine at a time.
type Runtime struct {
	*shared
	reader
}

// shared is what every reader of one runtime sees.
type shared struct {
	L    *layout.Layout
	Addr uint64 // address of _PyRuntime

	Version    string // exact version, "3.11.7", or the minor version when the patch level is unknown
	HexVersion uint64 // sys.hexversion, 0 when unknown
	FoundBy    string // how the runtime was located
	File       string // the file that defines _PyRuntime, when known

	types    map[uint64]*Type
	typesMu  sync.Mutex        // guards types
	fallback map[uint64]string // type names read from memory, see typenames.go; complete before a census
	sysMinor string            // minor version according to sys.version
	warnings []string
	static   staticTypes
	// claimedHex is Py_Version or the debug offsets' version, 0 when unknown.
	claimedHex uint64
	// interned holds the addresses of the dicts of interned strings the
	// last census's roots named (one per interpreter at most: census
	// workers scan it for every dict, see censusReader.Refs); stored whole,
	// never changed in place.
	interned atomic.Pointer[[]uint64]
}

// reader is the per-goroutine part of a Runtime: caches only.
type reader struct {
	m          mem
	typeCache  [typeCacheSize]typeCacheEntry
	codes      map[uint64]*codeInfo
	lastKeys   keysTable
	lastKeysAt uint64
}

func newRuntime(img Image) *Runtime {
	return &Runtime{shared: &shared{types: map[uint64]*Type{}}, reader: reader{m: mem{img: img}}}
}

// NewReader returns another reader of the same runtime, with empty
// caches, for use by another goroutine.
func (r *Runtime) NewReader() *Runtime {
	return &Runtime{shared: r.shared, reader: reader{m: mem{img: r.m.img}}}
}

const typeCacheSize = 256

type typeCacheEntry struct {
	addr uint64
	t    *Type
}

// Options tune how the runtime is read. pyheap reads no environment:
// the caller decides.
type Options struct {
	// NoDWARF makes pyheap use the committed layout tables even when the
	// binary carries DWARF.
	NoDWARF bool
	// LayoutCacheDir, when set, is where layouts read from a binary's
	// DWARF are kept for the next run (a file per build-id); "" reads the
	// DWARF every time.
	LayoutCacheDir string
}

// Warnings lists what pyheap noticed but could work around.
func (r *Runtime) Warnings() []string { return r.warnings }

func (r *Runtime) warn(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

// candidate is one guess at where _PyRuntime is and what version it is.
type candidate struct {
	addr   uint64
	minors []string // versions to try, most likely first
	how    string
	file   string
	strict bool   // found by scanning: demand a thread state too
	hex    uint64 // the exact version the build claims (Py_Version, the cookie), 0 if unknown
}

var pythonFileVersion = regexp.MustCompile(`python(\d)\.(\d+)`)

// Open finds the CPython runtime in img.
func Open(img Image, opts Options) (*Runtime, error) {
	r := newRuntime(img)
	static := findStaticTypes(img)
	var tried, claims []string
	var fallback []*Runtime // scan hits whose sys.version could not be read
	// The candidates, best first, in stages: a later stage is looked for
	// only when no earlier candidate was the runtime (a scan of the
	// writable memory costs milliseconds, and the symbol is almost always
	// right).
	found := 0
	for stage := 0; stage < 3; stage++ {
		var cands []candidate
		switch stage {
		case 0:
			cands = r.candidates()
		case 1:
			cands = r.scanDebugCookie()
		case 2:
			if found == 0 {
				cands = r.scanForRuntime()
			}
		}
		found += len(cands)
		var rt *Runtime
		var err error
		// r may be replaced (by a fresh one, after a scan hit that was not
		// confirmed): the next stage goes on with that.
		if r, rt, err = r.tryCandidates(img, cands, static, opts, &tried, &claims, &fallback); rt != nil || err != nil {
			return rt, err
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("no CPython runtime found: the core has no _PyRuntime symbol and no interpreter state in the writable memory of its executable or libpython (is this a Python process? if the executable or libpython is missing here, pass --exe or --sysroot)")
	}
	if len(fallback) > 0 {
		best := bestUnconfirmed(fallback)
		best.warn("the interpreter state was found by a scan and sys.version could not be read to confirm the version (%s)", best.L.Version)
		return best, nil
	}
	return nil, fmt.Errorf("found no valid CPython interpreter state; the build says: %s; tried: %s; pycoroner reads CPython %s",
		strings.Join(groupClaims(claims), "; "), strings.Join(tried, "; "), supportedVersions())
}

// staticTypes are type objects whose addresses come from the binary's
// symbols, 0 when the binary is missing. Compared by address, they need
// no read of the type itself: then a damaged page holding one of them
// does not make every object of that type unreadable (every type, for
// PyType_Type; every frame, for PyCode_Type).
type staticTypes struct {
	typeType uint64 // PyType_Type
	codeType uint64 // PyCode_Type
	// internedVar is not a type but the same kind of fact: where the
	// binary's static `interned` (the interned strings' dict, before
	// 3.12) lies.
	internedVar uint64
}

func findStaticTypes(img Image) staticTypes {
	// A symbol of another build than the core's (a file on this host
	// that does not match) names some other address: trusted unread, it
	// would make whatever lies there a type, or a code object.
	mismatched := map[string]bool{}
	for _, fi := range filesOf(img) {
		if fi.Status == coreread.FileMismatch {
			mismatched[fi.Path] = true
		}
	}
	addr := func(name string) uint64 {
		if s, ok := img.LookupSymbol(name); ok && !mismatched[s.File] {
			return s.Addr
		}
		return 0
	}
	st := staticTypes{typeType: addr("PyType_Type"), codeType: addr("PyCode_Type")}
	// Before 3.12 the interned strings are unicodeobject.c's static
	// `interned`: a name common enough that only the copy in the file
	// that defines PyType_Type is CPython's.
	if s, ok := img.LookupSymbol("interned"); ok && !mismatched[s.File] {
		if t, ok := img.LookupSymbol("PyType_Type"); ok && t.File == s.File {
			st.internedVar = s.Addr
		}
	}
	return st
}

// groupClaims merges the claims ("where: what") that say the same thing
// from several places (the symbol, the section and the debug cookie of
// one build usually agree): one entry per claim, its places joined.
func groupClaims(claims []string) []string {
	var order []string
	where := map[string][]string{}
	for _, c := range claims {
		how, what, ok := strings.Cut(c, ": ")
		if !ok {
			how, what = "", c
		}
		if _, seen := where[what]; !seen {
			order = append(order, what)
			where[what] = nil
		}
		if how != "" {
			where[what] = append(where[what], how)
		}
	}
	out := make([]string, len(order))
	for i, what := range order {
		out[i] = what
		if len(where[what]) > 0 {
			out[i] = strings.Join(where[what], ", ") + ": " + what
		}
	}
	return out
}

// tryCandidates validates cands in order: the runtime of the first that
// holds, or an error that ends the search, or neither (try the next
// stage, with next: r or a fresh runtime). tried, claims and fallback
// gather what Open reports at the end.
func (r *Runtime) tryCandidates(img Image, cands []candidate, static staticTypes, opts Options, tried, claims *[]string, fallback *[]*Runtime) (next, rt *Runtime, err error) {
	for _, c := range cands {
		cl := r.readClaim(c)
		*claims = append(*claims, c.how+": "+cl.String())
		if ft := r.freeThreaded(cl); ft != "" {
			return r, nil, fmt.Errorf("%s: pycoroner does not read free-threaded builds (their objects have no GC header and live in mimalloc heaps; see docs/limits.md)", ft)
		}
		if c.hex == 0 && cl.cookieHex>>24 == 3 {
			c.hex = cl.cookieHex
		}
		for _, minor := range c.minors {
			L, err := tableFor(minor, c.hex)
			if err != nil {
				*tried = append(*tried, fmt.Sprintf("%s as %s: %v", c.how, minor, err))
				continue
			}
			if err := r.validate(L, c.addr, c.strict); err != nil {
				*tried = append(*tried, fmt.Sprintf("%s as %s: %v", c.how, minor, err))
				continue
			}
			r.L, r.Addr, r.FoundBy, r.File, r.Version = L, c.addr, c.how, c.file, minor
			r.static, r.claimedHex = static, c.hex
			r.useDWARF(opts)
			r.applyDebugOffsets()
			r.readVersion()
			if r.sysMinor != "" && r.sysMinor != minor {
				// sys.version knows better than a guess from a scan.
				if L2, err := tableFor(r.sysMinor, r.HexVersion); err == nil && r.validate(L2, c.addr, c.strict) == nil {
					r.L, r.codes, r.fallback, r.warnings = L2, nil, nil, nil
					r.forgetTypes()
					r.readVersion()
				}
			}
			if c.strict && r.sysMinor != r.L.Version {
				// A scan hit that sys.version does not confirm: keep looking.
				*tried = append(*tried, fmt.Sprintf("%s as %s: sys.version says %q", c.how, minor, r.sysMinor))
				if len(*fallback) < maxUnconfirmed && r.sysMinor == "" {
					*fallback = append(*fallback, r)
				}
				r = newRuntime(img)
				continue
			}
			return r, r, nil
		}
	}
	return r, nil, nil
}

// maxUnconfirmed bounds the scan hits kept as fallbacks.
const maxUnconfirmed = 8

// bestUnconfirmed chooses among scan hits that sys.version could not
// confirm (a core cut before the sys module's memory, its notes lost):
// the one under whose layout the threads' frames read, most of them.
// More than one version's table can validate one interpreter state (3.8's
// as 3.9's, on a core CI made), and the first was taken, whose frames
// then read as garbage. The first found wins a tie, as before.
func bestUnconfirmed(rts []*Runtime) *Runtime {
	best, bestScore := rts[0], -1
	for _, r := range rts {
		score := 0
		interps, _ := r.Interpreters()
		for _, in := range interps {
			states, _ := r.ThreadStates(in)
			for _, ts := range states {
				frames, _ := r.Frames(ts)
				score += len(frames)
			}
		}
		if score > bestScore {
			best, bestScore = r, score
		}
	}
	return best
}

// candidates lists the guesses the binaries name, best first: symbols,
// then sections. Open looks further (the 3.13+ debug-offsets cookie, then
// a scan of the interpreter's writable memory) only when none holds.
func (r *Runtime) candidates() []candidate {
	img := r.m.img
	var out []candidate
	var claimed uint64 // Py_Version
	if v, ok := img.LookupSymbol("Py_Version"); ok {
		if hex, err := r.m.u32(v.Addr); err == nil && hex>>24 == 3 {
			claimed = uint64(hex)
		}
	}
	minorsFor := func(file string) []string {
		var first []string
		if claimed != 0 {
			first = append(first, fmt.Sprintf("3.%d", claimed>>16&0xff))
		}
		if m := pythonFileVersion.FindStringSubmatch(filepath.Base(file)); m != nil {
			if v := m[1] + "." + m[2]; len(first) == 0 || first[0] != v {
				first = append(first, v)
			}
		}
		if len(first) > 0 {
			// The binary says which version it is: never read it with
			// another version's table.
			return first
		}
		return supportedMinors()
	}
	// A guess of the version (no name for it, or two names that disagree)
	// is validated strictly.
	if s, ok := img.LookupSymbol("_PyRuntime"); ok {
		m := minorsFor(s.File)
		out = append(out, candidate{s.Addr, m, "symbol _PyRuntime in " + s.File, s.File, len(m) > 1, claimed})
	}
	if s, ok := img.LookupSection(".PyRuntime"); ok {
		m := minorsFor(s.File)
		out = append(out, candidate{s.Addr, m, "section .PyRuntime in " + s.File, s.File, len(m) > 1, claimed})
	}
	return out
}

// validate checks that a layout and runtime address lead to a consistent
// interpreter: runtime → interpreter → thread state → back to the interpreter.
func (r *Runtime) validate(L *layout.Layout, rt uint64, strict bool) error {
	interp, err := r.m.ptr(L.RuntimeInterpretersHead.Add(rt))
	if err != nil {
		return fmt.Errorf("read interpreters.head: %w", err)
	}
	if err := r.validateInterp(L, interp, strict); err != nil {
		return err
	}
	if strict && L.RuntimeInterpretersMain.Has() {
		// Found by scanning: interpreters.main must be on the list that
		// starts at interpreters.head. A heap thread state 16 bytes on
		// passes every other check (its interp field reads as head, its
		// frame pointer as main) and, taken for the runtime, made info
		// read the GIL and the main thread from the wrong memory.
		return r.mainOnList(L, rt, interp)
	}
	return nil
}

// validateInterp is the part of validate that depends on the interpreter
// alone: a scan, where many positions name one interpreter, asks once.
func (r *Runtime) validateInterp(L *layout.Layout, interp uint64, strict bool) error {
	if interp == 0 || interp%8 != 0 {
		return fmt.Errorf("interpreters.head is 0x%x", interp)
	}
	ts, err := r.m.ptr(L.InterpTstateHead.Add(interp))
	if err != nil {
		return fmt.Errorf("read interpreter 0x%x: %w", interp, err)
	}
	if ts == 0 {
		if strict {
			return fmt.Errorf("interpreter 0x%x has no thread states", interp)
		}
		// An interpreter with no threads is rare but valid: check its
		// sys dict at least.
		return r.isDictByFlags(L, L.InterpSysdict.Add(interp))
	}
	if ts%8 != 0 {
		return fmt.Errorf("thread state pointer 0x%x is misaligned", ts)
	}
	if strict && len(r.m.img.Threads()) > 0 {
		// Found by scanning: the thread state's pthread_t must be the
		// thread pointer (fs base) of one of the core's threads.
		tid, err := r.m.u64(L.TstateThreadID.Add(ts))
		if err != nil || r.lwpForPthread(tid) == 0 {
			return fmt.Errorf("thread state 0x%x names no thread of this core", ts)
		}
	}
	back, err := r.m.ptr(L.TstateInterp.Add(ts))
	if err != nil {
		return fmt.Errorf("read thread state 0x%x: %w", ts, err)
	}
	if back != interp {
		return fmt.Errorf("thread state 0x%x points to interpreter 0x%x, not 0x%x", ts, back, interp)
	}
	if strict {
		// Found by scanning: demand that sys.modules and the sys dict are
		// dicts, judged by type flags alone (type names may live in files
		// that are missing).
		for _, f := range []struct {
			name string
			off  layout.Offset
		}{{"modules", L.InterpModules}, {"sysdict", L.InterpSysdict}} {
			if err := r.isDictByFlags(L, f.off.Add(interp)); err != nil {
				return fmt.Errorf("interpreter %s: %w", f.name, err)
			}
		}
	}
	return nil
}

// mainOnList checks that interpreters.main is head or follows it.
func (r *Runtime) mainOnList(L *layout.Layout, rt, head uint64) error {
	main, err := r.m.ptr(L.RuntimeInterpretersMain.Add(rt))
	if err != nil {
		return fmt.Errorf("read interpreters.main: %w", err)
	}
	// At most maxInterps steps, which also ends a cycle: no set of the
	// interpreters seen (a map per candidate was most of a scan's time).
	a := head
	for range maxInterps {
		if a == 0 {
			break
		}
		if a == main {
			return nil
		}
		if a, err = r.m.ptr(L.InterpNext.Add(a)); err != nil {
			return fmt.Errorf("read interpreter next: %w", err)
		}
	}
	return fmt.Errorf("interpreters.main 0x%x is not on the list from interpreters.head 0x%x", main, head)
}

// useDWARF replaces the committed table with one read from the binary's
// own DWARF, when it has some.
func (r *Runtime) useDWARF(opts Options) {
	if opts.NoDWARF || r.File == "" {
		return
	}
	cache := layoutCachePath(r.m.img, r.File, opts.LayoutCacheDir)
	if L, ok := loadCachedLayout(cache); ok && L.Version == r.L.Version && r.validate(L, r.Addr, false) == nil {
		r.L = L
		return
	}
	d, err := r.m.img.DWARF(r.File)
	if err != nil {
		return
	}
	L, err := layout.FromDWARF(d, r.L)
	if err != nil {
		r.warn("DWARF of %s not used: %v", r.hostFile(r.File), err)
		return
	}
	if r.validate(L, r.Addr, false) != nil {
		r.warn("DWARF of %s disagrees with the interpreter state; using the committed %s table", r.hostFile(r.File), r.L.Version)
		return
	}
	L.Version = r.L.Version
	L.Source = "DWARF of " + r.File
	r.L = L
	saveCachedLayout(cache, L)
}

// hostFile names a file of the core as read here: the core's path, and
// the file on this host when that is another (--exe, --sysroot).
func (r *Runtime) hostFile(corePath string) string {
	for _, fi := range filesOf(r.m.img) {
		if fi.Path == corePath && fi.DiskPath != "" && fi.DiskPath != corePath {
			return corePath + " (read from " + fi.DiskPath + ")"
		}
	}
	return corePath
}

// readVersion reads sys.version and sys.hexversion for the exact version.
func (r *Runtime) readVersion() {
	interps, err := r.Interpreters()
	if err != nil || len(interps) == 0 {
		return
	}
	sysdict := interps[0].Sysdict
	if sysdict == 0 {
		return
	}
	if v, ok := r.DictLookupStr(sysdict, "version"); ok {
		if s, err := r.StrValue(v); err == nil {
			full, _, _ := strings.Cut(s, " ")
			if parts := strings.SplitN(full, ".", 3); len(parts) >= 2 {
				r.sysMinor = parts[0] + "." + parts[1]
			}
			if strings.HasPrefix(full, r.L.Version+".") || full == r.L.Version {
				r.Version = full
			} else {
				r.warn("sys.version says %q but the layout is for %s", full, r.L.Version)
			}
		}
	}
	if v, ok := r.DictLookupStr(sysdict, "hexversion"); ok {
		if n, err := r.Int64(v); err == nil {
			r.HexVersion = uint64(n)
		}
	}
}

// Minor is the minor version number (11 for 3.11).
func (r *Runtime) Minor() int { return r.L.Minor }

// isDictByFlags checks that the pointer at addr points to an object whose
// type is a dict type and whose type's type is a type.
func (r *Runtime) isDictByFlags(L *layout.Layout, addr uint64) error {
	obj, err := r.m.ptr(addr)
	if err != nil || obj == 0 || obj%8 != 0 {
		return fmt.Errorf("bad object pointer 0x%x", obj)
	}
	tp, err := r.m.ptr(L.ObType.Add(obj))
	if err != nil || tp == 0 || tp%8 != 0 {
		return fmt.Errorf("bad type pointer 0x%x", tp)
	}
	flags, err := r.m.u64(L.TypeFlags.Add(tp))
	if err != nil || !L.TPFlagsDictSubclass.In(flags) {
		return fmt.Errorf("object 0x%x is not a dict", obj)
	}
	meta, err := r.m.ptr(L.ObType.Add(tp))
	if err != nil {
		return err
	}
	mflags, err := r.m.u64(L.TypeFlags.Add(meta))
	if err != nil || !L.TPFlagsTypeSubclass.In(mflags) {
		return fmt.Errorf("type 0x%x of object 0x%x is not a type", tp, obj)
	}
	return nil
}
