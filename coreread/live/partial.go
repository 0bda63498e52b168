package live

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A core is written to a temporary file next to its destination and
// renamed into place when complete. The temporary file is named
// ".NAME.partial-PID-RANDOM" with the writer's pid, and the writer holds
// an flock on it: a file whose writer is gone (killed with SIGKILL, or a
// crash) is recognised by the next run that writes into the directory —
// its lock is free and its pid is not running — and removed. SIGINT and
// SIGTERM remove it at once (see Session.Stop).

const partialMark = ".partial-"

// CreatePartial removes stale partial files in path's directory, then
// creates and locks the temporary file for path.
func CreatePartial(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	RemoveStalePartials(dir)
	f, err := os.CreateTemp(dir, fmt.Sprintf(".%s%s%d-*", filepath.Base(path), partialMark, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return f, nil
}

// RemoveStalePartials removes the partial files in dir that a dead
// pycoroner left: unlocked, with the pid of a process that no longer runs.
// It returns their names.
func RemoveStalePartials(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		pid, ok := partialPID(e.Name())
		if !ok || !e.Type().IsRegular() || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil && os.Remove(p) == nil {
			removed = append(removed, e.Name())
		}
		f.Close()
	}
	return removed
}

// partialPID parses ".NAME.partial-PID-RANDOM".
func partialPID(name string) (int, bool) {
	if !strings.HasPrefix(name, ".") {
		return 0, false
	}
	i := strings.LastIndex(name, partialMark)
	if i < 0 {
		return 0, false
	}
	pidStr, _, ok := strings.Cut(name[i+len(partialMark):], "-")
	pid, err := strconv.Atoi(pidStr)
	if !ok || err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// Install moves a finished temporary file to path. Unless overwrite, a
// file already at path is never replaced: cores are evidence (a crash core
// given as -o by mistake must survive), and the check is the rename itself
// (RENAME_NOREPLACE, or a hard link where the filesystem lacks it), so a
// file created after the caller looked is safe too. The error then wraps
// fs.ErrExist.
func Install(tmp, path string, overwrite bool) error {
	if overwrite {
		return os.Rename(tmp, path)
	}
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return renameError(tmp, path, err)
	}
	// No RENAME_NOREPLACE here: link then unlink is as atomic about an
	// existing path (link fails with EEXIST).
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return os.Remove(tmp)
}

func renameError(tmp, path string, err error) error {
	if err == nil {
		return nil
	}
	return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
}
