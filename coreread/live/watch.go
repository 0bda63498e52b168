package live

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Hardware data breakpoints on x86-64: DR0-DR3 hold addresses, DR6 says
// which one fired, DR7 enables them. ptrace reaches them through the
// u_debugreg array of struct user (<sys/user.h>), at this offset.
const (
	offsetDebugRegs = 848          // offsetof(struct user, u_debugreg) on x86-64 Linux
	dr7WriteLen8    = 0x1 | 0x2<<2 // RW=01 (break on write), LEN=10 (8 bytes)
)

// WatchOptions configure Watch.
type WatchOptions struct {
	Addrs   []uint64 // at most 4, 8-byte aligned
	Count   int      // stop after this many hits (0: 1)
	Timeout time.Duration
	// OnHit runs with every thread stopped, the writing thread first in
	// line: write a snapshot, print a stack. It gets the LWP that wrote and
	// the index of the address it wrote.
	OnHit func(tid, which int) error
	// Stop, when it yields, ends the watch early (SIGINT, SIGTERM).
	Stop <-chan os.Signal
	// Ready is called once the watchpoints are armed and the process runs.
	Ready func()
}

// ErrTimeout is returned when the timeout passes before Count hits.
var ErrTimeout = errors.New("timed out")

// Watch arms hardware watchpoints on every thread of a paused session
// (and on threads started later), lets the process run, and calls OnHit
// each time a thread writes a watched word. The process is left running,
// with the watchpoints cleared, and detached.
func (s *Session) Watch(opts WatchOptions) (hits int, err error) {
	if !s.Paused {
		return 0, fmt.Errorf("watch needs a paused process")
	}
	if len(opts.Addrs) == 0 || len(opts.Addrs) > 4 {
		return 0, fmt.Errorf("%d addresses to watch: x86-64 has 4 debug registers", len(opts.Addrs))
	}
	for _, a := range opts.Addrs {
		if a%8 != 0 {
			return 0, fmt.Errorf("address 0x%x is not 8-byte aligned", a)
		}
	}
	if opts.Count <= 0 {
		opts.Count = 1
	}
	defer s.Detach()
	armed := map[int]bool{}
	err = s.tr.do(func() error {
		for _, tid := range s.attached {
			if err := unix.PtraceSetOptions(tid, unix.PTRACE_O_TRACECLONE); err != nil {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
			if err := setDebugRegs(tid, opts.Addrs); err != nil {
				return fmt.Errorf("arm thread %d: %w", tid, err)
			}
			armed[tid] = true
		}
		s.resumeAll()
		return nil
	})
	if err != nil {
		s.disarm()
		return 0, err
	}
	s.PausedAt = time.Time{}
	if opts.Ready != nil {
		opts.Ready()
	}
	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = time.Now().Add(opts.Timeout)
	}
	defer s.disarm()
	for hits < opts.Count {
		select {
		case sig := <-opts.Stop:
			return hits, fmt.Errorf("stopped by %v", sig)
		default:
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return hits, ErrTimeout
		}
		var tid int
		var ws unix.WaitStatus
		err := s.tr.do(func() error {
			var err error
			tid, err = unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil)
			return err
		})
		if errors.Is(err, unix.ECHILD) {
			return hits, fmt.Errorf("pid %d exited", s.PID)
		}
		if err != nil {
			return hits, fmt.Errorf("wait: %w", err)
		}
		if tid <= 0 {
			time.Sleep(500 * time.Microsecond)
			continue
		}
		if ws.Exited() || ws.Signaled() {
			s.forget(tid)
			if tid == s.PID {
				return hits, fmt.Errorf("pid %d exited", s.PID)
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		s.running[tid] = false
		sig, event := ws.StopSignal(), stopEvent(ws)
		switch {
		case sig == unix.SIGTRAP && event == unix.PTRACE_EVENT_CLONE:
			s.tr.do(func() error {
				if msg, err := unix.PtraceGetEventMsg(tid); err == nil {
					s.attached = append(s.attached, int(msg))
					s.Threads = append(s.Threads, int(msg))
					s.running[int(msg)] = true // until its first stop is seen
				}
				return s.resume(tid, 0)
			})
		case event == unix.PTRACE_EVENT_STOP:
			// A new thread's first stop, or an interrupt: arm and go on.
			s.tr.do(func() error {
				if !armed[tid] {
					if err := setDebugRegs(tid, opts.Addrs); err == nil {
						armed[tid] = true
					}
				}
				return s.resume(tid, 0)
			})
		case sig == unix.SIGTRAP:
			var dr6 uint64
			s.tr.do(func() error {
				var err error
				dr6, err = peekUser(tid, offsetDebugRegs+6*8)
				return err
			})
			which := -1
			for i := range opts.Addrs {
				if dr6&(1<<i) != 0 {
					which = i
				}
			}
			if which < 0 { // not ours: the program's own trap
				s.tr.do(func() error { return s.resume(tid, int(unix.SIGTRAP)) })
				continue
			}
			hits++
			// After the last hit the threads stay stopped for disarm.
			if err := s.hit(tid, which, opts.OnHit, hits < opts.Count); err != nil {
				return hits, err
			}
		default:
			// A signal for the program: deliver it.
			s.tr.do(func() error { return s.resume(tid, int(sig)) })
		}
	}
	return hits, nil
}

// hit stops every other thread, runs onHit, clears DR6 and, unless this
// was the last hit, resumes all.
func (s *Session) hit(tid, which int, onHit func(tid, which int) error, resume bool) error {
	s.tr.do(func() error {
		pokeUser(tid, offsetDebugRegs+6*8, 0)
		for _, other := range s.attached {
			if other != tid && s.running[other] {
				s.stopThread(other)
			}
		}
		return nil
	})
	s.regs = map[int]unixRegs{}
	var err error
	if onHit != nil {
		err = onHit(tid, which)
	}
	if resume && err == nil {
		s.tr.do(func() error {
			s.resumeAll()
			return nil
		})
	}
	return err
}

// resume continues a stopped thread, delivering sig (or a signal held back
// while it was stopped for us).
func (s *Session) resume(tid, sig int) error {
	if sig == 0 {
		sig = s.pending[tid]
	}
	delete(s.pending, tid)
	s.running[tid] = true
	return unix.PtraceCont(tid, sig)
}

// resumeAll continues every thread and returns once those that were
// blocked in a system call are blocked in it again. Resuming from an
// interrupt stop makes the kernel restart the call; a signal that arrives
// before the thread is back in it still runs its handler, but the restarted
// call never returns EINTR, so a Python thread in an untimed wait (a lock,
// signal.pause) would not run its Python-level handler. Waiting here keeps
// that window as short as the kernel's own and makes "watching" true when
// it is printed.
func (s *Session) resumeAll() {
	blocked := map[int]bool{}
	for _, tid := range s.attached {
		if nr, ok := currentSyscall(s.PID, tid); ok && nr >= 0 {
			blocked[tid] = true
		}
	}
	for _, tid := range s.attached {
		s.resume(tid, 0)
	}
	deadline := time.Now().Add(200 * time.Millisecond)
	for tid := range blocked {
		for time.Now().Before(deadline) {
			if nr, ok := currentSyscall(s.PID, tid); ok && nr >= 0 && sleeping(s.PID, tid) {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// currentSyscall is the system call a thread is blocked in (-1 when it is
// stopped in user code); ok is false while it runs.
func currentSyscall(pid, tid int) (nr int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/syscall", pid, tid))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, false
	}
	nr, err = strconv.Atoi(f[0])
	return nr, err == nil
}

// sleeping reports whether a thread is in an interruptible or
// uninterruptible sleep (not running, not stopped).
func sleeping(pid, tid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	return data[i+2] == 'S' || data[i+2] == 'D'
}

// stopThread interrupts a running thread and waits until it is stopped for
// us (see awaitStop for what happens to signals meanwhile).
func (s *Session) stopThread(tid int) {
	if unix.PtraceInterrupt(tid) == nil {
		s.awaitStop(tid)
	}
	s.running[tid] = false
}

// disarm stops every thread, clears its debug registers, and leaves the
// detaching to Detach.
func (s *Session) disarm() {
	if s.tr == nil {
		return
	}
	s.tr.do(func() error {
		for _, tid := range s.attached {
			if s.running[tid] {
				s.stopThread(tid)
			}
			pokeUser(tid, offsetDebugRegs+7*8, 0)
			pokeUser(tid, offsetDebugRegs+6*8, 0)
		}
		return nil
	})
}

func (s *Session) forget(tid int) {
	for i, t := range s.attached {
		if t == tid {
			s.attached = append(s.attached[:i], s.attached[i+1:]...)
			break
		}
	}
	for i, t := range s.Threads {
		if t == tid {
			s.Threads = append(s.Threads[:i], s.Threads[i+1:]...)
			break
		}
	}
}

func setDebugRegs(tid int, addrs []uint64) error {
	var dr7 uint64
	for i, a := range addrs {
		if err := pokeUser(tid, offsetDebugRegs+uintptr(i)*8, a); err != nil {
			return err
		}
		dr7 |= 1<<(2*i) | dr7WriteLen8<<(16+4*i)
	}
	return pokeUser(tid, offsetDebugRegs+7*8, dr7)
}

func pokeUser(tid int, off uintptr, v uint64) error {
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_POKEUSR, uintptr(tid), off, uintptr(v), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func peekUser(tid int, off uintptr) (uint64, error) {
	var b [8]byte
	if _, err := unix.PtracePeekUser(tid, off, b[:]); err != nil {
		return 0, err
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56, nil
}
