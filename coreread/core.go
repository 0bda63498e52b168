package coreread

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Options says where to find the files behind a core.
type Options struct {
	// Sysroot, when set, is prepended to every file path the core names
	// (cores analysed on another host).
	Sysroot string
	// Exe, when set, replaces the main executable named by the core.
	Exe string
	// Decompress says where and how much a compressed core is unpacked.
	Decompress DecompressOptions
}

// Segment is one PT_LOAD of the core: Memsz bytes of memory at Vaddr, of
// which the first Filesz are in the core at Off.
type Segment struct {
	Vaddr, Memsz uint64
	Off, Filesz  uint64
	Flags        elf.ProgFlag
	// Truncated is set when the core file ends before this segment's data:
	// the missing part must not be filled from files on disk.
	Truncated bool
}

// Writable reports whether the process could write this memory.
func (s Segment) Writable() bool { return s.Flags&elf.PF_W != 0 }

// Process is a process image read from a core file.
type Process struct {
	path      string
	f         *os.File
	data      []byte // the core, mmapped read-only
	segs      []Segment
	last      atomic.Int32 // index of the last segment hit, a cheap cache (reads may run in parallel)
	opts      Options
	threads   []Thread
	maps      []Mapping
	files     map[string]*mappedFile
	info      ProcessInfo
	auxv      map[uint64]uint64
	warnings  []string
	truncated bool
	wantSize  uint64 // where the last memory segment ends in the file
	// notesProblems say why the notes could not all be read; what they
	// record (signal, pid, threads, files) is then unknown, not absent.
	notesProblems []string
	// sawPrpsinfo: an NT_PRPSINFO was read (info's pid and command are
	// known). firstPrstatusLost: the first NT_PRSTATUS, the thread the
	// kernel dumped the core for, was damaged or cut off.
	sawPrpsinfo, firstPrstatusLost bool
}

// Truncated reports whether the core file ends before the data its
// headers describe (a disk quota, an interrupted copy).
func (p *Process) Truncated() bool { return p.truncated }

// Sizes are the core file's size and the size its memory segments say it
// should have (the two differ in a truncated core).
func (p *Process) Sizes() (have, want uint64) {
	have = uint64(len(p.data))
	return have, max(p.wantSize, have)
}

// ErrNotMapped is returned for an address no segment or file covers.
var ErrNotMapped = errors.New("address not in the core or any mapped file")

// ErrTruncated is returned for memory the core should hold but lost when
// the file was cut short.
var ErrTruncated = errors.New("memory lost: the core file is truncated")

// maxSegments bounds the program headers accepted from an untrusted core.
const maxSegments = 1 << 20

