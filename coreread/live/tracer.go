package live

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tracer runs functions on one OS thread: ptrace requests must all come
// from the thread that attached. That thread has a file descriptor table
// of its own (unshare CLONE_FILES), which holds the breakpoint events of a
// watch: when the thread dies, however pycoroner dies, the kernel closes
// those descriptors, removing the breakpoints, before it detaches the
// tracees (do_exit runs exit_files before exit_notify). With a shared
// table the other Go threads could keep the events alive for a moment
// after the tracees were let go, and a write in that moment would kill
// the program with SIGTRAP.
type tracer struct {
	reqs chan func()
	err  error // why the tracer thread could not be set up
}

func newTracer() *tracer {
	// Make sure the Go runtime's poller exists before the tracer thread
	// gets its own descriptor table: created from that thread, its epoll
	// descriptor would be missing from every other thread's table.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	t := &tracer{reqs: make(chan func())}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ready <- unix.Unshare(unix.CLONE_FILES)
		for fn := range t.reqs {
			fn()
		}
	}()
	if err := <-ready; err != nil {
		t.err = fmt.Errorf("give the tracer thread its own file table: %w", err)
	}
	return t
}

func (t *tracer) do(fn func() error) error {
	done := make(chan error, 1)
	t.reqs <- func() { done <- fn() }
	return <-done
}

func (t *tracer) close() { close(t.reqs) }

// thread is what pycoroner knows about one traced thread.
type thread struct {
	tid     int
	stopped bool // in a ptrace stop (ours or the kernel's)
	// sig is the signal the thread was about to receive when it stopped
	// (a signal-delivery-stop): resuming or detaching delivers it, which is
	// the only way ptrace lets a stopped thread keep its signal.
	sig int
	// group is the stop signal of a group-stop in effect (the program was
	// sent SIGSTOP): the thread must stay stopped until SIGCONT.
	group     int
	listening bool // resumed with PTRACE_LISTEN: stopped for the program, not for us
}

// Session is an attachment to a process.
type Session struct {
	PID     int
	Threads []int // LWPs, main thread first
	Paused  bool
	// PausedAt is when the last thread stopped; Pause is how long the
	// process stayed stopped (set by Detach).
	PausedAt time.Time
	Pause    time.Duration
	// Stop, when it yields, ends a core being written (SIGINT, SIGTERM).
	Stop <-chan os.Signal
	// Overwrite lets WriteCoreFile replace a file already at its path.
	Overwrite bool
	// Exit is the process's wait status when it ended while watched and
	// pycoroner, its tracer, collected it.
	Exit *unix.WaitStatus

	tr      *tracer
	threads map[int]*thread
	order   []int // attached threads in attach order
	regs    map[int]unixRegs
	// perfTraps are writes caught while a thread was being stopped for
	// something else: the hits still to report.
	perfTraps []trap
	perfFDs   []int // the breakpoint events of a watch, in the tracer's file table
	armed     bool  // breakpoints were set at some point (their traps may be pending)
}

