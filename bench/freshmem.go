package main

import (
	"time"

	"golang.org/x/sys/unix"
)

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