// Open reads the ELF core at path. The caller must Close it. A core
// compressed with gzip, xz or zstd (systemd-coredump's core.*.zst) is
// decompressed once into opts.Decompress.CacheDir and read from there.
func Open(path string, opts Options) (*Process, error) {
	f, err := openCoreFile(path)
	if err != nil {
		return nil, err
	}
	c, err := sniff(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	if c != NotCompressed {
		return openCompressed(f, path, c, opts)
	}
	p, err := open(f, path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// openCoreFile opens a core only if it is a regular file: a FIFO would
// block the open and then every read, a device would read forever.
// O_NONBLOCK keeps the open itself from waiting for a FIFO's writer.
func openCoreFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open core: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat core: %w", err)
	}
	switch {
	case st.IsDir():
		f.Close()
		return nil, fmt.Errorf("%s is a directory, not a core file", path)
	case !st.Mode().IsRegular():
		f.Close()
		return nil, fmt.Errorf("%s is %s, not a core file: pycoroner reads regular files only (save the core to a file first)", path, fileKind(st.Mode()))
	}
	return f, nil
}

// fileKind names a file type for messages.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}

func open(f *os.File, path string, opts Options) (p *Process, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var made *Process // p is nil once an error is returned
	defer func() {
		// A hostile file must never crash the tool.
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed ELF file (%v)", path, r)
			if ferr := FaultError(r); ferr != nil {
				err = ferr
			}
		}
		if err != nil && made != nil {
			made.unmap()
			p = nil
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat core: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a core file", path)
	}
	_, progs, err := readHeaders(f, st.Size(), path)
	if err != nil {
		return nil, err
	}
	p = &Process{path: path, f: f, opts: opts, files: map[string]*mappedFile{}, auxv: map[uint64]uint64{}}
	made = p
	if st.Size() > 0 {
		p.data, err = unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
		if err != nil {
			return nil, fmt.Errorf("mmap core: %w", err)
		}
		registerMapping(p)
	}
	size := uint64(len(p.data))
	truncated := false
	var notes []*elf.Prog
	for _, pr := range progs {
		switch pr.Type {
		case elf.PT_LOAD:
			s, lost := loadSegment(pr, size)
			truncated = truncated || lost
			p.wantSize = max(p.wantSize, pr.Off+pr.Filesz)
			p.segs = append(p.segs, s)
		case elf.PT_NOTE:
			notes = append(notes, pr)
		}
	}
	p.segs = p.dropOverlaps(p.segs)
	if len(notes) == 0 {
		p.notesProblems = append(p.notesProblems, "the core has no note segment (PT_NOTE)")
		p.firstPrstatusLost = true
	}
	for _, pr := range distinctNotes(notes, p) {
		if err := p.readNotes(pr, size); err != nil {
			p.warn("core notes: %v", err)
			p.notesProblems = append(p.notesProblems, err.Error())
			p.firstPrstatusLost = p.firstPrstatusLost || len(p.threads) == 0
			truncated = truncated || pr.Off >= size || pr.Filesz > size-pr.Off
		}
	}
	if truncated {
		p.truncated = true
		p.warn("core file is truncated (%d bytes): some memory is missing", size)
	}
	if len(p.segs) == 0 {
		return nil, fmt.Errorf("%s: core has no memory segments", path)
	}
	p.setupFiles()
	return p, nil
}

func typeName(t elf.Type) string {
	switch t {
	case elf.ET_EXEC:
		return "executable"
	case elf.ET_DYN:
		return "shared object or PIE executable"
	case elf.ET_REL:
		return "object file"
	}
	return t.String()
}

// Close releases the core and every file opened behind it.
func (p *Process) Close() error {
	for _, mf := range p.files {
		mf.close()
	}
	p.unmap()
	return p.f.Close()
}

func (p *Process) unmap() {
	if p.data != nil {
		unregisterMapping(p)
		unix.Munmap(p.data)
		p.data = nil
	}
}

// Populate maps the core's writable segments into this process's page
// tables before a command that reads most of them (a census), on every
// CPU at once. On the
// virtual machines we run on, the first touch of each page of a mapping
// costs about 2 us whatever madvise said before (1.2 GB: 0.55-0.85 s), and
// a census walks the collector's lists on one CPU first: touched from
// every CPU beforehand, the same pages cost a fraction of the wall time.
// MADV_POPULATE_READ (Linux 5.14) first reads in, in one call, what the
// page cache lacks.
func (p *Process) Populate() {
	const page = 4096
	// The writable segments only: the heap and the interpreter's data
	// are there; the copies of code and read-only data some cores hold
	// (11 MB of a 177 MB core) a census hardly reads, and touched they
	// would count in its peak memory.
	var ranges [][2]int // page ranges of p.data
	pages := 0
	for _, s := range p.segs {
		if !s.Writable() || s.Filesz == 0 || s.Off >= uint64(len(p.data)) {
			continue
		}
		lo, hi := int(s.Off/page), int((min(s.Off+s.Filesz, uint64(len(p.data)))+page-1)/page)
		_ = unix.Madvise(p.data[lo*page:min(hi*page, len(p.data))], unix.MADV_POPULATE_READ)
		ranges = append(ranges, [2]int{lo, hi})
		pages += hi - lo
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, pages/1024))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A core truncated while mapped faults here: the census
			// reports that later; touching simply stops.
			defer func() { _ = recover() }()
			debug.SetPanicOnFault(true)
			var sink byte
			// Worker w touches the w-th share of all the pages.
			from, to, seen := w*pages/workers, (w+1)*pages/workers, 0
			for _, r := range ranges {
				for i := max(r[0], r[0]+from-seen); i < min(r[1], r[0]+to-seen); i++ {
					sink += p.data[i*page]
				}
				seen += r[1] - r[0]
			}
			touched.Add(uint64(sink))
		}()
	}
	wg.Wait()
}

// Evict takes the core's pages out of this process's memory (its
// resident set), the page cache keeping them: a read-only private file
// mapping never written loses nothing, and a page read again faults back
// in. For long work that reads no object, as computing a dominator tree
// from a saved census: the core's pages, all mapped for the census
// (Populate), would otherwise count in the process's peak memory beside
// it.
func (p *Process) Evict() {
	if len(p.data) > 0 {
		_ = unix.Madvise(p.data, unix.MADV_DONTNEED)
	}
}

// Prefetch maps the core's pages that hold [addr, addr+n) into the page
// tables at once (MADV_POPULATE_READ), for a caller about to read all of a
// large range (a list of millions of items): one call instead of a guest
// page fault every 64 KB (the first touch of each page still costs its
// ~2 us here, see Populate; measured on a 24 MB list: 370 faults fewer,
// ~10 ms of CPU less). Memory the core does not hold is skipped; errors
// are ignored (the reads that follow fault as before).
func (p *Process) Prefetch(addr uint64, n int) {
	i, ok := p.segment(addr)
	if !ok || n <= 0 {
		return
	}
	s := p.segs[i]
	rel := addr - s.Vaddr
	if rel >= s.Filesz {
		return
	}
	// Segments are checked against the file when the core is opened, but
	// a truncated core's last one may claim more: clamp to the mapping.
	end := min(s.Off+min(s.Filesz, rel+uint64(n)), uint64(len(p.data)))
	lo := (s.Off + rel) &^ (4096 - 1) // the mapping is page-aligned
	if lo < end {
		_ = unix.Madvise(p.data[lo:end], unix.MADV_POPULATE_READ)
	}
}

