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

// freshMemoryChild runs freshMemory, then mappedTouch of core, in a child
// process.
func freshMemoryChild(core string) (fresh, touch [2]time.Duration, err error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), freshMemoryEnv+"="+core)
	out, err := cmd.Output()
	if err != nil {
		return fresh, touch, fmt.Errorf("fresh memory child: %w", err)
	}
	var v [4]int64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &v[0], &v[1], &v[2], &v[3]); err != nil {
		return fresh, touch, fmt.Errorf("fresh memory child said %q: %w", out, err)
	}
	fresh = [2]time.Duration{time.Duration(v[0]), time.Duration(v[1])}
	touch = [2]time.Duration{time.Duration(v[2]), time.Duration(v[3])}
	return fresh, touch, nil
}

// freshMemoryMain is the child's whole work, when freshMemoryEnv is set
// (to the core's path).
func freshMemoryMain() {
	wall, cpu, err := freshMemory()
	if err == nil {
		var tw, tc time.Duration
		if tw, tc, err = mappedTouch(os.Getenv(freshMemoryEnv)); err == nil {
			fmt.Println(int64(wall), int64(cpu), int64(tw), int64(tc))
			os.Exit(0)
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// mappedTouch times reading one byte in every 4 KB page of a new mapping
// of path, one CPU, after madvise(MADV_POPULATE_READ): what any process
// pays once to read a core it maps, when the page cache holds it all. On
// an ordinary machine a small part of a page-cache read; on the virtual
// machines here (shadow page tables) about 2 us a page, more than
// `cat` of the whole file.
func mappedTouch(path string) (wall, cpu time.Duration, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Munmap(mem)
	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &before)
	start := time.Now()
	_ = unix.Madvise(mem, unix.MADV_POPULATE_READ)
	var sum byte
	for i := 0; i < len(mem); i += 4096 {
		sum += mem[i]
	}
	wall = time.Since(start)
	unix.Getrusage(unix.RUSAGE_THREAD, &after)
	cpu = time.Duration(after.Utime.Nano()-before.Utime.Nano()) + time.Duration(after.Stime.Nano()-before.Stime.Nano())
	touchSink = sum
	return wall, cpu, nil
}

// touchSink keeps mappedTouch's reads.
var touchSink byte

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
