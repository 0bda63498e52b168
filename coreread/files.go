package coreread

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pycoroner/pycoroner/internal/elfdwarf"
)

// FileStatus says whether a file named by the core could be used.
type FileStatus string

const (
	FileOK        FileStatus = "ok"          // found, build-ids agree
	FileNoBuildID FileStatus = "no-build-id" // found; nothing to compare
	// FileUnverified: found, but the core's copy of its header page was
	// in the part a truncated core lost: its build-id is unknown.
	FileUnverified  FileStatus = "unverified"
	FileMismatch    FileStatus = "mismatch" // found, but a different build
	FileMissing     FileStatus = "missing"  // not on this host (or sysroot)
	FileNotELF      FileStatus = "not-elf"  // a data file (locale archive, ...)
	FileOutsideRoot FileStatus = "outside-sysroot"
)

// FileInfo describes one file behind the image.
type FileInfo struct {
	Path        string // as the core names it
	DiskPath    string // where it was looked for on this host
	Start, End  uint64 // the lowest and highest address it is mapped at
	IsExe       bool
	BuildIDCore string // from the core's copy of its ELF header page
	BuildIDDisk string // from the file on disk
	Status      FileStatus
}

// mappedFile is one file behind the image, opened lazily.
type mappedFile struct {
	mu         sync.Mutex // the lazily opened file and tables; reads may run in parallel
	info       FileInfo
	inRoot     string // the sysroot the file is opened under, if any
	bias       uint64 // load bias: runtime address minus ELF virtual address
	headerSeen bool   // info.Start is the mapping of file offset 0
	f          *os.File
	ef         *elf.File
	openErr    error
	syms       []elf.Symbol
	symsErr    error
	symsOK     bool
	// raw: ELF64 .dynsym and .symtab as stored, each read on first use
	// (rawTable): a lookup of an exported name (_PyRuntime) reads the small
	// dynamic table only, not libpython's static one (760 KB).
	raw     [2]*rawSymtab
	rawRead [2]bool
	// mapping: the whole file, mapped read-only once a symbol table is
	// read (sectionBytes); nil when the mapping was refused.
	mapping    []byte
	mappingErr bool
}

func (mf *mappedFile) close() {
	if mf.mapping != nil {
		unix.Munmap(mf.mapping)
		mf.mapping = nil
	}
	if mf.f != nil {
		mf.f.Close()
	}
}

// sectionBytes is sec's contents, read in place from a read-only mapping
// of the file where it can be, else copied (sec.Data). A warm heap
// command reads libpython's symbol tables (about 850 KB) to find the
// interpreter: copied, they were fresh heap pages, each costing a fault
// on the virtual machines here (internal/hugeheap); mapped, they are the
// page cache's. The caller holds mf.mu.
func (mf *mappedFile) sectionBytes(sec *elf.Section) ([]byte, error) {
	if sec.Type == elf.SHT_NOBITS || sec.Flags&elf.SHF_COMPRESSED != 0 || mf.f == nil {
		return sec.Data()
	}
	if mf.mapping == nil && !mf.mappingErr {
		mf.mappingErr = true
		if st, err := mf.f.Stat(); err == nil && st.Size() > 0 && st.Size() == int64(int(st.Size())) {
			if m, err := unix.Mmap(int(mf.f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE); err == nil {
				mf.mapping, mf.mappingErr = m, false
			}
		}
	}
	end := sec.Offset + sec.Size
	if mf.mapping == nil || end < sec.Offset || end > uint64(len(mf.mapping)) {
		return sec.Data() // its own error for a section past the file's end
	}
	return mf.mapping[sec.Offset:end:end], nil
}

// open opens the disk file once.
func (mf *mappedFile) open() (*os.File, error) {
	mf.mu.Lock()
	defer mf.mu.Unlock()
	if mf.f == nil && mf.openErr == nil {
		if mf.inRoot != "" {
			mf.f, mf.openErr = OpenInRoot(mf.inRoot, mf.info.Path)
		} else {
			mf.f, mf.openErr = OpenRegular(mf.info.DiskPath)
		}
	}
	return mf.f, mf.openErr
}

func (mf *mappedFile) elfFile() (*elf.File, error) {
	f, err := mf.open()
	if err != nil {
		return nil, err
	}
	mf.mu.Lock()
	defer mf.mu.Unlock()
	if mf.ef != nil {
		return mf.ef, nil
	}
	ef, err := safeELF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mf.info.DiskPath, err)
	}
	mf.ef = ef
	return ef, nil
}

