package integration

import (
	"bytes"
	"context"
	"debug/elf"
	bin "encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Crafted hostile files (docs/hostile.md): each must end with one line on
// stderr and exit 1, within bounded memory. Memory is measured (the
// child's peak RSS) under a generous address-space limit that only keeps a
// regression from taking the machine down; time is bounded by a minute.

// maxHostileRSS is the promise of docs/hostile.md.
const maxHostileRSS = 512 << 20

type boundedResult struct {
	result
	maxRSS int64 // bytes
}

// pycoronerBounded runs the binary under a 4 GiB address-space limit and
// reports its peak resident memory.
func pycoronerBounded(t *testing.T, args ...string) boundedResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", `ulimit -v 4194304 && exec "$0" "$@"`, binary}, args...)...)
	// The child's own peak (VmHWM), as it writes it at exit: wait4's
	// ru_maxrss counts this test process's own peak too (Linux hands a
	// parent's peak to the children it starts).
	peakFile := filepath.Join(t.TempDir(), "peak")
	cmd.Env = append(os.Environ(), "PYCORONER_PEAK_FILE="+peakFile)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pycoroner %v: still running after a minute", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("pycoroner %v: %v", args, err)
	}
	peak, err := os.ReadFile(peakFile)
	if err != nil {
		t.Fatalf("pycoroner %v wrote no peak memory: %v", args, err)
	}
	rss, err := strconv.ParseInt(strings.TrimSpace(string(peak)), 10, 64)
	if err != nil || rss <= 0 {
		t.Fatalf("pycoroner %v: peak memory %q", args, peak)
	}
	return boundedResult{result{out.Bytes(), errb.Bytes(), code}, rss}
}

// checkHostile runs each command on a hostile file: one line, exit 1 (or 0
// for info, which describes any core), bounded memory.
func checkHostile(t *testing.T, path, want string) {
	t.Helper()
	for _, args := range [][]string{{"stacks"}, {"info"}, {"histogram"}} {
		r := pycoronerBounded(t, append(args, path)...)
		stderr := strings.TrimSpace(string(r.stderr))
		switch {
		case bytes.Contains(r.stderr, []byte("goroutine ")) || strings.Contains(stderr, "internal error"):
			t.Errorf("%s: a crash:\n%.3000s", args[0], stderr)
		case args[0] == "info" && r.code == 0 && want == "":
		case r.code != 1:
			t.Errorf("%s: exit %d, want 1; stderr:\n%.3000s", args[0], r.code, stderr)
		case strings.Contains(stderr, "\n"):
			t.Errorf("%s: %d lines on stderr, want one:\n%.3000s", args[0], strings.Count(stderr, "\n")+1, stderr)
		case want != "" && !strings.Contains(stderr, want):
			t.Errorf("%s: %q does not say %q", args[0], stderr, want)
		}
		if r.maxRSS > maxHostileRSS {
			t.Errorf("%s: peak memory %d MB, more than %d MB", args[0], r.maxRSS>>20, maxHostileRSS>>20)
		}
		t.Logf("%s: exit %d, %d MB: %.200s", args[0], r.code, r.maxRSS>>20, stderr)
	}
}

// hostileCore builds an x86-64 ELF core from program headers and the bytes
// that follow them (offsets in phs are absolute: the body starts at
// 64+56*len(phs)).
func hostileCore(t *testing.T, phs []elf.Prog64, body []byte) string {
	t.Helper()
	var buf bytes.Buffer
	hdr := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: uint16(len(phs))}
	if len(phs) >= 0xffff {
		t.Fatal("too many headers for e_phnum")
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	bin.Write(&buf, bin.LittleEndian, hdr)
	bin.Write(&buf, bin.LittleEndian, phs)
	buf.Write(body)
	path := filepath.Join(t.TempDir(), "hostile.core")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func hostileBody(n int) uint64 { return 64 + 56*uint64(n) }

func hostileLoad(vaddr, memsz, off, filesz uint64) elf.Prog64 {
	return elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Vaddr: vaddr, Memsz: memsz, Off: off, Filesz: filesz}
}

