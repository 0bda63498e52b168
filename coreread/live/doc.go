// Package live reads a running process: it pauses every thread with
// PTRACE_SEIZE and PTRACE_INTERRUPT (or reads without pausing), copies the
// memory a core would keep through /proc/PID/mem, collects each thread's
// registers, and writes a standard ELF core that coreread (and gdb) can
// open. It also watches words of memory with hardware breakpoints (perf
// events whose descriptors only its tracer thread holds, so none outlives
// pycoroner), and starts a program stopped at a named function. It knows
// nothing of Python: callers name the addresses and the function.
//
// Every ptrace request runs on one locked OS thread, as the kernel requires
// of a tracer, and the process is detached on every exit path; with
// PTRACE_SEIZE the kernel also resumes it if pycoroner dies. A thread is
// kept in whatever stop it reached, so that a signal it was taking is
// delivered when it resumes (see docs/live.md).
package live
