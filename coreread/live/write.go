package live

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Stats describes a snapshot.
type Stats struct {
	Threads  int
	Segments int
	Bytes    int64         // size of the core written
	Pause    time.Duration // how long the process was stopped (0 when not paused)
	Took     time.Duration
}

// Progress, when set, is told how many bytes of memory were copied so far
// out of how many.
type Progress func(done, total int64)

const pageSize = 4096

// segment is one PT_LOAD of the core being written.
type segment struct {
	m      mapping
	dump   uint64 // bytes of memory to copy, from m.start
	offset uint64 // where they go in the core
}

// WriteCore writes an ELF core of the attached process to w (a regular
// file or a memfd). Memory a core would keep is copied: anonymous and
// writable memory, private file mappings written since they were mapped
// (read-only ones included: RELRO), and the ELF header page of each mapped
// file so that build-ids survive; other file-backed pages stay on disk,
// named by NT_FILE.
func (s *Session) WriteCore(w *os.File, progress Progress) (Stats, error) {
	start := time.Now()
	st := Stats{Threads: len(s.Threads)}
	maps, err := readMaps(s.PID)
	if err != nil {
		return st, s.gone(err)
	}
	if len(maps) == 0 || exited(s.PID) { // a zombie has no mappings
		return st, s.exitedError()
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", s.PID))
	if err != nil {
		return st, s.gone(fmt.Errorf("open memory of pid %d: %w", s.PID, err))
	}
	defer mem.Close()
	notes, err := s.notes(maps)
	if err != nil {
		return st, err
	}
	cow, err := copiedOnWrite(s.PID)
	if err != nil {
		return st, s.gone(err)
	}
	var segs []segment
	var total int64
	for _, m := range maps {
		if m.path == "[vsyscall]" || m.path == "[vvar]" {
			continue
		}
		sg := segment{m: m}
		switch {
		case !m.readable():
		case !m.fileBacked() || (m.writable() && m.private()) || (m.private() && cow[m.start]):
			sg.dump = m.end - m.start
		case m.offset == 0 && hasELFMagic(mem, m.start):
			sg.dump = pageSize
		}
		total += int64(sg.dump)
		segs = append(segs, sg)
	}
	// Layout: ELF header, program headers, notes, then page-aligned data.
	const ehsize, phsize = 64, 56
	noteOff := uint64(ehsize + phsize*(len(segs)+1))
	dataOff := align(noteOff+uint64(len(notes)), pageSize)
	off := dataOff
	for i := range segs {
		segs[i].offset = off
		off += segs[i].dump
	}
	var hdr bytes.Buffer
	eh := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: uint16(len(segs) + 1)}
	if len(segs)+1 >= 0xffff {
		return st, fmt.Errorf("pid %d has %d mappings, too many for one core", s.PID, len(segs))
	}
	copy(eh.Ident[:], elf.ELFMAG)
	eh.Ident[elf.EI_CLASS], eh.Ident[elf.EI_DATA], eh.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	eh.Ident[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	binary.Write(&hdr, binary.LittleEndian, eh)
	binary.Write(&hdr, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_NOTE), Off: noteOff, Filesz: uint64(len(notes)), Align: 4})
	for _, sg := range segs {
		var flags elf.ProgFlag
		if sg.m.readable() {
			flags |= elf.PF_R
		}
		if sg.m.writable() {
			flags |= elf.PF_W
		}
		if strings.Contains(sg.m.perms, "x") {
			flags |= elf.PF_X
		}
		binary.Write(&hdr, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(flags), Off: sg.offset,
			Vaddr: sg.m.start, Filesz: sg.dump, Memsz: sg.m.end - sg.m.start, Align: pageSize})
	}
	hdr.Write(notes)
	if _, err := w.WriteAt(hdr.Bytes(), 0); err != nil {
		return st, fmt.Errorf("write core: %w", err)
	}
	var done int64
	readFailed := false
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	for _, sg := range segs {
		for pos := uint64(0); pos < sg.dump; {
			n := uint64(len(buf))
			if sg.dump-pos < n {
				n = sg.dump - pos
			}
			chunk := buf[:n]
			if _, err := mem.ReadAt(chunk, int64(sg.m.start+pos)); err != nil {
				// /proc/PID/mem reads nothing at all (EOF) once the process
				// has released its memory, before it shows as a zombie.
				if errors.Is(err, io.EOF) || exited(s.PID) {
					return st, s.exitedError()
				}
				readFailed = true
				// Unreadable pages (guard pages, device memory) stay zero.
				copyReadable(mem, chunk, sg.m.start+pos, zero)
			}
			if _, err := w.WriteAt(chunk, int64(sg.offset+pos)); err != nil {
				return st, fmt.Errorf("write core: %w", err)
			}
			select {
			case sig := <-s.Stop:
				return st, fmt.Errorf("%w by %s: no core was written, pid %d goes on", ErrInterrupted, signalName(sig), s.PID)
			default:
			}
			pos += n
			done += int64(n)
			if progress != nil {
				progress(done, total)
			}
		}
	}
	// A read that failed while the process was dying left zeros: a
	// process killed during the copy gets no core that looks complete.
	if readFailed && exited(s.PID) {
		return st, s.exitedError()
	}
	st.Segments = len(segs)
	st.Bytes = int64(off)
	st.Took = time.Since(start)
	if err := w.Truncate(int64(off)); err != nil {
		return st, fmt.Errorf("write core: %w", err)
	}
	return st, nil
}