func safeELF(f *os.File) (ef *elf.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			ef, err = nil, fmt.Errorf("malformed ELF file (%v)", r)
		}
	}()
	return elf.NewFile(f)
}

// setupFiles groups the NT_FILE mappings by file, picks the executable,
// resolves paths under the sysroot and compares build-ids.
func (p *Process) setupFiles() {
	sort.Slice(p.maps, func(i, j int) bool { return p.maps[i].Start < p.maps[j].Start })
	exePath := ""
	if entry, ok := p.auxv[9]; ok { // AT_ENTRY
		if m, ok := p.mappingAt(entry); ok {
			exePath = m.Path
		}
	}
	if exePath == "" && len(p.maps) > 0 {
		exePath = p.maps[0].Path
	}
	skipped := 0
	for _, m := range p.maps {
		mf, ok := p.files[m.Path]
		if !ok && len(p.files) >= maxFiles && m.Path != exePath {
			skipped++
			continue
		}
		if !ok {
			mf = &mappedFile{info: FileInfo{Path: m.Path, Start: m.Start, End: m.End, IsExe: m.Path == exePath}}
			mf.info.DiskPath = p.diskPath(m.Path, mf.info.IsExe)
			if p.opts.Sysroot != "" && !(mf.info.IsExe && p.opts.Exe != "") {
				mf.inRoot = p.opts.Sysroot
			}
			p.files[m.Path] = mf
		}
		if m.End > mf.info.End {
			mf.info.End = m.End
		}
		if m.FileOffset == 0 && !mf.headerSeen {
			mf.info.Start, mf.headerSeen = m.Start, true
		}
	}
	if skipped > 0 {
		p.warn("the core names more than %d files; %d mappings of the others are not read", maxFiles, skipped)
	}
	for _, path := range p.filePaths() {
		p.checkFile(p.files[path])
	}
}

// maxFiles bounds the files behind an image that are opened: a process
// maps a few hundred, a hostile NT_FILE may name a file per mapping.
const maxFiles = 4096

// filePaths returns the files' core paths, executable first, then by address.
func (p *Process) filePaths() []string {
	out := make([]string, 0, len(p.files))
	for path := range p.files {
		out = append(out, path)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := p.files[out[i]], p.files[out[j]]
		if a.info.IsExe != b.info.IsExe {
			return a.info.IsExe
		}
		return a.info.Start < b.info.Start
	})
	return out
}

func (p *Process) diskPath(path string, isExe bool) string {
	if isExe && p.opts.Exe != "" {
		return p.opts.Exe
	}
	if p.opts.Sysroot == "" {
		return path
	}
	return filepath.Join(p.opts.Sysroot, filepath.Clean("/"+path))
}

// checkFile computes the load bias and compares build-ids for one file.
func (p *Process) checkFile(mf *mappedFile) {
	hdr := p.InCore(mf.info.Start, 4096)
	coreIsELF := len(hdr) >= 64 && bytes.HasPrefix(hdr, []byte(elf.ELFMAG))
	if coreIsELF {
		mf.bias, mf.info.BuildIDCore = p.headerFacts(mf.info.Start, hdr)
	}
	ef, err := mf.elfFile()
	switch {
	case errors.Is(mf.openErr, ErrOutsideRoot):
		mf.info.Status = FileOutsideRoot
		p.warn("%s resolves outside --sysroot (a symlink or .. leads out of it, and nothing inside answers it); not used", mf.info.DiskPath)
		return
	case mf.openErr != nil:
		mf.info.Status = FileMissing
		switch {
		case !errors.Is(mf.openErr, os.ErrNotExist):
			p.warn("%s not used: %v; memory the core left out of it cannot be read", mf.info.DiskPath, mf.openErr)
		case coreIsELF:
			p.warn("%s is not on this host (looked for %s); memory the core left out of it cannot be read", mf.info.Path, mf.info.DiskPath)
		}
		return
	case err != nil:
		mf.info.Status = FileNotELF
		if coreIsELF || mf.info.IsExe {
			p.warn("%s: %v", mf.info.DiskPath, err)
		}
		return
	}
	if !coreIsELF {
		// The header page was not dumped: compute the bias from the file.
		for _, pr := range ef.Progs {
			if pr.Type == elf.PT_LOAD && pr.Off == 0 {
				mf.bias = mf.info.Start - pr.Vaddr&^0xfff
				break
			}
		}
	}
	mf.info.BuildIDDisk = buildIDFromFile(ef)
	switch {
	case !coreIsELF && p.headerLost(mf.info.Start):
		mf.info.Status = FileUnverified
	case mf.info.BuildIDCore == "" || mf.info.BuildIDDisk == "":
		mf.info.Status = FileNoBuildID
	case mf.info.BuildIDCore != mf.info.BuildIDDisk:
		mf.info.Status = FileMismatch
		p.warn("%s on this host is a different build than the one in the core (build-id %s, core has %s): results may be wrong; use --sysroot or --exe with the original files", mf.info.DiskPath, mf.info.BuildIDDisk, mf.info.BuildIDCore)
	default:
		mf.info.Status = FileOK
	}
}

