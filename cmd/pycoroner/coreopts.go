package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/pycoroner/pycoroner/coreread"
)

// cacheDirEnv overrides where decompressed cores are kept.
const cacheDirEnv = "PYCORONER_CACHE_DIR"

// coreOptions is how coreread opens the core: the files behind it, and
// where and how much a compressed core is unpacked. coreread reads no
// environment and asks nothing of the terminal; this is done here.
func (g *globalFlags) coreOptions() (coreread.Options, error) {
	opts := coreread.Options{Sysroot: g.sysroot, Exe: g.exe}
	d := &opts.Decompress
	d.CacheDir, d.CacheDirHelp = decompressCacheDir(), "set "+cacheDirEnv+" to choose another directory"
	d.MaxBytesHelp = "pass --max-decompressed SIZE to allow more"
	if g.maxDecompressed != "" {
		n, err := parseSize(g.maxDecompressed)
		if err != nil {
			return opts, usageError{fmt.Errorf("--max-decompressed: %w", err)}
		}
		d.MaxBytes = n
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		d.Progress = os.Stderr
	}
	return opts, nil
}

// userCacheDir is the user's cache directory as the XDG base directory
// specification has it: $XDG_CACHE_HOME when absolute (a relative one is
// to be ignored, where os.UserCacheDir fails and the caches fell back on
// the temporary directory), else ~/.cache.
func userCacheDir() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && !filepath.IsAbs(x) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, ".cache"), nil
	}
	return os.UserCacheDir()
}

// decompressCacheDir is $PYCORONER_CACHE_DIR, else pycoroner/cores under
// the user's cache directory, else under the temporary directory.
func decompressCacheDir() string {
	if d := os.Getenv(cacheDirEnv); d != "" {
		return d
	}
	if base, err := userCacheDir(); err == nil {
		return filepath.Join(base, "pycoroner", "cores")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("pycoroner-cores-%d", os.Getuid()))
}

// parseSize reads a byte count with an optional K, M, G or T suffix
// (powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "B"), "b"))
	shift := 0
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			shift, t = 10*(i+1), t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size (write 8G, 500M, or a number of bytes)", s)
	}
	return v << shift, nil
}