// touched keeps Populate's reads from being optimised away.
var touched atomic.Uint64

// Size is the core file's size in bytes.
func (p *Process) Size() int64 { return int64(len(p.data)) }

// Path is the core file's path.
func (p *Process) Path() string { return p.path }

// Segments lists the core's memory segments by address.
func (p *Process) Segments() []Segment { return p.segs }

// Warnings lists what the reader noticed but could work around.
func (p *Process) Warnings() []string { return p.warnings }

func (p *Process) warn(format string, args ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
}

// segment finds the segment that holds addr.
func (p *Process) segment(addr uint64) (int, bool) {
	if last := int(p.last.Load()); last < len(p.segs) {
		s := p.segs[last]
		if addr >= s.Vaddr && addr-s.Vaddr < s.Memsz {
			return last, true
		}
	}
	// A hand-written binary search: this runs for nearly every read.
	lo, hi := 0, len(p.segs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s := &p.segs[mid]; s.Vaddr+s.Memsz > addr {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if i := lo; i < len(p.segs) && addr >= p.segs[i].Vaddr {
		p.last.Store(int32(i))
		return i, true
	}
	return 0, false
}

// InCore returns the bytes at addr that the core itself holds, without
// copying, up to n bytes; fewer when the core's data ends first.
func (p *Process) InCore(addr uint64, n int) []byte {
	i, ok := p.segment(addr)
	if !ok {
		return nil
	}
	s := p.segs[i]
	rel := addr - s.Vaddr
	if rel >= s.Filesz {
		return nil
	}
	avail := s.Filesz - rel
	if uint64(n) < avail {
		avail = uint64(n)
	}
	return p.data[s.Off+rel : s.Off+rel+avail]
}

// ReadAt fills b with memory at addr: from the core where it has the page,
// else from the mapped file. It returns an error if any byte is missing.
func (p *Process) ReadAt(b []byte, addr uint64) (int, error) {
	done := 0
	for done < len(b) {
		a := addr + uint64(done)
		if a < addr {
			return done, fmt.Errorf("read 0x%x: %w", addr, ErrNotMapped)
		}
		if got := p.InCore(a, len(b)-done); len(got) > 0 {
			done += copy(b[done:], got)
			continue
		}
		if i, ok := p.segment(a); ok && p.segs[i].Truncated {
			return done, fmt.Errorf("read 0x%x: %w", a, ErrTruncated)
		}
		n, err := p.readFromFile(b[done:], a)
		if n == 0 || err != nil {
			if err == nil || errors.Is(err, io.EOF) {
				err = ErrNotMapped
			}
			return done, fmt.Errorf("read 0x%x: %w", a, err)
		}
		done += n
	}
	return done, nil
}

// Read returns n bytes at addr.
func (p *Process) Read(addr uint64, n int) ([]byte, error) {
	if n < 0 || n > 1<<30 {
		return nil, fmt.Errorf("read 0x%x: size %d out of range", addr, n)
	}
	if got := p.InCore(addr, n); len(got) == n {
		return got, nil
	}
	b := make([]byte, n)
	if _, err := p.ReadAt(b, addr); err != nil {
		return nil, err
	}
	return b, nil
}

// Uint64 reads a little-endian 64-bit word.
func (p *Process) Uint64(addr uint64) (uint64, error) {
	if got := p.InCore(addr, 8); len(got) == 8 {
		return binary.LittleEndian.Uint64(got), nil
	}
	var b [8]byte
	if _, err := p.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// Uint32 reads a little-endian 32-bit word.
func (p *Process) Uint32(addr uint64) (uint32, error) {
	var b [4]byte
	if _, err := p.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// CString reads a NUL-terminated string of at most max bytes.
func (p *Process) CString(addr uint64, max int) (string, error) {
	var out []byte
	var chunk [64]byte
	for len(out) < max {
		a := addr + uint64(len(out))
		got := p.InCore(a, len(chunk))
		if len(got) == 0 {
			n := len(chunk)
			// Stay within one page so a string near the end of a mapping reads.
			if room := 4096 - int(a%4096); room < n {
				n = room
			}
			if _, err := p.ReadAt(chunk[:n], a); err != nil {
				if _, err1 := p.ReadAt(chunk[:1], a); err1 != nil {
					return "", err
				}
				n = 1
			}
			got = chunk[:n]
		}
		if i := bytes.IndexByte(got, 0); i >= 0 {
			return string(append(out, got[:i]...)), nil
		}
		out = append(out, got...)
	}
	return string(out[:max]), fmt.Errorf("string at 0x%x longer than %d bytes", addr, max)
}

// AddWarnings records warnings from whoever produced the image (a live
// snapshot says how long the process was paused).
func (p *Process) AddWarnings(msgs ...string) { p.warnings = append(p.warnings, msgs...) }
