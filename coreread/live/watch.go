package live

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

// ErrNotCounted, returned by OnHit, says the hit does not count towards
// Count (the caller judged the write uninteresting); the watch goes on.
var ErrNotCounted = errors.New("hit not counted")

// ErrTimeout is returned when the timeout passes before Count hits.
var ErrTimeout = errors.New("timed out")

// ErrGone is returned when the process ends while watched; Session.Exit
// then holds its wait status when pycoroner collected it.
var ErrGone = errors.New("exited")

// maxWatchAddrs is the number of x86-64 debug registers.
const maxWatchAddrs = 4

// Watch arms a hardware write breakpoint on each address in every thread
// of a paused session (and in threads started later), lets the process
// run, and calls OnHit each time a thread writes a watched word. The
// process is left running, without breakpoints, and detached.
func (s *Session) Watch(opts WatchOptions) (hits int, err error) {
	if !s.Paused {
		return 0, fmt.Errorf("watch needs a paused process")
	}
	if len(opts.Addrs) == 0 || len(opts.Addrs) > maxWatchAddrs {
		return 0, fmt.Errorf("%d addresses to watch: x86-64 has %d debug registers", len(opts.Addrs), maxWatchAddrs)
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
	// A tracee's stop sends its tracer SIGCHLD: the wake-up for the loop
	// below, which must not sleep while a thread waits in a stop.
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, unix.SIGCHLD)
	defer signal.Stop(chld)
	err = s.tr.do(func() error {
		if err := breakpointsFire(); err != nil {
			return err
		}
		for _, tid := range s.order {
			if err := unix.PtraceSetOptions(tid, unix.PTRACE_O_TRACECLONE); err != nil {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
			fds, err := openBreakpoints(tid, opts.Addrs)
			if err != nil {
				return fmt.Errorf("arm thread %d: %w", tid, err)
			}
			s.armed = true
			s.perfFDs = append(s.perfFDs, fds...)
		}
		s.resumeAll()
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.PausedAt = time.Time{}
	if opts.Ready != nil {
		opts.Ready()
	}
	var timeout <-chan time.Time
	if opts.Timeout > 0 {
		t := time.NewTimer(opts.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	// SIGCHLD can be merged or missed while the loop is busy: look again
	// now and then regardless.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for hits < opts.Count {
		var gone error
		s.tr.do(func() error {
			gone = s.drain()
			return nil
		})
		if len(s.perfTraps) > 0 {
			n, err := s.hits(opts, hits)
			hits += n
			if err != nil {
				return hits, err
			}
			if hits < opts.Count {
				// Hits that OnHit did not count can come without end (a
				// thread writing over and over): the stop and the timeout
				// are looked at here too, not only when no trap is queued.
				select {
				case sig := <-opts.Stop:
					return hits, fmt.Errorf("stopped by %s", SignalName(sig))
				case <-timeout:
					return hits, ErrTimeout
				default:
				}
			}
			continue
		}
		if gone != nil {
			return hits, gone
		}
		select {
		case sig := <-opts.Stop:
			return hits, fmt.Errorf("stopped by %s", SignalName(sig))
		case <-timeout:
			return hits, ErrTimeout
		case <-chld:
		case <-tick.C:
		}
	}
	return hits, nil
}

// drain handles every stop the threads reported, without blocking: our
// breakpoints' traps are queued as hits (the writer kept stopped), a group
// stop keeps the thread stopped for the program, anything else goes on
// with its signal. It returns an error once the process is gone. Runs on
// the tracer.
func (s *Session) drain() error {
	for {
		var ws unix.WaitStatus
		tid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil)
		if errors.Is(err, unix.ECHILD) {
			return fmt.Errorf("pid %d %w", s.PID, ErrGone)
		}
		if err != nil || tid <= 0 {
			return nil
		}
		th := s.threads[tid]
		if th == nil {
			// A new thread whose first stop came before its creator's
			// clone event.
			th = &thread{tid: tid}
			s.threads[tid] = th
			s.order = append(s.order, tid)
			s.Threads = append(s.Threads, tid)
		}
		if ws.Exited() || ws.Signaled() {
			s.forget(tid)
			if tid == s.PID {
				noteExit(tid, ws)
				s.Exit = &ws
				return fmt.Errorf("pid %d %w", s.PID, ErrGone)
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		before := len(s.perfTraps)
		s.noteStop(th, ws, false)
		if len(s.perfTraps) > before {
			continue // a hit: stays stopped
		}
		s.resume(th)
	}
}

// hits reports the queued hits: every other thread is stopped, OnHit runs
// for each hit (up to the count), and the process resumes unless the
// count was reached. It returns the number reported.
func (s *Session) hits(opts WatchOptions, done int) (int, error) {
	s.tr.do(func() error {
		s.stopAll()
		return nil
	})
	n := 0
	for len(s.perfTraps) > 0 && done+n < opts.Count {
		t := s.perfTraps[0]
		s.perfTraps = s.perfTraps[1:]
		if s.threads[t.tid] == nil {
			continue
		}
		n++
		s.regs = map[int]unixRegs{}
		if opts.OnHit != nil {
			if err := opts.OnHit(t.tid, t.which); errors.Is(err, ErrNotCounted) {
				n--
			} else if err != nil {
				return n, err
			}
		}
	}
	s.perfTraps = nil
	if done+n < opts.Count {
		s.tr.do(func() error {
			s.resumeAll()
			return nil
		})
	}
	return n, nil
}

// resume lets a stopped thread go on: with the signal it stopped with, or,
// in a group stop, only as far as PTRACE_LISTEN (the program was stopped
// and stays so until SIGCONT; the kernel tells us when that comes). Runs
// on the tracer.
func (s *Session) resume(th *thread) {
	var err error
	if th.group != 0 {
		_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_LISTEN, uintptr(th.tid), 0, 0, 0, 0)
		if errno != 0 {
			err = errno
		}
		th.listening = err == nil
		return
	}
	err = unix.PtraceCont(th.tid, th.sig)
	if err == nil {
		th.stopped, th.sig = false, 0
	}
}

// resumeAll continues every thread and returns once those that were
// blocked in a system call are blocked in it again. Resuming from an
// interrupt stop makes the kernel restart the call; a signal that arrives
// before the thread is back in it still runs its handler, but the restarted
// call never returns EINTR, so a Python thread in an untimed wait (a lock,
// signal.pause) would not run its Python-level handler. Waiting here keeps
// that window as short as the kernel's own and makes "watching" true when
// it is printed. Runs on the tracer.
func (s *Session) resumeAll() {
	blocked := map[int]bool{}
	for _, tid := range s.order {
		if nr, ok := currentSyscall(s.PID, tid); ok && nr >= 0 {
			blocked[tid] = true
		}
	}
	for _, tid := range s.order {
		if th := s.threads[tid]; th.stopped && !th.listening {
			s.resume(th)
		}
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
	data, err := readProcFile(fmt.Sprintf("/proc/%d/task/%d/syscall", pid, tid))
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
	data, err := readProcFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	return data[i+2] == 'S' || data[i+2] == 'D'
}

// SignalName names a signal as the shell does (SIGTERM, SIGINT), where
// Go's String says "terminated" or "interrupt".
func SignalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		if name := unix.SignalName(s); name != "" {
			return name
		}
	}
	return sig.String()
}
