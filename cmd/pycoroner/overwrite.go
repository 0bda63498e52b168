package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Commands that write cores (snapshot -o FILE, watch -o DIR) never replace
// an existing file unless --force: a core is evidence, and a crash core
// passed as -o by mistake used to be destroyed. They check before
// attaching, so a refused run never pauses the process, and the write
// itself refuses too (live.Install), for a file that appears meanwhile.

// refuseExisting is the error for writing a core to path, nil when path
// does not exist (or cannot be looked at: the write then says why).
func refuseExisting(path string, force bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory: give -o a file name, such as %s", path, filepath.Join(path, "snapshot.core"))
	}
	if force {
		return nil
	}
	return existsError(path)
}

func existsError(path string) error {
	return fmt.Errorf("%s exists: pass --force to overwrite it, or give -o another name", path)
}

// refuseEarlierWatch is the error for a watch whose -o DIR already holds a
// core it would write: until.core, or hit-N.core for the hits it may take.
func refuseEarlierWatch(dir string, until bool, count int, force bool) error {
	if force {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // not there yet: nothing to lose
	}
	for _, e := range ents {
		if watchWouldWrite(e.Name(), until, count) {
			return fmt.Errorf("%s already holds %s (from an earlier watch?): pass --force to overwrite, or give -o another directory", dir, e.Name())
		}
	}
	return nil
}

// watchWouldWrite reports whether watch writes a file of this name.
func watchWouldWrite(name string, until bool, count int) bool {
	if until {
		return name == untilCore
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "hit-"), ".core"))
	return err == nil && name == hitCore(n) && n >= 1 && n <= max(count, 1)
}

const untilCore = "until.core"

func hitCore(n int) string { return fmt.Sprintf("hit-%d.core", n) }

// existsHint turns a write refused because its file appeared meanwhile
// into the same one-line advice as the check before it.
func existsHint(path string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		return existsError(path)
	}
	return err
}