// headerLost says whether the page at addr was dumped but lies in the
// part of a truncated core that is missing.
func (p *Process) headerLost(addr uint64) bool {
	i, ok := p.segment(addr)
	if !ok {
		return false
	}
	s := p.segs[i]
	return s.Truncated && addr-s.Vaddr >= s.Filesz
}

// headerFacts reads the load bias and GNU build-id from the ELF header page
// of a mapped file as the core recorded it.
func (p *Process) headerFacts(start uint64, hdr []byte) (bias uint64, buildID string) {
	le := binary.LittleEndian
	phoff := le.Uint64(hdr[32:])
	phentsize := uint64(le.Uint16(hdr[54:]))
	phnum := uint64(le.Uint16(hdr[56:]))
	if phentsize < 56 || phnum > 256 {
		return 0, ""
	}
	type ph struct{ typ, off, vaddr, filesz uint64 }
	var phs []ph
	for i := uint64(0); i < phnum; i++ {
		b := p.InCore(start+phoff+i*phentsize, 56)
		if len(b) < 56 {
			break
		}
		phs = append(phs, ph{uint64(le.Uint32(b[0:])), le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint64(b[32:])})
	}
	for _, h := range phs {
		if h.typ == uint64(elf.PT_LOAD) && h.off == 0 {
			bias = start - h.vaddr&^0xfff
			break
		}
	}
	for _, h := range phs {
		if h.typ != uint64(elf.PT_NOTE) || h.filesz > 1<<16 {
			continue
		}
		if id := gnuBuildID(p.InCore(bias+h.vaddr, int(h.filesz))); id != "" {
			return bias, id
		}
	}
	return bias, ""
}

func buildIDFromFile(ef *elf.File) string {
	for _, pr := range ef.Progs {
		if pr.Type != elf.PT_NOTE || pr.Filesz > 1<<16 {
			continue
		}
		b := make([]byte, pr.Filesz)
		if _, err := pr.ReadAt(b, 0); err != nil {
			continue
		}
		if id := gnuBuildID(b); id != "" {
			return id
		}
	}
	return ""
}

// gnuBuildID finds NT_GNU_BUILD_ID in a run of ELF notes.
func gnuBuildID(b []byte) string {
	le := binary.LittleEndian
	for len(b) >= 12 {
		namesz, descsz, typ := uint64(le.Uint32(b)), uint64(le.Uint32(b[4:])), le.Uint32(b[8:])
		nameEnd := 12 + align4(namesz)
		if nameEnd+descsz > uint64(len(b)) {
			return ""
		}
		if typ == 3 && namesz == 4 && string(b[12:15]) == "GNU" {
			return hex.EncodeToString(b[nameEnd : nameEnd+descsz])
		}
		next := nameEnd + align4(descsz)
		if next > uint64(len(b)) {
			return ""
		}
		b = b[next:]
	}
	return ""
}

// Files describes every file behind the image, executable first.
func (p *Process) Files() []FileInfo {
	var out []FileInfo
	for _, path := range p.filePaths() {
		out = append(out, p.files[path].info)
	}
	return out
}