// hostileNote is one "CORE" note.
func hostileNote(typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	bin.Write(&b, bin.LittleEndian, [3]uint32{5, uint32(len(desc)), typ})
	b.WriteString("CORE\x00\x00\x00\x00")
	b.Write(desc)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// A PT_LOAD whose offset + file size wraps past 2^64 (was: "internal
// error: slice bounds out of range").
func TestHostileWrappingSegment(t *testing.T) {
	page := bytes.Repeat([]byte{0x41}, 8192)
	huge := ^uint64(0) - 99
	path := hostileCore(t, []elf.Prog64{hostileLoad(0x10000, huge, hostileBody(1), huge)}, page)
	checkHostile(t, path, "")
}

// Many PT_NOTE headers on the same notes (was: a 1.5 MB file took 66 s and
// 7.6 GB): the notes are read once.
func TestHostileOverlappingNotes(t *testing.T) {
	var desc bytes.Buffer
	const maps = 40000
	bin.Write(&desc, bin.LittleEndian, [2]uint64{maps, 4096})
	for i := uint64(0); i < maps; i++ {
		bin.Write(&desc, bin.LittleEndian, [3]uint64{0x100000 + i*0x1000, 0x101000 + i*0x1000, 0})
	}
	for i := 0; i < maps; i++ {
		desc.WriteString("/x\x00")
	}
	notes := hostileNote(0x46494c45, desc.Bytes()) // NT_FILE
	const headers = 500
	phs := make([]elf.Prog64, headers+1)
	for i := 0; i < headers; i++ {
		phs[i] = elf.Prog64{Type: uint32(elf.PT_NOTE), Off: hostileBody(headers + 1), Filesz: uint64(len(notes))}
	}
	phs[headers] = hostileLoad(0x1000, 0x1000, hostileBody(headers+1)+uint64(len(notes)), 0x1000)
	checkHostile(t, hostileCore(t, phs, append(notes, make([]byte, 4096)...)), "")
}

// Many PT_LOADs sharing one page of the file (was: 3.7 MB took 149 s in the
// scan for the runtime): each byte of the file is scanned once.
func TestHostileSharedPage(t *testing.T) {
	const headers = 60000
	page := make([]byte, 4096)
	for i := 0; i < len(page); i += 16 { // words that pass the scan's quick check
		bin.LittleEndian.PutUint64(page[i:], 0x7f0000001000)
		bin.LittleEndian.PutUint64(page[i+8:], 0x7f0000001000)
	}
	phs := make([]elf.Prog64, headers)
	for i := range phs {
		phs[i] = hostileLoad(0x100000+uint64(i)*0x1000, 0x1000, hostileBody(headers), 0x1000)
	}
	checkHostile(t, hostileCore(t, phs, page), "")
}

// A FIFO as the core path (was: info and stacks hung forever).
func TestHostileFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "core.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	checkHostile(t, fifo, "named pipe")
}

// A sysroot holding proc -> /proc and a core whose NT_FILE names
// /proc/self/fd/0: pycoroner must not open its own standard input (was:
// it read the deleted file on its stdin, since resolving the path failed
// and the containment check was skipped).
func TestSysrootEscapeThroughProc(t *testing.T) {
	sysroot := t.TempDir()
	if err := os.Symlink("/proc", filepath.Join(sysroot, "proc")); err != nil {
		t.Fatal(err)
	}
	var desc bytes.Buffer
	bin.Write(&desc, bin.LittleEndian, [2]uint64{1, 4096})
	bin.Write(&desc, bin.LittleEndian, [3]uint64{0x400000, 0x401000, 0})
	desc.WriteString("/proc/self/fd/0\x00")
	notes := hostileNote(0x46494c45, desc.Bytes())
	phs := []elf.Prog64{{Type: uint32(elf.PT_NOTE), Off: hostileBody(2), Filesz: uint64(len(notes))},
		hostileLoad(0x10000, 0x1000, hostileBody(2)+uint64(len(notes)), 0x1000)}
	core := hostileCore(t, phs, append(notes, make([]byte, 4096)...))

	// Standard input: a deleted copy of an ELF file.
	exe, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "stdin")
	os.WriteFile(secret, exe, 0o644)
	stdin, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	os.Remove(secret)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "info", "--json", "--sysroot", sysroot, core)
	cmd.Stdin = stdin
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	var info struct {
		Files []struct {
			Path   string `json:"path"`
			Status string `json:"status"`
		} `json:"files"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	found := false
	for _, f := range info.Files {
		if f.Path == "/proc/self/fd/0" {
			found = true
			if f.Status != "outside-sysroot" && f.Status != "missing" {
				t.Errorf("/proc/self/fd/0 under the sysroot has status %q: pycoroner opened its own standard input", f.Status)
			}
		}
	}
	if !found {
		t.Errorf("info lists no /proc/self/fd/0:\n%s", out)
	}
}

// syspath under a sysroot whose usr is a link to the host's /usr: the
// entries exist only outside the sysroot, so they are missing (was:
// reported as existing).
func TestSyspathInsideSysroot(t *testing.T) {
	core, goldRoot, _ := goldenCore(t, "debian-3.11-gcore")
	if _, err := os.Stat("/usr/lib/python3.11"); err != nil {
		t.Skip("this host has no /usr/lib/python3.11: nothing outside the sysroot to be fooled by")
	}
	sysroot := t.TempDir()
	if err := os.Symlink("/usr", filepath.Join(sysroot, "usr")); err != nil {
		t.Fatal(err)
	}
	r := pycoroner(t, "syspath", "--json", "--sysroot", sysroot, "--exe", filepath.Join(goldRoot, "usr/bin/python3.11"), core)
	if r.code != 0 {
		t.Fatalf("syspath exited %d: %s", r.code, r.stderr)
	}
	var entries []struct {
		Path   string `json:"path"`
		Exists bool   `json:"exists"`
	}
	if _, err := unwrap(r.stdout, &entries); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Path, "/usr/") {
			checked++
			if e.Exists {
				t.Errorf("%s is reported as existing under the sysroot; only the host's copy exists", e.Path)
			}
		}
	}
	if checked == 0 {
		t.Errorf("no /usr entry in sys.path:\n%s", r.stdout)
	}
}