// copyReadable fills chunk page by page, leaving unreadable pages zero.
func copyReadable(mem io.ReaderAt, chunk []byte, addr uint64, zero []byte) {
	for p := 0; p < len(chunk); p += pageSize {
		end := p + pageSize
		if end > len(chunk) {
			end = len(chunk)
		}
		if _, err := mem.ReadAt(chunk[p:end], int64(addr)+int64(p)); err != nil {
			copy(chunk[p:end], zero)
		}
	}
}

func hasELFMagic(mem io.ReaderAt, addr uint64) bool {
	var b [4]byte
	_, err := mem.ReadAt(b[:], int64(addr))
	return err == nil && string(b[:]) == elf.ELFMAG
}

func align(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }

// ErrInterrupted is returned when a signal on Session.Stop ends a copy.
var ErrInterrupted = errors.New("snapshot interrupted")

// ErrExited is returned when the process exits while it is copied.
var ErrExited = errors.New("exited during the snapshot")

// gone turns an error into "the process exited" when it did.
func (s *Session) gone(err error) error {
	if exited(s.PID) || errors.Is(err, unix.ESRCH) {
		return s.exitedError()
	}
	return err
}

func (s *Session) exitedError() error {
	return fmt.Errorf("pid %d %w: no core was written (something killed it, or it ended by itself)", s.PID, ErrExited)
}

// notes builds the PT_NOTE contents: NT_PRSTATUS per thread, NT_PRPSINFO,
// NT_AUXV and NT_FILE.
func (s *Session) notes(maps []mapping) ([]byte, error) {
	var b bytes.Buffer
	for _, tid := range s.Threads {
		desc := make([]byte, 336)
		binary.LittleEndian.PutUint32(desc[32:], uint32(tid))
		binary.LittleEndian.PutUint32(desc[36:], uint32(s.PID))
		if s.Paused {
			binary.LittleEndian.PutUint16(desc[12:], uint16(unix.SIGSTOP))
		}
		if regs, err := s.Regs(tid); err == nil {
			var rb bytes.Buffer
			binary.Write(&rb, binary.LittleEndian, regs)
			copy(desc[112:112+27*8], rb.Bytes())
		}
		writeNote(&b, "CORE", 1, desc) // NT_PRSTATUS
	}
	writeNote(&b, "CORE", 3, s.prpsinfo()) // NT_PRPSINFO
	if auxv, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", s.PID)); err == nil && len(auxv) < 1<<16 {
		writeNote(&b, "CORE", 6, auxv) // NT_AUXV
	}
	writeNote(&b, "CORE", 0x46494c45, fileNote(maps)) // NT_FILE
	return b.Bytes(), nil
}