// Executable returns the main executable's entry, if the core names one.
func (p *Process) Executable() (FileInfo, bool) {
	for _, mf := range p.files {
		if mf.info.IsExe {
			return mf.info, true
		}
	}
	return FileInfo{}, false
}

func (p *Process) mappingAt(addr uint64) (Mapping, bool) {
	i := sort.Search(len(p.maps), func(i int) bool { return p.maps[i].End > addr })
	if i < len(p.maps) && addr >= p.maps[i].Start {
		return p.maps[i], true
	}
	return Mapping{}, false
}

// FileAt names the file mapped at addr, if any.
func (p *Process) FileAt(addr uint64) (string, bool) {
	m, ok := p.mappingAt(addr)
	return m.Path, ok
}

func (p *Process) readFromFile(b []byte, addr uint64) (int, error) {
	m, ok := p.mappingAt(addr)
	if !ok {
		return 0, ErrNotMapped
	}
	mf := p.files[m.Path]
	if mf == nil {
		return 0, fmt.Errorf("%s not read (the core names too many files)", m.Path)
	}
	f, err := mf.open()
	if err != nil {
		return 0, fmt.Errorf("%s not readable (%v)", m.Path, err)
	}
	n := uint64(len(b))
	if room := m.End - addr; room < n {
		n = room
	}
	got, err := f.ReadAt(b[:n], int64(addr-m.Start+m.FileOffset))
	if got > 0 {
		return got, nil
	}
	return 0, err
}

// Symbol is a symbol of a mapped file at its run-time address.
type Symbol struct {
	Name string
	Addr uint64
	Size uint64
	File string
}

func (mf *mappedFile) symbols() ([]elf.Symbol, error) {
	ef, err := mf.elfFile()
	mf.mu.Lock()
	defer mf.mu.Unlock()
	if mf.symsOK {
		return mf.syms, mf.symsErr
	}
	mf.symsOK = true
	if err != nil {
		mf.symsErr = err
		return nil, err
	}
	dyn, _ := ef.DynamicSymbols()
	all, _ := ef.Symbols()
	mf.syms = append(dyn, all...)
	return mf.syms, nil
}

// rawSymtab is a symbol table as the file stores it (ELF64 entries, the
// first, null one dropped) with its string table: a lookup compares names
// in place instead of making a string of every symbol's (debug/elf's
// Symbols does, which cost a fresh process tens of milliseconds for
// libpython's tables).
type rawSymtab struct {
	order binary.ByteOrder
	syms  []byte
	strs  []byte
}

const sym64Size = 24

// rawSymTypes are the symbol tables a lookup searches, in order.
var rawSymTypes = [2]elf.SectionType{elf.SHT_DYNSYM, elf.SHT_SYMTAB}

// rawTable reads the dynamic (i 0) or the static (i 1) symbol table of an
// ELF64 file, as debug/elf's DynamicSymbols and Symbols would find them,
// once; nil when the file has none (or one they would reject). ok false
// for a file of another class.
func (mf *mappedFile) rawTable(i int) (t *rawSymtab, ok bool) {
	ef, err := mf.elfFile()
	mf.mu.Lock()
	defer mf.mu.Unlock()
	if err != nil {
		return nil, false
	}
	if ef.Class != elf.ELFCLASS64 {
		return nil, false
	}
	if mf.rawRead[i] {
		return mf.raw[i], true
	}
	mf.rawRead[i] = true
	sec := ef.SectionByType(rawSymTypes[i])
	if sec == nil {
		return nil, true
	}
	data, err := mf.sectionBytes(sec)
	if err != nil || len(data) == 0 || len(data)%sym64Size != 0 {
		return nil, true
	}
	if sec.Link == 0 || int(sec.Link) >= len(ef.Sections) {
		return nil, true
	}
	strs, err := mf.sectionBytes(ef.Sections[sec.Link])
	if err != nil {
		return nil, true
	}
	mf.raw[i] = &rawSymtab{order: ef.ByteOrder, syms: data[sym64Size:], strs: strs}
	return mf.raw[i], true
}

