package live

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tracer runs functions on one OS thread: ptrace requests must all come
// from the thread that attached.
type tracer struct {
	reqs chan func()
}

func newTracer() *tracer {
	t := &tracer{reqs: make(chan func())}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		for fn := range t.reqs {
			fn()
		}
	}()
	return t
}

func (t *tracer) do(fn func() error) error {
	done := make(chan error, 1)
	t.reqs <- func() { done <- fn() }
	return <-done
}

func (t *tracer) close() { close(t.reqs) }

// Session is an attachment to a process.
type Session struct {
	PID     int
	Threads []int // LWPs, main thread first
	Paused  bool
	// PausedAt is when the last thread stopped; Pause is how long the
	// process stayed stopped (set by Detach).
	PausedAt time.Time
	Pause    time.Duration

	tr       *tracer
	attached []int
	regs     map[int]unixRegs
	running  map[int]bool // during a watch: threads not stopped for us
	pending  map[int]int  // signals held back while a thread was stopped for us
}

// ErrNoProcess is returned for a pid that does not exist.
var ErrNoProcess = errors.New("no such process")

// Attach attaches to pid. With pause, every thread is stopped until Detach;
// without, memory is read while the process runs (faster, may be
// inconsistent) and registers are not available.
func Attach(pid int, pause bool) (*Session, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	s := &Session{PID: pid, Paused: pause, regs: map[int]unixRegs{}, running: map[int]bool{}, pending: map[int]int{}}
	if !pause {
		tids, err := tasks(pid)
		if err != nil {
			return nil, err
		}
		s.Threads = tids
		return s, nil
	}
	s.tr = newTracer()
	if err := s.seizeAll(); err != nil {
		s.Detach()
		return nil, err
	}
	s.PausedAt = time.Now()
	return s, nil
}

// seizeAll stops every thread, again until no new thread appeared meanwhile.
func (s *Session) seizeAll() error {
	seen := map[int]bool{}
	for round := 0; round < 100; round++ {
		tids, err := tasks(s.PID)
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if seen[tid] {
				continue
			}
			seen[tid] = true
			fresh++
			err := s.tr.do(func() error {
				if err := unix.PtraceSeize(tid); err != nil {
					return err
				}
				s.attached = append(s.attached, tid)
				if err := unix.PtraceInterrupt(tid); err != nil {
					return err
				}
				return s.awaitStop(tid)
			})
			if errors.Is(err, unix.ESRCH) {
				continue // the thread exited meanwhile
			}
			if err != nil {
				return attachError(s.PID, err)
			}
		}
		if fresh == 0 {
			sort.Ints(s.attached)
			s.Threads = orderMainFirst(s.PID, s.attached)
			return nil
		}
	}
	return fmt.Errorf("pid %d keeps starting threads; could not stop them all", s.PID)
}

func orderMainFirst(pid int, tids []int) []int {
	out := []int{pid}
	for _, t := range tids {
		if t != pid {
			out = append(out, t)
		}
	}
	return out
}

// awaitStop waits until a thread we interrupted reaches its interrupt (or
// group) stop. A signal that reaches the thread first is held back in
// s.pending, to be delivered on resume or detach, so pausing the program
// never swallows one of its signals; a trap from one of our own
// watchpoints that was already on its way is dropped (its DR6 cleared).
func (s *Session) awaitStop(tid int) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		got, err := unix.Wait4(tid, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil {
			return err
		}
		if got != tid {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		if ws.Exited() || ws.Signaled() {
			return unix.ESRCH
		}
		if !ws.Stopped() {
			continue
		}
		if stopEvent(ws) == unix.PTRACE_EVENT_STOP {
			return nil
		}
		sig := ws.StopSignal()
		if sig == unix.SIGTRAP {
			if dr6, err := peekUser(tid, offsetDebugRegs+6*8); err == nil && dr6&0xf != 0 {
				pokeUser(tid, offsetDebugRegs+6*8, 0)
				sig = 0
			}
		}
		if sig != 0 {
			s.pending[tid] = int(sig)
		}
		if err := unix.PtraceCont(tid, 0); err != nil { // on to the interrupt stop
			return err
		}
	}
	return fmt.Errorf("thread %d did not stop within 5s", tid)
}

// stopEvent is the ptrace event of a stop. Unlike WaitStatus.TrapCause it
// also sees a group-stop, which PTRACE_SEIZE reports as PTRACE_EVENT_STOP
// with the stopping signal rather than SIGTRAP.
func stopEvent(ws unix.WaitStatus) int {
	return int(ws>>16) & 0xff
}

func attachError(pid int, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("permission denied attaching to pid %d: ptrace needs the same user and kernel.yama.ptrace_scope=0, or CAP_SYS_PTRACE (run as root or with sudo); see docs/live.md", pid)
	}
	if errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("pid %d: %w (it exited?)", pid, ErrNoProcess)
	}
	return fmt.Errorf("attach to pid %d: %w", pid, err)
}

// Regs returns a paused thread's registers.
func (s *Session) Regs(tid int) (unix.PtraceRegs, error) {
	if r, ok := s.regs[tid]; ok {
		return r, nil
	}
	if !s.Paused {
		return unix.PtraceRegs{}, fmt.Errorf("registers need a paused process")
	}
	var regs unix.PtraceRegs
	err := s.tr.do(func() error { return unix.PtraceGetRegs(tid, &regs) })
	if err == nil {
		s.regs[tid] = regs
	}
	return regs, err
}

// Detach resumes the process. It is safe to call more than once.
func (s *Session) Detach() {
	if s.tr == nil {
		return
	}
	for _, tid := range s.attached {
		tid := tid
		sig := s.pending[tid]
		s.tr.do(func() error {
			// PTRACE_DETACH's data argument is the signal to deliver.
			_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(tid), 0, uintptr(sig), 0, 0)
			if errno != 0 {
				return errno
			}
			return nil
		})
	}
	if !s.PausedAt.IsZero() {
		s.Pause = time.Since(s.PausedAt)
	}
	s.attached = nil
	s.tr.close()
	s.tr = nil
}

// tasks lists a process's threads.
func tasks(pid int) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
		}
		return nil, fmt.Errorf("list threads of pid %d: %w", pid, err)
	}
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pid %d has no threads (a zombie?)", pid)
	}
	return orderMainFirst(pid, out), nil
}

// alive reports whether the process still exists.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

type unixRegs = unix.PtraceRegs