// trap is a breakpoint hit: the thread that wrote and the address index.
type trap struct{ tid, which int }

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
	s := &Session{PID: pid, Paused: pause, regs: map[int]unixRegs{}, threads: map[int]*thread{}}
	if !pause {
		tids, err := tasks(pid)
		if err != nil {
			return nil, err
		}
		s.Threads = tids
		return s, nil
	}
	if tracer := tracerPID(pid); tracer != 0 {
		return nil, fmt.Errorf("pid %d is already traced by PID %d (%s): only one debugger can attach at a time; detach it (quit gdb, stop strace) and try again", pid, tracer, commName(tracer))
	}
	s.tr = newTracer()
	if s.tr.err != nil {
		err := s.tr.err
		s.tr.close()
		s.tr = nil
		return nil, err
	}
	if err := s.seizeAll(); err != nil {
		s.Detach()
		if errors.Is(err, ErrNoProcess) || exited(pid) {
			return nil, s.exitedError() // it was there a moment ago
		}
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
				th := &thread{tid: tid}
				s.threads[tid] = th
				s.order = append(s.order, tid)
				if err := unix.PtraceInterrupt(tid); err != nil {
					return err
				}
				return s.awaitStop(th)
			})
			if errors.Is(err, unix.ESRCH) {
				s.forget(tid)
				continue // the thread exited meanwhile
			}
			if err != nil {
				return attachError(s.PID, err)
			}
		}
		if fresh == 0 {
			sort.Ints(s.order)
			s.Threads = orderMainFirst(s.PID, s.order)
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

// stopTimeout bounds the wait for one thread to stop; a thread stuck in an
// uninterruptible sleep (a dead NFS server) stops only when it leaves it.
const stopTimeout = time.Minute

// awaitStop waits until a thread we interrupted is in a ptrace stop. Any
// stop will do: the interrupt stop, a group stop, an event stop, or a
// signal-delivery-stop, where the thread stays with its signal so that
// resuming delivers it (ptrace drops a signal given when resuming from any
// other stop: that is how the program's signals were lost). A write to a
// watched word caught on the way is queued as a hit. Runs on the tracer.
func (s *Session) awaitStop(th *thread) error {
	deadline := time.Now().Add(stopTimeout)
	for sleep := 20 * time.Microsecond; time.Now().Before(deadline); {
		var ws unix.WaitStatus
		got, err := unix.Wait4(th.tid, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil {
			return err
		}
		if got != th.tid {
			time.Sleep(sleep)
			if sleep < time.Millisecond {
				sleep *= 2
			}
			continue
		}
		if ws.Exited() || ws.Signaled() {
			if th.tid == s.PID {
				noteExit(th.tid, ws)
			}
			return unix.ESRCH
		}
		if ws.Stopped() {
			s.noteStop(th, ws, true)
			return nil
		}
	}
	return fmt.Errorf("thread %d did not stop within %v", th.tid, stopTimeout)
}

// noteStop records what kind of stop a thread reported. With hold, the
// thread is to stay stopped: a signal it was taking is put back in its
// queue (see requeue); without, th.sig keeps it for the resume that
// follows at once. Runs on the tracer.
func (s *Session) noteStop(th *thread, ws unix.WaitStatus, hold bool) {
	th.stopped, th.listening, th.sig = true, false, 0
	sig := ws.StopSignal()
	switch stopEvent(ws) {
	case unix.PTRACE_EVENT_STOP:
		// An interrupt stop reports SIGTRAP; a group stop in effect
		// reports its stop signal (kernel do_jobctl_trap).
		th.group = 0
		if sig != unix.SIGTRAP {
			th.group = int(sig)
		}
	case unix.PTRACE_EVENT_CLONE:
		if msg, err := unix.PtraceGetEventMsg(th.tid); err == nil && s.threads[int(msg)] == nil {
			// Attached by the kernel (PTRACE_O_TRACECLONE); its first stop
			// is an interrupt stop still to be reported.
			s.threads[int(msg)] = &thread{tid: int(msg)}
			s.order = append(s.order, int(msg))
			s.Threads = append(s.Threads, int(msg))
		}
	case 0: // a signal-delivery-stop
		if which, ok := ourTrap(th.tid, sig); ok {
			s.perfTraps = append(s.perfTraps, trap{th.tid, which})
			s.park(th)
			return
		}
		th.sig = int(sig)
		if hold {
			s.requeue(th)
		}
	}
}

// requeue puts the signal a thread was taking back in its queue and
// parks the thread in an interrupt stop. Held in the signal-delivery-stop
// instead, the signal would live only in the stop's exit code, which the
// tracer's wait has already cleared: if pycoroner then died, the kernel
// would resume the thread without it. Pending in the queue, it is taken
// on any resume, by pycoroner or by the kernel. (The handler then sees
// pycoroner's tgkill as the sender, and a standard signal merges with a
// second instance already pending, as the kernel merges any.) Runs on the
// tracer.
func (s *Session) requeue(th *thread) {
	sig := unix.Signal(th.sig)
	if unix.Tgkill(s.PID, th.tid, sig) != nil {
		return // keep holding it in the stop
	}
	th.sig = 0
	// The interrupt is checked before the queue: the thread stops again
	// before it takes the signal.
	if unix.PtraceInterrupt(th.tid) != nil || unix.PtraceCont(th.tid, 0) != nil {
		return
	}
	th.stopped = false
	if err := s.awaitStop(th); err != nil {
		s.forget(th.tid)
	}
}

// park moves a thread from the signal-delivery-stop of our breakpoint's
// SIGTRAP to an interrupt stop, dropping the signal, at once: were
// pycoroner killed while the thread sits in that signal-delivery-stop, the
// kernel would detach it and deliver the SIGTRAP, killing the program. The
// pending interrupt wins over the next signal and no user code runs in
// between, so the registers stay those right after the write. Runs on the
// tracer.
func (s *Session) park(th *thread) {
	if err := unix.PtraceInterrupt(th.tid); err != nil {
		return
	}
	if err := unix.PtraceCont(th.tid, 0); err != nil {
		return
	}
	th.stopped = false
	if err := s.awaitStop(th); err != nil {
		s.forget(th.tid)
	}
}

// stopEvent is the ptrace event of a stop. Unlike WaitStatus.TrapCause it
// also sees a group-stop, which PTRACE_SEIZE reports as PTRACE_EVENT_STOP
// with the stopping signal rather than SIGTRAP.
func stopEvent(ws unix.WaitStatus) int {
	return int(ws>>16) & 0xff
}

func attachError(pid int, err error) error {
	if errors.Is(err, unix.EPERM) {
		if tracer := tracerPID(pid); tracer != 0 {
			return fmt.Errorf("pid %d is already traced by PID %d (%s): only one debugger can attach at a time; detach it (quit gdb, stop strace) and try again", pid, tracer, commName(tracer))
		}
		return fmt.Errorf("permission denied attaching to pid %d: ptrace needs the same user and kernel.yama.ptrace_scope=0, or CAP_SYS_PTRACE (run as root or with sudo); see docs/live.md", pid)
	}
	if errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("pid %d: %w (it exited?)", pid, ErrNoProcess)
	}
	return fmt.Errorf("attach to pid %d: %w", pid, err)
}

// tracerPID is the process that traces pid (0: none): the TracerPid of
// /proc/PID/status names the tracing thread, whose Tgid is its process.
func tracerPID(pid int) int {
	tracer := statusField(pid, "TracerPid")
	if tracer == 0 {
		return 0
	}
	if tgid := statusField(tracer, "Tgid"); tgid != 0 {
		return tgid
	}
	return tracer
}

// statusField is a number from /proc/PID/status (0 when unreadable).
func statusField(pid int, key string) int {
	data, err := readProcFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// commName names a process for a message: its command name, or "gdb?"
// when it cannot be read.
func commName(pid int) string {
	data, err := readProcFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || len(strings.TrimSpace(string(data))) == 0 {
		return "gdb?"
	}
	return strings.TrimSpace(string(data))
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

// Attached reports whether the session still traces the process (Watch
// detaches when it ends).
func (s *Session) Attached() bool { return s.tr != nil }

// Detach resumes the process, delivering the signals its threads were
// stopped with. It is safe to call more than once.
func (s *Session) Detach() {
	if s.tr == nil {
		return
	}
	s.tr.do(func() error {
		s.closeBreakpoints()
		s.stopAll()
		s.flushTraps()
		for _, tid := range s.order {
			th := s.threads[tid]
			if !th.stopped {
				continue // gone
			}
			// PTRACE_DETACH's data argument is the signal to deliver; from
			// a signal-delivery-stop it is delivered, as on resume.
			unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(tid), 0, uintptr(th.sig), 0, 0)
		}
		return nil
	})
	if !s.PausedAt.IsZero() {
		s.Pause = time.Since(s.PausedAt)
	}
	s.order = nil
	s.threads = map[int]*thread{}
	s.tr.close()
	s.tr = nil
}

// stopAll brings every thread into a ptrace stop: running threads are
// interrupted, and listening ones (stopped for the program's group stop)
// too, since ptrace can detach only a thread in a ptrace stop. Runs on the
// tracer.
func (s *Session) stopAll() {
	for _, tid := range append([]int(nil), s.order...) {
		th := s.threads[tid]
		if th.stopped && !th.listening {
			continue
		}
		if err := unix.PtraceInterrupt(tid); err != nil {
			s.forget(tid)
			continue
		}
		if err := s.awaitStop(th); err != nil {
			s.forget(tid)
		}
	}
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

// exits keeps the status of each process whose end a tracer's wait
// collected: the tracer of a program it started is also its parent, so
// that wait reaps it, and the program's own waiter (exec.Cmd.Wait) then
// gets nothing. ExitStatus gives it back.
var exits = struct {
	sync.Mutex
	m map[int]unix.WaitStatus
}{m: map[int]unix.WaitStatus{}}

func noteExit(pid int, ws unix.WaitStatus) {
	exits.Lock()
	exits.m[pid] = ws
	exits.Unlock()
}

// ExitStatus is the status of process pid when a tracer of this process
// collected its end.
func ExitStatus(pid int) (unix.WaitStatus, bool) {
	exits.Lock()
	defer exits.Unlock()
	ws, ok := exits.m[pid]
	return ws, ok
}

// exited reports whether the process is gone or a zombie: a traced
// process killed while stopped stays a zombie until its tracer lets go,
// so kill(pid, 0) alone would say it lives.
func exited(pid int) bool { return Exited(pid) }

// Exited is exited for callers outside the package (a poll's error that
// may mean the program ended).
func Exited(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	data, err := readProcFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return true
	}
	return data[i+2] == 'Z' || data[i+2] == 'X'
}

// readProcFile reads a small /proc file with plain system calls: the
// tracer thread must not use os.File (see newTracer).
func readProcFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 4096)
	for len(out) < 1<<20 {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		out = append(out, buf[:n]...)
	}
	return out, nil
}

func (s *Session) forget(tid int) {
	delete(s.threads, tid)
	for i, t := range s.order {
		if t == tid {
			s.order = append(s.order[:i], s.order[i+1:]...)
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

type unixRegs = unix.PtraceRegs
