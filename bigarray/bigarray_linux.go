package bigarray

import "golang.org/x/sys/unix"

// mapAnon maps n bytes of private anonymous memory, reserved without
// being committed (MAP_NORESERVE: a worst-case reservation must not count
// against the system's overcommit), and, when huge, asks for 2 MB pages
// where the kernel gives them on request (transparent_hugepage=madvise is the
// common default; with "never", the mapping has 4 KB pages and works the
// same).
func mapAnon(n int, huge bool) ([]byte, bool) {
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, false
	}
	if huge {
		_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
	}
	return mem, true
}

func unmapAnon(mem []byte) { _ = unix.Munmap(mem) }

// releaseAnon drops the pages of mem (they read as zero afterwards).
func releaseAnon(mem []byte) { _ = unix.Madvise(mem, unix.MADV_DONTNEED) }
