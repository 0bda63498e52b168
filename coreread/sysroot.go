package coreread

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Files under --sysroot are opened in one step with the root as the
// resolution root: every symlink (absolute ones included) and every ".."
// is resolved inside it, so that checking a path and opening it cannot be
// separated by a symlink swapped in between. openat2(RESOLVE_IN_ROOT)
// does this in the kernel (Linux 5.6+); on older kernels a walk does it
// one component at a time with O_NOFOLLOW. A path whose resolution fails
// is not opened (fail closed).

// ErrOutsideRoot is returned for a path that leads out of the sysroot
// (an absolute symlink or "..") and names nothing inside it.
var ErrOutsideRoot = errors.New("resolves outside the sysroot")

// OpenInRoot opens path, as a core names it, under root: read-only, only
// if it is a regular file, without following anything out of root.
func OpenInRoot(root, path string) (*os.File, error) {
	fd, err := resolveInRoot(root, path, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return regularFile(fd, filepath.Join(root, filepath.Clean("/"+path)))
}

// regularFile wraps fd, or closes it when it is not a regular file.
func regularFile(fd int, name string) (*os.File, error) {
	f := os.NewFile(uintptr(fd), name)
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%v)", f.Name(), st.Mode().Type())
	}
	return f, nil
}

// StatInRoot describes path under root as OpenInRoot would find it; it
// opens nothing for reading (a directory or a FIFO is fine).
func StatInRoot(root, path string) (os.FileInfo, error) {
	fd, err := resolveInRoot(root, path, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), filepath.Join(root, filepath.Clean("/"+path)))
	defer f.Close()
	return f.Stat()
}

// resolveInRoot returns a file descriptor for path under root, opened
// with flags (plus O_CLOEXEC).
func resolveInRoot(root, path string, flags int) (int, error) {
	rootFD, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open sysroot", Path: root, Err: err}
	}
	defer unix.Close(rootFD)
	rel := strings.TrimLeft(filepath.Clean("/"+path), "/")
	if rel == "" {
		rel = "."
	}
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(rootFD, rel, how)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		// No openat2 (an old kernel, or a seccomp filter that denies it).
		return walkInRoot(rootFD, rel, flags)
	}
	if err == nil {
		return fd, nil
	}
	// Say why a path failed: does it lead out of the root?
	beneath := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	if fd2, err2 := unix.Openat2(rootFD, rel, beneath); err2 == nil {
		unix.Close(fd2)
	} else if errors.Is(err2, unix.EXDEV) {
		return -1, &os.PathError{Op: "open", Path: filepath.Join(root, rel), Err: ErrOutsideRoot}
	}
	return -1, &os.PathError{Op: "open", Path: filepath.Join(root, rel), Err: err}
}

// maxLinks bounds the symlinks one resolution follows (the kernel's is 40).
const maxLinks = 40

// walkInRoot resolves rel under rootFD one component at a time, as
// RESOLVE_IN_ROOT does: each component is opened O_NOFOLLOW relative to
// the directory before it (held open, so no rename can move the walk out),
// a symlink's target is walked from the root when absolute, and ".." stops
// at the root.
func walkInRoot(rootFD int, rel string, flags int) (int, error) {
	dirs := []int{} // the directories walked into, below the root
	defer func() {
		for _, d := range dirs {
			unix.Close(d)
		}
	}()
	cur := func() int {
		if len(dirs) == 0 {
			return rootFD
		}
		return dirs[len(dirs)-1]
	}
	parts := strings.Split(rel, "/")
	links, escaped := 0, false
	for len(parts) > 0 {
		name := parts[0]
		parts = parts[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(dirs) == 0 {
				escaped = true
				continue
			}
			unix.Close(dirs[len(dirs)-1])
			dirs = dirs[:len(dirs)-1]
			continue
		}
		last := len(parts) == 0
		fd, err := unix.Openat(cur(), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, walkError(rel, err, escaped)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, walkError(rel, err, escaped)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			buf := make([]byte, 4096)
			n, err := unix.Readlinkat(fd, "", buf)
			unix.Close(fd)
			if err != nil {
				return -1, walkError(rel, err, escaped)
			}
			if links++; links > maxLinks {
				return -1, walkError(rel, unix.ELOOP, escaped)
			}
			target := string(buf[:n])
			if strings.HasPrefix(target, "/") {
				escaped = true
				for _, d := range dirs {
					unix.Close(d)
				}
				dirs = dirs[:0]
			}
			parts = append(strings.Split(target, "/"), parts...)
			continue
		}
		if last {
			unix.Close(fd)
			out, err := unix.Openat(cur(), name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return -1, walkError(rel, err, escaped)
			}
			return out, nil
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			return -1, walkError(rel, unix.ENOTDIR, escaped)
		}
		dirs = append(dirs, fd)
	}
	// The path resolved to a directory (the root itself, or one below).
	return unix.Openat(cur(), ".", flags|unix.O_CLOEXEC, 0)
}

func walkError(rel string, err error, escaped bool) error {
	if escaped && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP)) {
		err = ErrOutsideRoot
	}
	return &os.PathError{Op: "open", Path: rel, Err: err}
}
