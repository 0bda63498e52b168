package unwind

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/internal/elfdwarf"
)

// module is one mapped ELF file with what unwinding and naming need of it,
// loaded once and shared by every thread.
type module struct {
	path   string // as the core names it
	start  uint64 // lowest address it is mapped at
	end    uint64
	bias   uint64 // run-time address minus ELF virtual address
	ef     *elf.File
	loaded bool
	err    error

	ehFrame    frame.FrameDescriptionEntries
	debugFrame frame.FrameDescriptionEntries
	syms       []symbol // sorted by address
	byName     map[string][]symbol
	dwarf      *dwarfIndex
	debugFile  string              // the separate debug file used, if any
	coldParts  map[uint64]coldPart // by FDE start: see coldPartAt
}

type symbol struct {
	name   string
	addr   uint64 // ELF virtual address
	size   uint64
	global bool
}

// loader opens the files behind an image lazily.
type loader struct {
	mu      sync.Mutex
	sysroot string
	// dwarfCache keeps the inflated DWARF of compressed debug files.
	dwarfCache elfdwarf.Cached
	files      map[string]*module
	infos      map[string]coreread.FileInfo
}

// debugDir is where Debian and Fedora put separate debug files.
const debugDir = "/usr/lib/debug"

func newLoader(files []coreread.FileInfo, sysroot string, dwarfCache elfdwarf.Cached) *loader {
	l := &loader{sysroot: sysroot, dwarfCache: dwarfCache, files: map[string]*module{}, infos: map[string]coreread.FileInfo{}}
	for _, fi := range files {
		l.infos[fi.Path] = fi
	}
	return l
}

// module returns the loaded module for a core path, or nil.
func (l *loader) module(path string) *module {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m, ok := l.files[path]; ok {
		return m
	}
	fi, ok := l.infos[path]
	if !ok {
		return nil
	}
	m := &module{path: path, start: fi.Start, end: fi.End}
	l.files[path] = m
	switch fi.Status {
	case coreread.FileMissing, coreread.FileNotELF, coreread.FileOutsideRoot:
		m.err = fmt.Errorf("%s: %s", path, fi.Status)
		return m
	case coreread.FileMismatch:
		// Another build's CFI and symbols would name and unwind wrongly
		// without a sign: show file+offset and unwind by frame pointers.
		m.err = fmt.Errorf("%s on this host is another build than the core's", path)
		return m
	}
	m.err = safely(func() error { return m.load(fi, l) })
	return m
}

// open opens a file the core names as coreread does: under --sysroot
// resolved inside it (no symlink or .. leads out), else where it is.
func (l *loader) open(corePath, diskPath string) (*os.File, error) {
	if l.sysroot != "" && diskPath == filepath.Join(l.sysroot, filepath.Clean("/"+corePath)) {
		return coreread.OpenInRoot(l.sysroot, corePath)
	}
	return coreread.OpenRegular(diskPath)
}

// safely runs f, turning a panic of a parser fed a hostile file into an error.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed file (%v)", r)
		}
	}()
	return f()
}

func (m *module) load(fi coreread.FileInfo, l *loader) error {
	f, err := l.open(fi.Path, fi.DiskPath)
	if err != nil {
		return err
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", fi.DiskPath, err)
	}
	m.ef = ef
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD && p.Off == 0 {
			m.bias = fi.Start - p.Vaddr&^0xfff
			break
		}
	}
	if s := ef.Section(".eh_frame"); s != nil && s.Type != elf.SHT_NOBITS && s.Addr != 0 {
		if data, err := s.Data(); err == nil {
			m.ehFrame = parseCFI(data, s.Addr)
		}
	}
	debug, debugBytes := ef, io.ReaderAt(f)
	if ef.Section(".debug_info") == nil {
		if df, r, path := findDebugFile(fi, ef, l); df != nil {
			debug, debugBytes, m.debugFile = df, r, path
		}
	}
	if s := debug.Section(".debug_frame"); s != nil && s.Type != elf.SHT_NOBITS {
		if data, err := s.Data(); err == nil {
			m.debugFrame = parseCFI(data, 0)
		}
	}
	m.syms = readSymbols(ef, debug)
	if debug.Section(".debug_info") != nil {
		kept := l.dwarfCache
		kept.Label = fi.DiskPath
		if m.debugFile != "" {
			kept.Label = filepath.Join(l.sysroot, m.debugFile)
		}
		if d, err := elfdwarf.LoadCached(debug, debugBytes, kept); err == nil {
			m.dwarf = newDWARFIndex(d)
		}
	}
	return nil
}

