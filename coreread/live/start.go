package live

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"
)

// StartOptions configure StartAt.
type StartOptions struct {
	Argv                  []string // the program and its arguments
	Stdin, Stdout, Stderr *os.File
	Symbol                string // stop when the program first runs this function
	Timeout               time.Duration
}

// StartAt starts a program under pycoroner and returns it paused (every
// thread stopped, as after Attach) when it first runs the function
// Symbol, looked up in the ELF files it maps (.dynsym, then .symtab). The
// program runs through "sh -c 'kill -STOP $$; exec ...'": the stopped
// shell is seized before it execs, so nothing of the program runs
// untraced. At the exec stop an execute breakpoint on the entry point
// (the dynamic linker has mapped the libraries by then) finds where Symbol
// is; a second one stops the program there. A program run through an
// explicit loader (ld.so --library-path DIR python) has the loader's entry
// point; Symbol is then looked for at each call of the loader's
// rendezvous function until the loader has mapped it. The returned Cmd is the
// program's: Wait for it only once the session is detached (ptrace stops
// would otherwise reach that wait).
func StartAt(opts StartOptions) (*Session, *exec.Cmd, error) {
	if len(opts.Argv) == 0 {
		return nil, nil, fmt.Errorf("no program to start")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	args := append([]string{"-c", `kill -STOP $$ && exec "$@"`, "sh"}, opts.Argv...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", opts.Argv[0], err)
	}
	pid := cmd.Process.Pid
	fail := func(err error) (*Session, *exec.Cmd, error) {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, nil, err
	}
	deadline := time.Now().Add(opts.Timeout)
	for !groupStopped(pid) {
		if time.Now().After(deadline) || exited(pid) {
			return fail(fmt.Errorf("start %s: the shell that runs it did not stop itself", opts.Argv[0]))
		}
		time.Sleep(time.Millisecond)
	}
	s := &Session{PID: pid, Paused: true, regs: map[int]unixRegs{}, threads: map[int]*thread{}}
	s.tr = newTracer()
	if s.tr.err != nil {
		s.tr.close()
		return fail(s.tr.err)
	}
	err := s.tr.do(func() error {
		if err := breakpointsFire(); err != nil {
			return err
		}
		return s.runToSymbol(opts, deadline)
	})
	if err != nil {
		s.tr.do(func() error {
			for _, fd := range s.perfFDs {
				unix.Close(fd)
			}
			s.perfFDs = nil
			return nil
		})
		s.tr.close() // a dead tracer detaches; the program is then killed
		s.tr = nil
		return fail(fmt.Errorf("start %s: %w", opts.Argv[0], err))
	}
	s.Threads = orderMainFirst(pid, s.order)
	s.PausedAt = time.Now()
	return s, cmd, nil
}

// runToSymbol seizes the stopped shell, lets it exec the program, and runs
// the program to its entry point, then to the symbol. Runs on the tracer.
func (s *Session) runToSymbol(opts StartOptions, deadline time.Time) error {
	pid := s.PID
	const options = unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACECLONE
	if _, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, options, 0, 0); errno != 0 {
		return fmt.Errorf("seize: %w", errno)
	}
	s.threads[pid] = &thread{tid: pid}
	s.order = []int{pid}
	if err := unix.Kill(pid, unix.SIGCONT); err != nil {
		return err
	}
	// stage 0: until exec; 1: until the entry point (or the loader's
	// rendezvous, until the symbol is mapped); 2: until the symbol.
	stage := 0
	atRendezvous := false
	for {
		if time.Now().After(deadline) {
			return fmt.Errorf("the program did not reach %s within %v", opts.Symbol, opts.Timeout)
		}
		var ws unix.WaitStatus
		tid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		if tid <= 0 {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		th := s.threads[tid]
		if th == nil {
			th = &thread{tid: tid}
			s.threads[tid] = th
			s.order = append(s.order, tid)
		}
		if ws.Exited() || ws.Signaled() {
			if tid == pid {
				return fmt.Errorf("the program exited before it reached %s (%v)", opts.Symbol, exitDescription(ws))
			}
			s.forget(tid)
			continue
		}
		if !ws.Stopped() {
			continue
		}
		th.stopped = true
		sig, event := ws.StopSignal(), stopEvent(ws)
		deliver := 0
		switch {
		case event == unix.PTRACE_EVENT_EXEC && stage == 0:
			entry, base, err := entryPoint(pid)
			if err != nil {
				return err
			}
			// No program interpreter (AT_BASE 0) but a rendezvous
			// function: the program is the dynamic linker run as a
			// command (ld.so --library-path DIR python ...), stopped at
			// its own entry point, which maps the real program and its
			// libraries only later. Wait for them at the loader's
			// rendezvous function, as gdb does: the loader calls it
			// whenever its list of objects changed (after mapping the
			// program, after its needed libraries, at every dlopen).
			// (Its entry point is where the process stands now: an
			// execute breakpoint there would not fire.)
			if base == 0 {
				if addr, err := findSymbol(pid, rendezvousSymbol); err == nil {
					entry, atRendezvous = addr, true
				}
			}
			fd, err := openBreakpoint(pid, entry, hwBreakpointX, 0xfe)
			if err != nil {
				return err
			}
			s.perfFDs, s.armed = []int{fd}, true
			stage = 1
		case event == 0 && sig == unix.SIGTRAP:
			if _, ours := ourTrap(tid, sig); !ours {
				deliver = int(sig)
				break
			}
			if stage == 2 {
				s.closeBreakpoints()
				s.park(th)
				s.stopAll()
				return nil
			}
			addr, err := findSymbol(pid, opts.Symbol)
			switch {
			case err == nil:
				stage = 2
			case atRendezvous:
				// Mapped more, not yet the symbol: keep waiting.
				addr = 0
			default:
				return err
			}
			if addr != 0 {
				s.closeBreakpoints()
				fd, err := openBreakpoint(pid, addr, hwBreakpointX, 0xfe)
				if err != nil {
					return err
				}
				s.perfFDs, s.armed = []int{fd}, true
			}
		case event == 0:
			deliver = int(sig) // the program's own signal (SIGCONT first)
		}
		if err := unix.PtraceCont(tid, deliver); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		th.stopped = false
	}
}

func exitDescription(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// groupStopped reports whether a process is stopped by a signal (T).
func groupStopped(pid int) bool {
	data, err := readProcFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	for i := len(data) - 1; i >= 0; i-- {
		if data[i] == ')' {
			return i+2 < len(data) && data[i+2] == 'T'
		}
	}
	return false
}

// entryPoint is AT_ENTRY of the process's auxiliary vector, with AT_BASE
// (where the program interpreter is loaded; 0 when there is none).
func entryPoint(pid int) (entry, base uint64, err error) {
	auxv, err := readProcFile(fmt.Sprintf("/proc/%d/auxv", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read auxv: %w", err)
	}
	found := false
	for i := 0; i+16 <= len(auxv); i += 16 {
		switch binary.LittleEndian.Uint64(auxv[i:]) {
		case 7: // AT_BASE
			base = binary.LittleEndian.Uint64(auxv[i+8:])
		case 9: // AT_ENTRY
			entry, found = binary.LittleEndian.Uint64(auxv[i+8:]), true
		}
	}
	if !found {
		return 0, 0, errors.New("no AT_ENTRY in the auxiliary vector")
	}
	return entry, base, nil
}

// rendezvousSymbol is the function glibc's dynamic linker calls after each
// change to its list of loaded objects (r_debug.r_brk: the rendezvous
// protocol of <link.h>); it is exported from ld.so's .dynsym.
const rendezvousSymbol = "_dl_debug_state"

// findSymbol finds a function's address in the ELF files a process maps.
func findSymbol(pid int, name string) (uint64, error) {
	maps, err := readMaps(pid)
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, m := range maps {
		if !m.fileBacked() || m.offset != 0 || seen[m.path] {
			continue
		}
		seen[m.path] = true
		if addr, ok := symbolIn(m, name); ok {
			return addr, nil
		}
	}
	return 0, fmt.Errorf("no function %s in the files the program maps", name)
}

// symbolIn looks name up in the file of mapping m (mapped at file offset
// 0) and returns its run-time address.
func symbolIn(m mapping, name string) (uint64, bool) {
	f, err := elf.Open(m.path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var base uint64
	if f.Type == elf.ET_DYN {
		low := ^uint64(0)
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Vaddr < low {
				low = p.Vaddr
			}
		}
		base = m.start - (low &^ (pageSize - 1))
	}
	for _, get := range []func() ([]elf.Symbol, error){f.DynamicSymbols, f.Symbols} {
		syms, err := get()
		if err != nil {
			continue
		}
		for _, s := range syms {
			if s.Name == name && elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
				return base + s.Value, true
			}
		}
	}
	return 0, false
}
