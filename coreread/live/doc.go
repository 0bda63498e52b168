// Package live reads a running process: it pauses every thread with
// PTRACE_SEIZE and PTRACE_INTERRUPT (or reads without pausing), copies the
// memory a core would keep through /proc/PID/mem, collects each thread's
// registers, and writes a standard ELF core that coreread (and gdb) can
// open. It knows nothing of Python.
//
// Every ptrace request runs on one locked OS thread, as the kernel requires
// of a tracer, and the process is detached on every exit path; with
// PTRACE_SEIZE the kernel also resumes it if pycoroner dies.
package live
