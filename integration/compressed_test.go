package integration

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// Real-world containers: compressed cores, systemd-coredump's storage, and
// cores whose binaries are not on this host.

// compressFile writes src compressed with format to dst.
func compressFile(t *testing.T, format, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	var w io.WriteCloser
	switch format {
	case "gz":
		w = gzip.NewWriter(out)
	case "xz":
		w, err = xz.NewWriter(out)
	case "zst":
		w, err = zstd.NewWriter(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCompressedCores reads the golden stripped-Debian core compressed
// three ways, and checks the second run uses the cache.
func TestCompressedCores(t *testing.T) {
	core, sysroot, oracle := goldenCore(t, "debian-3.11-gcore")
	cache := t.TempDir()
	t.Setenv("PYCORONER_CACHE_DIR", cache)
	var sources []string
	for _, format := range []string{"gz", "xz", "zst"} {
		z := filepath.Join(t.TempDir(), "core.1234."+format)
		sources = append(sources, z)
		t.Run(format, func(t *testing.T) {
			compressFile(t, format, core, z)
			for run := 0; run < 2; run++ {
				start := time.Now()
				r := pycoroner(t, "stacks", "--locals", "--json", "--sysroot", sysroot, z)
				if r.code != 0 {
					t.Fatalf("run %d: stacks exited %d: %s", run, r.code, r.stderr)
				}
				var got stacksJSON
				if err := json.Unmarshal(r.stdout, &got); err != nil {
					t.Fatal(err)
				}
				compareStacks(t, oracle, got)
				t.Logf("run %d: %v", run, time.Since(start).Round(time.Millisecond))
			}
			entries, _ := filepath.Glob(filepath.Join(cache, "*.core"))
			if want := map[string]int{"gz": 1, "xz": 2, "zst": 3}[format]; len(entries) != want {
				t.Errorf("cache holds %d cores, want %d (one per compressed file)", len(entries), want)
			}
		})
	}
	// `cache` lists them with what they came from, the latest used
	// first; --clear removes them.
	type listing struct {
		Decompressed struct {
			Dir     string
			Total   int64
			Entries []struct {
				Path   string
				Size   int64
				Source string
			}
			Cleared *int
		}
	}
	var l listing
	r := pycoroner(t, "cache", "--json")
	if err := json.Unmarshal(r.stdout, &l); r.code != 0 || err != nil {
		t.Fatalf("cache --json: exit %d, %v: %s", r.code, err, r.stderr)
	}
	d := l.Decompressed
	var total int64
	for i, e := range d.Entries {
		st, err := os.Stat(e.Path)
		if want := sources[len(sources)-1-i]; e.Source != want || err != nil || st.Size() != e.Size || filepath.Dir(e.Path) != cache {
			t.Errorf("cache entry %d: %+v; want from %s, in %s, of its file's size (%v)", i, e, want, cache, err)
		}
		total += e.Size
	}
	if d.Dir != cache || len(d.Entries) != len(sources) || d.Total != total {
		t.Errorf("cache --json: %+v; want the %d cores in %s", d, len(sources), cache)
	}
	l = listing{}
	r = pycoroner(t, "cache", "--clear", "--json")
	if err := json.Unmarshal(r.stdout, &l); r.code != 0 || err != nil || l.Decompressed.Cleared == nil || *l.Decompressed.Cleared != len(sources) {
		t.Errorf("cache --clear --json: exit %d, %v, %+v: %s", r.code, err, l.Decompressed, r.stderr)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("left after cache --clear: %v", left)
	}
}

// A compressed core cut short still says what it can, as a truncated
// core does, and says why.
func TestCompressedTruncated(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	t.Setenv("PYCORONER_CACHE_DIR", t.TempDir())
	z := filepath.Join(t.TempDir(), "core.zst")
	compressFile(t, "zst", core, z)
	data, _ := os.ReadFile(z)
	os.WriteFile(z, data[:len(data)/2], 0o644)
	r := pycoroner(t, "info", "--sysroot", sysroot, z)
	if r.code != 0 || !bytes.Contains(append(r.stdout, r.stderr...), []byte("data ends early")) {
		t.Errorf("info on a cut zstd core: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = pycoroner(t, "stacks", "--sysroot", sysroot, z)
	if r.code != 1 || !bytes.Contains(r.stderr, []byte("truncated")) || bytes.Count(r.stderr, []byte("\n")) != 1 {
		t.Errorf("stacks on a cut zstd core: exit %d, stderr %q", r.code, r.stderr)
	}
}

// A file as systemd-coredump stores it: core.COMM.UID.BOOTID.PID.USEC.zst
// with user.coredump.* attributes. It reads as is, and info shows what
// systemd recorded.
func TestSystemdCoredump(t *testing.T) {
	core, _, oracle := goldenCore(t, "pyenv-3.13-abort")
	t.Setenv("PYCORONER_CACHE_DIR", t.TempDir())
	name := `core.python3\x2e13.0.1827be70bda44e3b9598c4aaf5ac32bc.4242.1717652311000000.zst`
	z := filepath.Join(t.TempDir(), name)
	compressFile(t, "zst", core, z)
	xattrs := true
	err := coreread.SetSystemdXattrs(z, map[string]string{"pid": "4242", "uid": "0", "gid": "0", "signal": "6",
		"timestamp": "1717652311000000", "rlimit": "18446744073709551615", "hostname": "web-1",
		"comm": "python3.13", "exe": "/root/.pyenv/versions/3.13.0/bin/python3.13"})
	if errors.Is(err, coreread.ErrNoXattrs) {
		xattrs = false
		t.Logf("%s keeps no user xattrs: checking the name alone", filepath.Dir(z))
	} else if err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	r := pycoroner(t, "stacks", "--locals", "--json", "--sysroot", empty, z)
	if r.code != 0 {
		t.Fatalf("stacks exited %d: %s", r.code, r.stderr)
	}
	var got stacksJSON
	if err := json.Unmarshal(r.stdout, &got); err != nil {
		t.Fatal(err)
	}
	compareStacks(t, oracle, got)

	text := pycoroner(t, "info", "--sysroot", empty, z)
	for _, want := range []string{"systemd-coredump (from the file name", "python3.13", "4242", "1827be70bda44e3b9598c4aaf5ac32bc", "2024-06-06T05:38:31Z"} {
		if !bytes.Contains(text.stdout, []byte(want)) {
			t.Errorf("info does not show %q:\n%s", want, text.stdout)
		}
	}
	js := pycoroner(t, "info", "--json", "--sysroot", empty, z)
	var in struct {
		Systemd *coreread.SystemdCoredump `json:"systemd_coredump"`
	}
	if err := json.Unmarshal(js.stdout, &in); err != nil || in.Systemd == nil {
		t.Fatalf("info --json has no systemd_coredump (%v):\n%s", err, js.stdout)
	}
	if in.Systemd.PID != 4242 || in.Systemd.Comm != "python3.13" {
		t.Errorf("systemd_coredump = %+v", in.Systemd)
	}
	if xattrs && (in.Systemd.Hostname != "web-1" || in.Systemd.Signal != 6 || in.Systemd.CoreLimit != "unlimited" || in.Systemd.Exe == "") {
		t.Errorf("the xattrs are missing from systemd_coredump: %+v", in.Systemd)
	}
}

// A core whose executable and libpython are not on this host is still
// read (3.13 by its debug offsets, older versions by the validated scan),
// with a warning naming what is missing.
func TestMissingBinaries(t *testing.T) {
	empty := t.TempDir()
	for _, in := range corpusInterpreters(t) {
		t.Run(in.Name, func(t *testing.T) {
			res := cachedCore(t, in, "threads", harness.Gcore)
			checkThreadsWithoutBinaries(t, res, pycoroner(t, "stacks", "--locals", "--json", "--sysroot", empty, res.CorePath))
			missing := in.Path
			if in.LibPython != "" {
				missing = in.LibPython
			}
			text := pycoroner(t, "stacks", "--sysroot", empty, res.CorePath)
			if !strings.Contains(string(text.stdout)+string(text.stderr), missing+" is not on this host") {
				t.Errorf("no warning names the missing %s:\n%s%s", missing, text.stdout, text.stderr)
			}
		})
	}
}

// checkThreadsWithoutBinaries: stacks --json of the threads scenario's
// core, read without its binaries, has the oracle's threads and the main
// thread's main_block frame.
func checkThreadsWithoutBinaries(t *testing.T, res *harness.Result, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("stacks exited %d: %s", r.code, r.stderr)
	}
	var got stacksJSON
	if err := json.Unmarshal(r.stdout, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Threads) != len(res.Oracle.Threads) {
		t.Errorf("%d threads, the oracle has %d", len(got.Threads), len(res.Oracle.Threads))
	}
	found := false
	for _, th := range got.Threads {
		for _, f := range th.Frames {
			found = found || f.Function == "main_block"
		}
	}
	if !found {
		t.Errorf("no main_block frame without the binaries: %s", r.stdout)
	}
}

// cacheKeyOf is the cache's name for a compressed file (coreread's
// cacheKey): its size, mtime and first and last 64 KiB.
func cacheKeyOf(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	h := sha256.New()
	fmt.Fprintf(h, "%d %d\n", st.Size(), st.ModTime().UnixNano())
	buf := make([]byte, 64<<10)
	for _, off := range []int64{0, max(st.Size()-int64(len(buf)), 0)} {
		n, _ := f.ReadAt(buf, off)
		h.Write(buf[:n])
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// A cache entry planted for a compressed core (a sidecar and a KEY.core
// symlink to another core, or a sidecar that is a FIFO) is not used: the
// answer is the compressed core's own (was: the other core was analysed
// in silence, or the run hung).
func TestPlantedCacheEntry(t *testing.T) {
	core, sysroot, _ := goldenCore(t, "debian-3.11-gcore")
	other, _, _ := goldenCore(t, "pyenv-3.13-abort")
	want := pycoroner(t, "info", "--json", "--sysroot", sysroot, core)
	if want.code != 0 {
		t.Fatalf("info on the plain core: exit %d: %s", want.code, want.stderr)
	}
	z := filepath.Join(t.TempDir(), "core.gz")
	compressFile(t, "gz", core, z)
	st, _ := os.Stat(other)
	for name, plant := range map[string]func(core, meta string){
		"symlink to another core": func(c, meta string) {
			os.Symlink(other, c)
			os.WriteFile(meta, []byte(fmt.Sprintf(`{"decompressed_bytes": %d}`, st.Size())), 0o600)
		},
		"FIFO sidecar": func(c, meta string) { syscall.Mkfifo(meta, 0o600) },
	} {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			t.Setenv("PYCORONER_CACHE_DIR", cache)
			key := cacheKeyOf(t, z)
			plant(filepath.Join(cache, key+".core"), filepath.Join(cache, key+".json"))
			got := pycoroner(t, "info", "--json", "--sysroot", sysroot, z)
			if got.code != 0 {
				t.Fatalf("info: exit %d: %s", got.code, got.stderr)
			}
			var a, b map[string]any
			json.Unmarshal(want.stdout, &a)
			json.Unmarshal(got.stdout, &b)
			if a["pid"] == nil || fmt.Sprint(a["python_version"], a["pid"]) != fmt.Sprint(b["python_version"], b["pid"]) {
				t.Errorf("the compressed core reads as another:\nwant python %v pid %v\ngot  python %v pid %v", a["python_version"], a["pid"], b["python_version"], b["pid"])
			}
		})
	}
}