func parseCFI(data []byte, ehFrameAddr uint64) frame.FrameDescriptionEntries {
	var fdes frame.FrameDescriptionEntries
	if err := safely(func() error {
		var err error
		fdes, err = frame.Parse(data, binary.LittleEndian, 0, 8, ehFrameAddr)
		return err
	}); err != nil {
		return nil
	}
	// Parse keeps file order; lookups need them sorted.
	return frame.FrameDescriptionEntries(nil).Append(fdes)
}

// findDebugFile finds the separate debug file of a stripped ELF file by
// build-id (/usr/lib/debug/.build-id/ab/cdef.debug) or .gnu_debuglink, and
// uses it only if its build-id matches.
func findDebugFile(fi coreread.FileInfo, ef *elf.File, l *loader) (*elf.File, io.ReaderAt, string) {
	id := fi.BuildIDDisk
	link := ""
	if s := ef.Section(".gnu_debuglink"); s != nil {
		if data, err := s.Data(); err == nil {
			if i := strings.IndexByte(string(data), 0); i > 0 {
				link = string(data[:i])
			}
		}
	}
	var candidates []string // as paths on the target system
	for _, dir := range debugDirs(fi.Path) {
		if len(id) > 2 {
			candidates = append(candidates, filepath.Join(dir, ".build-id", id[:2], id[2:]+".debug"))
		}
		if link != "" {
			candidates = append(candidates, filepath.Join(dir, filepath.Dir(fi.Path), link))
		}
	}
	for _, c := range candidates {
		f, err := l.open(c, filepath.Join(l.sysroot, c))
		if err != nil {
			continue
		}
		df, err := elf.NewFile(f)
		if err != nil {
			f.Close()
			continue
		}
		if id != "" && buildID(df) != id {
			df.Close()
			continue
		}
		return df, f, c
	}
	return nil, nil, ""
}

// debugDirs lists where the debug files of a file may be: the debug
// directory of the tree the file was unpacked into, when it lies in one
// (ROOT/usr/lib/x86_64-linux-gnu/libc.so.6 → ROOT/usr/lib/debug, where
// `dpkg -x` of libc6-dbg puts them: how Debian sid's interpreters run
// here), then the system's. A debug file is used only if its build-id
// matches, so looking in the file's own tree first cannot pick another
// build's.
func debugDirs(path string) []string {
	var dirs []string
	if i := strings.Index(path, "/usr/"); i > 0 {
		dirs = append(dirs, path[:i]+debugDir)
	}
	return append(dirs, debugDir)
}

func buildID(ef *elf.File) string {
	s := ef.Section(".note.gnu.build-id")
	if s == nil {
		return ""
	}
	b, err := s.Data()
	if err != nil || len(b) < 16 {
		return ""
	}
	namesz := binary.LittleEndian.Uint32(b)
	descsz := binary.LittleEndian.Uint32(b[4:])
	off := 12 + (namesz+3)&^3
	if uint64(off)+uint64(descsz) > uint64(len(b)) {
		return ""
	}
	return fmt.Sprintf("%x", b[off:off+descsz])
}