func writeNote(b *bytes.Buffer, name string, typ uint32, desc []byte) {
	binary.Write(b, binary.LittleEndian, [3]uint32{uint32(len(name) + 1), uint32(len(desc)), typ})
	b.WriteString(name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(desc)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

func (s *Session) prpsinfo() []byte {
	d := make([]byte, 136)
	binary.LittleEndian.PutUint32(d[24:], uint32(s.PID))
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.PID)); err == nil {
		copy(d[40:55], strings.TrimSpace(string(comm)))
	}
	if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.PID)); err == nil {
		copy(d[56:135], strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	if st, err := os.Stat(fmt.Sprintf("/proc/%d", s.PID)); err == nil {
		if sys, ok := st.Sys().(*unix.Stat_t); ok {
			binary.LittleEndian.PutUint32(d[16:], sys.Uid)
			binary.LittleEndian.PutUint32(d[20:], sys.Gid)
		}
	}
	return d
}

func fileNote(maps []mapping) []byte {
	var files []mapping
	for _, m := range maps {
		if m.fileBacked() {
			files = append(files, m)
		}
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [2]uint64{uint64(len(files)), pageSize})
	for _, m := range files {
		binary.Write(&b, binary.LittleEndian, [3]uint64{m.start, m.end, m.offset / pageSize})
	}
	for _, m := range files {
		b.WriteString(strings.TrimSuffix(m.path, " (deleted)"))
		b.WriteByte(0)
	}
	return b.Bytes()
}

// Snapshot attaches to pid, writes its core to path, and detaches.
// A signal on stop (SIGINT, SIGTERM) ends it with ErrInterrupted and no
// file left behind. An existing file at path is replaced only with
// overwrite (see Install).
func Snapshot(pid int, path string, pause, overwrite bool, progress Progress, stop <-chan os.Signal) (Stats, error) {
	s, err := Attach(pid, pause)
	if err != nil {
		return Stats{}, err
	}
	defer s.Detach()
	s.Stop, s.Overwrite = stop, overwrite
	return s.WriteCoreFile(path, progress, true)
}

// WriteCoreFile writes the core to path through a temporary file renamed
// into place: a partial file is never left looking complete. With detach,
// the process is let go as soon as its memory is copied. A file already at
// path is replaced only if s.Overwrite (see Install).
func (s *Session) WriteCoreFile(path string, progress Progress, detach bool) (Stats, error) {
	tmp, err := CreatePartial(path)
	if err != nil {
		return Stats{}, err
	}
	st, err := s.WriteCore(tmp, progress)
	if detach {
		s.Detach()
		st.Pause = s.Pause
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return st, err
	}
	if err := Install(tmp.Name(), path, s.Overwrite); err != nil {
		os.Remove(tmp.Name())
		return st, fmt.Errorf("rename to %s: %w", path, err)
	}
	return st, nil
}

// SnapshotToMemory writes the core into an anonymous in-memory file and
// returns it, for commands that analyse a live process directly.
func SnapshotToMemory(pid int, pause bool) (*os.File, Stats, error) {
	s, err := Attach(pid, pause)
	if err != nil {
		return nil, Stats{}, err
	}
	defer s.Detach()
	return s.WriteMemoryCore(true)
}

// WriteMemoryCore writes the core into an anonymous in-memory file.
func (s *Session) WriteMemoryCore(detach bool) (*os.File, Stats, error) {
	fd, err := unix.MemfdCreate(fmt.Sprintf("pycoroner-pid-%d", s.PID), 0)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("memfd: %w", err)
	}
	// thread-self, not self: /proc/self/fd is the main thread's table,
	// which is not ours when the tracer thread (which has a table of its
	// own, see newTracer) is the main thread.
	f := os.NewFile(uintptr(fd), fmt.Sprintf("/proc/thread-self/fd/%d", fd))
	st, err := s.WriteCore(f, nil)
	if detach {
		s.Detach()
		st.Pause = s.Pause
	}
	if err != nil {
		f.Close()
		return nil, st, err
	}
	return f, st, nil
}

// signalName is "SIGINT" rather than Go's "interrupt".
func signalName(sig os.Signal) string {
	if n, ok := sig.(syscall.Signal); ok && unix.SignalName(n) != "" {
		return unix.SignalName(n)
	}
	return sig.String()
}
