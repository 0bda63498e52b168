package integration

import (
	"bytes"
	"context"
	"debug/elf"
	bin "encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Hostile compressed cores: decoder memory, decompressed size, and the
// temporary files of interrupted decompressions.

func xzBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withXZDict sets the dictionary size code of the first block of an xz
// stream, with a valid header checksum.
func withXZDict(t *testing.T, stream []byte, code byte) []byte {
	t.Helper()
	stream = append([]byte(nil), stream...)
	h := stream[12 : 12+(int(stream[12])+1)*4]
	i := bytes.Index(h, []byte{0x21, 0x01})
	if i < 0 {
		t.Fatalf("no LZMA2 filter in % x", h)
	}
	h[i+2] = code
	bin.LittleEndian.PutUint32(h[len(h)-4:], crc32.ChecksumIEEE(h[:len(h)-4]))
	return stream
}

// elfCoreWith returns an ELF core header with one PT_LOAD of memsz bytes
// right after it, followed by data.
func elfCoreWith(memsz uint64, data []byte) []byte {
	var buf bytes.Buffer
	hdr := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1, Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	bin.Write(&buf, bin.LittleEndian, hdr)
	bin.Write(&buf, bin.LittleEndian, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_W), Off: 120, Vaddr: 0x10000, Filesz: memsz, Memsz: memsz})
	buf.Write(data)
	return buf.Bytes()
}

// An xz file whose second stream's block declares a 3 GiB dictionary
// (was: 3.3 GB of memory, 110 s, 4.3 GB written, then "not an ELF core").
func TestHostileXZDictionary(t *testing.T) {
	core, _, _ := goldenCore(t, "debian-3.11-gcore")
	data, err := os.ReadFile(core)
	if err != nil {
		t.Fatal(err)
	}
	first := xzBytes(t, data[:1<<20])
	second := withXZDict(t, xzBytes(t, data[1<<20:2<<20]), 39) // 3 GiB
	path := filepath.Join(t.TempDir(), "core.xz")
	os.WriteFile(path, append(first, second...), 0o644)
	t.Setenv("PYCORONER_CACHE_DIR", t.TempDir())
	checkHostile(t, path, "larger than the 256 MiB")
}

// A compressed core that unpacks beyond the limit stops there and says how
// to raise it; nothing is left in the cache.
func TestDecompressedSizeCapped(t *testing.T) {
	var z bytes.Buffer
	w, _ := zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest))
	w.Write(elfCoreWith(256<<20, nil))
	zero := make([]byte, 1<<20)
	for i := 0; i < 256; i++ {
		w.Write(zero)
	}
	w.Close()
	path := filepath.Join(t.TempDir(), "bomb.zst")
	os.WriteFile(path, z.Bytes(), 0o644)
	cache := t.TempDir()
	t.Setenv("PYCORONER_CACHE_DIR", cache)
	r := pycoronerBounded(t, "stacks", "--max-decompressed", "64M", path)
	stderr := strings.TrimSpace(string(r.stderr))
	if r.code != 1 || strings.Contains(stderr, "\n") || !strings.Contains(stderr, "unpacks to more than 67108864 bytes") || !strings.Contains(stderr, "--max-decompressed") {
		t.Errorf("exit %d, stderr %q: want one line saying the limit and how to raise it", r.code, stderr)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("the cache keeps %d files after a refused decompression", len(left))
	}
}

// A decompression interrupted by SIGINT or SIGTERM removes its temporary
// file and says so in one line; one killed outright (SIGKILL) leaves a
// file that the next run removes.
func TestInterruptedDecompression(t *testing.T) {
	var z bytes.Buffer
	w, _ := zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest))
	const size = 768 << 20
	w.Write(elfCoreWith(size, nil))
	block := bytes.Repeat([]byte("pycoroner interrupted decompression "), 1<<15)
	for n := 0; n < size; n += len(block) {
		w.Write(block[:min(len(block), size-n)])
	}
	w.Close()
	path := filepath.Join(t.TempDir(), "big.zst")
	os.WriteFile(path, z.Bytes(), 0o644)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			cache := t.TempDir()
			code, stderr, caught := interruptWhileDecompressing(t, path, cache, sig)
			if !caught {
				t.Skip("the decompression ended before the signal: nothing to check")
			}
			left, _ := filepath.Glob(filepath.Join(cache, ".decompress-*"))
			if sig == syscall.SIGKILL {
				if len(left) == 0 {
					t.Skip("SIGKILL landed after the temporary file was gone")
				}
				// The next run removes the dead run's file.
				t.Setenv("PYCORONER_CACHE_DIR", cache)
				r := pycoroner(t, "info", "--max-decompressed", "16M", path)
				if now, _ := filepath.Glob(filepath.Join(cache, ".decompress-*")); len(now) != 0 {
					t.Errorf("the next run left %v (exit %d: %s)", now, r.code, r.stderr)
				}
				return
			}
			if code != 1 || !strings.Contains(stderr, "interrupted") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q: want one line saying it was interrupted", code, stderr)
			}
			if len(left) != 0 {
				t.Errorf("%v left behind after %v", left, sig)
			}
		})
	}
}

// interruptWhileDecompressing runs info on a compressed core and sends sig
// once its temporary file appears in the cache.
func interruptWhileDecompressing(t *testing.T, path, cache string, sig syscall.Signal) (code int, stderr string, caught bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "info", path)
	cmd.Env = append(os.Environ(), "PYCORONER_CACHE_DIR="+cache)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
poll:
	for {
		select {
		case err = <-done:
			break poll
		default:
		}
		if m, _ := filepath.Glob(filepath.Join(cache, ".decompress-*")); len(m) > 0 {
			caught = cmd.Process.Signal(sig) == nil
			err = <-done
			break
		}
		time.Sleep(time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatal("pycoroner still running after a minute")
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return code, errb.String(), caught
}

// A compressed file that does not unpack to an ELF core is refused before
// anything is written (was: all of it was written first, then refused).
// The run's file size limit (ulimit -f, 1 MB) kills a run that writes more.
func TestCompressedNotACoreWritesNothing(t *testing.T) {
	var z bytes.Buffer
	w, _ := zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest))
	zero := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		w.Write(zero)
	}
	w.Close()
	path := filepath.Join(t.TempDir(), "zeros.zst")
	os.WriteFile(path, z.Bytes(), 0o644)
	cache := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `ulimit -f 1024 && exec "$0" "$@"`, binary, "stacks", path)
	cmd.Env = append(os.Environ(), "PYCORONER_CACHE_DIR="+cache)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	stderr := strings.TrimSpace(errb.String())
	if code != 1 || strings.Contains(stderr, "\n") || !strings.Contains(stderr, "not an ELF core file") {
		t.Errorf("exit %d (%v), stderr %q: want one line saying it is not a core, before writing", code, err, stderr)
	}
}
