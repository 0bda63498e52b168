package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Data breakpoints are perf events (perf_event_open, PERF_TYPE_BREAKPOINT),
// not debug registers written with PTRACE_POKEUSER: a perf event lives as
// long as its file descriptor, which the tracer thread alone holds, so the
// kernel removes the breakpoints whenever pycoroner ends, SIGKILL included.
// Debug registers set through ptrace belong to the traced thread and stay
// armed after the tracer is gone: the program's next write then killed it
// with SIGTRAP.
//
// Each event has sigtrap set: the kernel sends the writing thread a
// SIGTRAP (si_code TRAP_PERF, si_perf_data = our tag) right after the
// writing instruction; the thread is traced, so the signal stops it in a
// signal-delivery-stop and pycoroner drops the signal. inherit with
// inherit_thread copies the events to threads the program starts (not to
// forked processes), at clone time, before the new thread runs;
// remove_on_exec drops them at exec.

const (
	hwBreakpointW    = 2 // HW_BREAKPOINT_W
	hwBreakpointX    = 4 // HW_BREAKPOINT_X
	hwBreakpointLen8 = 8 // HW_BREAKPOINT_LEN_8
	trapPerf         = 6 // TRAP_PERF: si_code of a perf event's SIGTRAP

	// Bits of perf_event_attr that x/sys/unix does not name yet
	// (include/uapi/linux/perf_event.h).
	perfBitInheritThread = 1 << 35
	perfBitRemoveOnExec  = 1 << 36
	perfBitSigtrap       = 1 << 37

	// perfTag marks our events' SIGTRAPs (si_perf_data); the low byte is
	// the index of the watched address.
	perfTag = 0x7079636f726f6e00 // "pycoron\x00"
)

// openBreakpoints arms one write breakpoint per address on a thread and
// returns the events' descriptors. Runs on the tracer (the descriptors
// belong to its file table).
func openBreakpoints(tid int, addrs []uint64) ([]int, error) {
	var fds []int
	for i, a := range addrs {
		fd, err := openBreakpoint(tid, a, hwBreakpointW, i)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, err
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// openBreakpoint opens one breakpoint event of the given type (write, or
// execute) tagged with index. Runs on the tracer.
func openBreakpoint(tid int, addr uint64, bpType uint32, index int) (int, error) {
	attr := unix.PerfEventAttr{
		Type:    unix.PERF_TYPE_BREAKPOINT,
		Size:    uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample:  1, // every write
		Bp_type: bpType,
		Ext1:    addr, // bp_addr
		Ext2:    hwBreakpointLen8,
		Bits: unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv | unix.PerfBitInherit |
			perfBitInheritThread | perfBitRemoveOnExec | perfBitSigtrap,
		Sig_data: perfTag | uint64(index),
	}
	fd, err := unix.PerfEventOpen(&attr, tid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return -1, breakpointError(err)
	}
	return fd, nil
}

// Rearm moves the breakpoints to new addresses (the watched object's
// words moved: a list's item array was reallocated). Every thread must be
// stopped, as it is while OnHit runs.
func (s *Session) Rearm(addrs []uint64) error {
	if len(addrs) == 0 || len(addrs) > maxWatchAddrs {
		return fmt.Errorf("%d addresses to watch: x86-64 has %d debug registers", len(addrs), maxWatchAddrs)
	}
	return s.tr.do(func() error {
		s.closeBreakpoints()
		for _, tid := range s.order {
			fds, err := openBreakpoints(tid, addrs)
			if err != nil {
				return fmt.Errorf("re-arm thread %d: %w", tid, err)
			}
			s.armed = true
			s.perfFDs = append(s.perfFDs, fds...)
		}
		return nil
	})
}

// ErrBreakpointsDoNotFire: perf_event_open accepts a breakpoint, but the
// CPU never reports it. Seen in virtual machines that do not pass debug
// registers through (a Firecracker guest: its kernel logs "PMU not
// available due to virtualization"; gdb's hbreak and watch do not stop
// there either). Without this check watch would run to its timeout and
// report no hit, a silently wrong answer.
var ErrBreakpointsDoNotFire = errors.New("this machine's hardware breakpoints do not fire (perf_event_open accepts one, but a test write to the watched word is not counted): a virtual machine that does not pass the CPU's debug registers through; watch cannot work here (docs/live.md)")

var (
	fireOnce  sync.Once
	fireErr   error
	fireProbe uint64 // the word the self-check writes
)

// BreakpointsFire reports whether this machine's hardware breakpoints
// fire (ErrBreakpointsDoNotFire when they do not), as watch checks first.
func BreakpointsFire() error {
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- breakpointsFire()
	}()
	return <-done
}

// breakpointsFire checks once per process that a hardware breakpoint
// fires: a counting write breakpoint on a word of ours, on the calling
// thread, must count our writes to it. Runs on the tracer (a locked OS
// thread: the event follows the thread, not the goroutine).
func breakpointsFire() error {
	fireOnce.Do(func() {
		attr := unix.PerfEventAttr{
			Type:    unix.PERF_TYPE_BREAKPOINT,
			Size:    uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
			Bp_type: hwBreakpointW,
			Ext1:    uint64(uintptr(unsafe.Pointer(&fireProbe))),
			Ext2:    hwBreakpointLen8,
			Bits:    unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv,
		}
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			fireErr = breakpointError(err)
			return
		}
		defer unix.Close(fd)
		for i := uint64(1); i <= 4; i++ {
			atomic.StoreUint64(&fireProbe, i)
		}
		var count [8]byte
		if n, err := unix.Read(fd, count[:]); err != nil || n != 8 {
			fireErr = fmt.Errorf("read the breakpoint self-check's count: %v", err)
			return
		}
		if binary.LittleEndian.Uint64(count[:]) == 0 {
			fireErr = ErrBreakpointsDoNotFire
		}
	})
	return fireErr
}

