package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// freshMemoryEnv makes the bench binary measure fresh memory and exit: it
// runs in a child of its own, because a process's peak RSS is inherited
// by the children it starts afterwards (Linux records the forked copy's
// peak at exec), which would count this gigabyte in every command's RSS.
const freshMemoryEnv = "PYCORONER_BENCH_FRESH_MEMORY"

// freshMemoryChild runs freshMemory in a child process.
func freshMemoryChild() (wall, cpu time.Duration, err error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), freshMemoryEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("fresh memory child: %w", err)
	}
	var w, c int64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &w, &c); err != nil {
		return 0, 0, fmt.Errorf("fresh memory child said %q: %w", out, err)
	}
	return time.Duration(w), time.Duration(c), nil
}

// freshMemoryMain is the child's whole work, when freshMemoryEnv is set.
func freshMemoryMain() {
	wall, cpu, err := freshMemory()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(int64(wall), int64(cpu))
	os.Exit(0)
}

// freshMemory times writing one byte in every 4 KB page of 1 GB of
// anonymous memory never touched before, in 2 MB pages where the kernel
// gives them: the cost a first heap command pays for every GB of arrays
// and index it writes. On an ordinary machine it is about what clearing
// 1 GB costs (0.1 s); on the virtual machines here it is 1-2.5 s of CPU,
// the host backing each page as the guest first touches it, and it
// explains much of a cold command's time (docs/benchmarks.md).
func freshMemory() (wall, cpu time.Duration, err error) {
	const size = 1 << 30
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Munmap(mem)
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &before)
	start := time.Now()
	for i := 0; i < size; i += 4096 {
		mem[i] = 1
	}
	wall = time.Since(start)
	unix.Getrusage(unix.RUSAGE_THREAD, &after)
	cpu = time.Duration(after.Utime.Nano()-before.Utime.Nano()) + time.Duration(after.Stime.Nano()-before.Stime.Nano())
	return wall, cpu, nil
}