// rawSymbols reads both raw tables (rawTable); ok false for a file that is
// not ELF64.
func (mf *mappedFile) rawSymbols() ([]rawSymtab, bool) {
	var out []rawSymtab
	for i := range rawSymTypes {
		t, ok := mf.rawTable(i)
		if !ok {
			return nil, false
		}
		if t != nil {
			out = append(out, *t)
		}
	}
	return out, true
}

// lookup finds the first defined symbol named name (section not
// SHN_UNDEF, value not 0) in the table.
func (t *rawSymtab) lookup(name string) (value, size uint64, ok bool) {
	for off := 0; off+sym64Size <= len(t.syms); off += sym64Size {
		e := t.syms[off : off+sym64Size]
		at := int(t.order.Uint32(e[0:4]))
		end := at + len(name)
		if end >= len(t.strs) || end < at || t.strs[end] != 0 || string(t.strs[at:end]) != name {
			continue
		}
		if elf.SectionIndex(t.order.Uint16(e[6:8])) == elf.SHN_UNDEF {
			continue
		}
		if v := t.order.Uint64(e[8:16]); v != 0 {
			return v, t.order.Uint64(e[16:24]), true
		}
	}
	return 0, 0, false
}

// LookupSymbol finds a defined symbol by name in the executable first, then
// in the other mapped files by address. Undefined entries (an extension
// module's reference to a libpython symbol) are skipped.
func (p *Process) LookupSymbol(name string) (Symbol, bool) {
	for _, path := range p.filePaths() {
		mf := p.files[path]
		if mf.info.Status == FileNotELF || mf.info.Status == FileMissing {
			continue
		}
		if _, ok := mf.rawTable(0); ok {
			for i := range rawSymTypes {
				t, _ := mf.rawTable(i)
				if t == nil {
					continue
				}
				if v, size, ok := t.lookup(name); ok {
					return Symbol{Name: name, Addr: v + mf.bias, Size: size, File: path}, true
				}
			}
			continue
		}
		syms, err := mf.symbols()
		if err != nil {
			continue
		}
		for _, s := range syms {
			if s.Name == name && s.Section != elf.SHN_UNDEF && s.Value != 0 {
				return Symbol{Name: name, Addr: s.Value + mf.bias, Size: s.Size, File: path}, true
			}
		}
	}
	return Symbol{}, false
}

// LookupSection finds an allocated section by name (".PyRuntime") in the
// mapped files and returns its run-time address range.
func (p *Process) LookupSection(name string) (Symbol, bool) {
	for _, path := range p.filePaths() {
		mf := p.files[path]
		if mf.info.Status == FileNotELF || mf.info.Status == FileMissing {
			continue
		}
		ef, err := mf.elfFile()
		if err != nil {
			continue
		}
		if s := ef.Section(name); s != nil && s.Flags&elf.SHF_ALLOC != 0 && s.Addr != 0 {
			return Symbol{Name: name, Addr: s.Addr + mf.bias, Size: s.Size, File: path}, true
		}
	}
	return Symbol{}, false
}

// DWARF returns the debug info of a mapped file (by its core path), or an
// error when it has none.
func (p *Process) DWARF(path string) (d *dwarf.Data, err error) {
	mf, ok := p.files[path]
	if !ok {
		return nil, fmt.Errorf("%s is not mapped in this core", path)
	}
	ef, err := mf.elfFile()
	if err != nil {
		return nil, err
	}
	f, err := mf.open()
	if err != nil {
		return nil, err
	}
	if ef.Section(".debug_info") == nil {
		return nil, fmt.Errorf("%s has no DWARF debug info", path)
	}
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("%s: malformed DWARF (%v)", path, r)
		}
	}()
	return elfdwarf.Load(ef, f)
}

// OpenRegular opens a file for reading only if it is a regular file: a
// core (or a co_filename) may name a FIFO or a device, and opening one of
// those blocks or reads a terminal. O_NONBLOCK keeps the open itself from
// waiting.
func OpenRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, st.Mode().Type())
	}
	return f, nil
}

// FileBuildID is the GNU build-id of the file on disk behind a mapped path
// ("" when unknown), for caches keyed by build.
func (p *Process) FileBuildID(path string) string {
	if mf, ok := p.files[path]; ok {
		return mf.info.BuildIDDisk
	}
	return ""
}