func breakpointError(err error) error {
	switch err {
	case unix.EACCES, unix.EPERM:
		return fmt.Errorf("perf_event_open refused a breakpoint (%w): /proc/sys/kernel/perf_event_paranoid must be 2 or lower for your own processes (it is %s), or run as root; see docs/live.md", err, paranoid())
	case unix.ENOSPC:
		return fmt.Errorf("no free hardware breakpoint (%w): x86-64 has 4 per thread and another debugger (or a watch killed before this fix) holds some", err)
	case unix.EINVAL, unix.ENOENT, unix.EOPNOTSUPP:
		return fmt.Errorf("this kernel cannot send a signal from a breakpoint (perf_event_attr.sigtrap needs Linux 5.13): %w", err)
	}
	return fmt.Errorf("perf_event_open breakpoint: %w", err)
}

func paranoid() string {
	data, err := readProcFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		return "unreadable"
	}
	return strings.TrimSpace(string(data))
}

// ourTrap reports whether a signal-delivery-stop is one of our breakpoint
// events, and which address it caught. Runs on the tracer.
func ourTrap(tid int, sig unix.Signal) (which int, ok bool) {
	if sig != unix.SIGTRAP {
		return 0, false
	}
	var si [128]byte
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(&si[0])), 0, 0)
	if errno != 0 {
		return 0, false
	}
	// siginfo_t: si_signo, si_errno, si_code (int32 each), padding, then
	// _sigfault: si_addr at 16 and the _perf union member at 24 (data)
	// and 32 (type).
	code := int32(binary.LittleEndian.Uint32(si[8:]))
	data := binary.LittleEndian.Uint64(si[24:])
	typ := binary.LittleEndian.Uint32(si[32:])
	if code != trapPerf || typ != unix.PERF_TYPE_BREAKPOINT || data&^0xff != perfTag {
		return 0, false
	}
	return int(data & 0xff), true
}

// closeBreakpoints removes every breakpoint (and the copies on threads
// started since). Runs on the tracer.
func (s *Session) closeBreakpoints() {
	for _, fd := range s.perfFDs {
		unix.Close(fd)
	}
	s.perfFDs = nil
}

// flushTraps takes back breakpoint SIGTRAPs the kernel queued but a
// thread had not yet taken when it stopped (an interrupt can win that
// race): detached with one pending, the thread would die of it. Every
// thread must be stopped. Runs on the tracer.
func (s *Session) flushTraps() {
	if !s.armed {
		return
	}
	for _, tid := range append([]int(nil), s.order...) {
		th := s.threads[tid]
		for round := 0; round < 4 && th.sig == 0 && pendingUnblocked(s.PID, tid, unix.SIGTRAP); round++ {
			// Resumed, the thread takes the SIGTRAP first (a synchronous
			// signal) and stops in its signal-delivery-stop before any
			// user code runs.
			if err := unix.PtraceCont(tid, 0); err != nil {
				break
			}
			th.stopped = false
			if err := s.awaitStop(th); err != nil {
				s.forget(tid)
				break
			}
		}
	}
	s.perfTraps = nil
}

// pendingUnblocked reports whether a signal is pending for one thread
// (SigPnd of /proc/PID/task/TID/status: the thread's own queue) and not
// blocked by it, so that resuming the thread makes it take the signal.
func pendingUnblocked(pid, tid int, sig unix.Signal) bool {
	data, err := readProcFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		return false
	}
	bit := uint64(1) << (uint(sig) - 1)
	var pending, blocked bool
	for _, line := range strings.Split(string(data), "\n") {
		key, v, ok := strings.Cut(line, ":")
		if !ok || (key != "SigPnd" && key != "SigBlk") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return false
		}
		if key == "SigPnd" {
			pending = mask&bit != 0
		} else {
			blocked = mask&bit != 0
		}
	}
	return pending && !blocked
}
