package indexfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// A stamp records which arrays of an index file a process verified, and
// the file's identity then (device, inode, size, modification and change
// times, to the nanosecond): the next process that finds the file
// unchanged trusts those arrays without reading them all again. Checksums
// of the arrays a warm command reads were 10-50% of its CPU (CRC-32 at
// memory speed; on 21 M objects a histogram verifies 340 MB, show 560
// MB). Any change made through the file system (a write, a truncation, a
// rename over it, even a chmod) changes the change time, so the stamp no
// longer matches and every array is verified again. What a stamp does not
// catch is damage below the file system after the check (a disk returning
// other bytes for a page cached no more): docs/limits.md.
//
// The stamp is a file beside the index (NAME.pycidx.ok), written to a
// temporary name and renamed, at Close, by a process that verified an
// array the stamp did not vouch for, or that changed the file's times
// (the LRU order: at most once per lruResolution); the others leave it.

const stampMagic = "pycoroner verified 1"

// stampSuffix follows the index file's name.
const stampSuffix = ".ok"

// fileState is what a stamp compares.
type fileState struct {
	dev, ino, size, mtime, ctime int64
}

func (s fileState) String() string {
	return fmt.Sprintf("%d %d %d %d %d", s.dev, s.ino, s.size, s.mtime, s.ctime)
}

func stateOf(st os.FileInfo) (fileState, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileState{}, false
	}
	return fileState{int64(sys.Dev), int64(sys.Ino), st.Size(),
		sys.Mtim.Sec*1e9 + sys.Mtim.Nsec, sys.Ctim.Sec*1e9 + sys.Ctim.Nsec}, true
}

// statePath is the state of the file now at path (not following a
// symlink).
func statePath(path string) (fileState, bool) {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return fileState{}, false
	}
	return stateOf(st)
}

// readStamp is the names a stamp vouches for, when it was written for the
// file in state st (nil otherwise).
func readStamp(path string, st fileState) []string {
	f, err := os.OpenFile(path+stampSuffix, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, 8192)
	n, _ := f.Read(b)
	lines := strings.Split(string(b[:n]), "\n")
	if len(lines) < 3 || lines[0] != stampMagic || lines[1] != st.String() || lines[len(lines)-1] != "" {
		return nil
	}
	return lines[2 : len(lines)-1]
}

// writeStamp records names as verified for the file at path, if it is
// still in state st.
func writeStamp(path string, st fileState, names []string) {
	if now, ok := statePath(path); !ok || now != st || len(names) == 0 {
		return
	}
	sort.Strings(names)
	text := stampMagic + "\n" + st.String() + "\n" + strings.Join(names, "\n") + "\n"
	if len(text) > 8192 {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+"stamp-*")
	if err != nil {
		return
	}
	_, err = tmp.WriteString(text)
	if cerr := tmp.Close(); err == nil && cerr == nil {
		os.Rename(tmp.Name(), path+stampSuffix)
	}
	os.Remove(tmp.Name())
}

// removeIndex removes an index file and its stamp.
func removeIndex(path string) {
	os.Remove(path)
	os.Remove(path + stampSuffix)
}