// readSymbols merges the function symbols of the file and its debug file.
func readSymbols(files ...*elf.File) []symbol {
	seen := map[symbol]bool{}
	var out []symbol
	for _, ef := range files {
		all, _ := ef.Symbols()
		dyn, _ := ef.DynamicSymbols()
		for _, s := range append(all, dyn...) {
			if elf.ST_TYPE(s.Info) != elf.STT_FUNC && elf.ST_TYPE(s.Info) != elf.STT_GNU_IFUNC && elf.ST_TYPE(s.Info) != elf.STT_NOTYPE {
				continue
			}
			if s.Section == elf.SHN_UNDEF || s.Value == 0 || s.Name == "" {
				continue
			}
			sym := symbol{name: s.Name, addr: s.Value, size: s.Size, global: elf.ST_BIND(s.Info) != elf.STB_LOCAL}
			if !seen[sym] {
				seen[sym] = true
				out = append(out, sym)
			}
		}
	}
	return readSymbolsSorted(out)
}

func readSymbolsSorted(out []symbol) []symbol {
	sort.SliceStable(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	return out
}

// symbolAt names the function symbol that covers an ELF virtual address,
// as gdb's minimal symbols do: a sized symbol that covers it wins over a
// closer symbol without a size (a label inside a function: glibc's
// __syscall_cancel_arch_end, where a thread blocked in a system call
// stands, lies inside __syscall_cancel_arch); failing one, the closest
// unsized symbol names it. Among aliases it prefers a sized symbol, then a
// global one.
func (m *module) symbolAt(vaddr uint64) (symbol, bool) {
	i := sort.Search(len(m.syms), func(i int) bool { return m.syms[i].addr > vaddr })
	var best, label symbol
	found, labelFound := false, false
	for j := i - 1; j >= 0 && j >= i-64; j-- {
		s := m.syms[j]
		if found && s.addr != best.addr {
			break
		}
		if s.size == 0 {
			if !labelFound || (s.addr == label.addr && better(s, label)) {
				label, labelFound = s, true
			}
			continue
		}
		if vaddr >= s.addr+s.size {
			continue // ends before vaddr; an earlier one may still cover it
		}
		if !found || better(s, best) {
			best, found = s, true
		}
	}
	if found {
		return best, true
	}
	return label, labelFound
}

func better(a, b symbol) bool {
	if (a.size != 0) != (b.size != 0) {
		return a.size != 0
	}
	if a.global != b.global {
		return a.global
	}
	// Of aliases (clone3, __clone3, __GI___clone3) gdb shows the plain name.
	return leadingUnderscores(a.name) < leadingUnderscores(b.name)
}

func leadingUnderscores(s string) int { return len(s) - len(strings.TrimLeft(s, "_")) }

// fde finds the frame description entry for an ELF virtual address.
func (m *module) fde(vaddr uint64) *frame.FrameDescriptionEntry {
	for _, fdes := range []frame.FrameDescriptionEntries{m.ehFrame, m.debugFrame} {
		if len(fdes) == 0 {
			continue
		}
		if f, err := fdes.FDEForPC(vaddr); err == nil {
			return f
		}
	}
	return nil
}

// symbolNamed finds a function symbol by name; a name several local
// functions share is ambiguous and not found.
func (m *module) symbolNamed(name string, globalOnly bool) (uint64, bool) {
	if m.byName == nil {
		m.byName = map[string][]symbol{}
		for _, s := range m.syms {
			m.byName[s.name] = append(m.byName[s.name], s)
		}
	}
	var addr uint64
	found := false
	for _, s := range m.byName[name] {
		if globalOnly && !s.global {
			continue
		}
		if found && s.addr != addr {
			return 0, false
		}
		addr, found = s.addr, true
	}
	return addr, found
}

// loaded lists the modules opened so far.
func (l *loader) loaded() []*module {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*module, 0, len(l.files))
	for _, m := range l.files {
		out = append(out, m)
	}
	return out
}
