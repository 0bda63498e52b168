package coreread

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseSystemdName(t *testing.T) {
	const boot = "1827be70bda44e3b9598c4aaf5ac32bc"
	tests := []struct {
		name     string
		ok       bool
		comm     string
		uid, pid int
	}{
		{"core.python3.1000." + boot + ".588797.1717652311000000.zst", true, "python3", 1000, 588797},
		{`core.python3\x2e12.0.` + boot + ".42.1717652311000000.xz", true, "python3.12", 0, 42},
		{`core.my\x20app.0.` + boot + ".7.1717652311000000", true, "my app", 0, 7},
		{"core.python3.1000." + boot + ".588797.1717652311000000.lz4", true, "python3", 1000, 588797},
		{"core.12345", false, "", 0, 0},
		{"core.python3.1000.notaboot.588797.1717652311000000.zst", false, "", 0, 0},
		{"core.python3.x." + boot + ".1.1.zst", false, "", 0, 0},
		{"vmcore.python3.1000." + boot + ".1.1.zst", false, "", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sd SystemdCoredump
			ok := parseSystemdName(tc.name, &sd)
			if ok != tc.ok {
				t.Fatalf("parsed = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if sd.Comm != tc.comm || sd.UID == nil || *sd.UID != tc.uid || sd.PID != tc.pid || sd.BootID != boot {
				t.Errorf("got %+v", sd)
			}
			if want := time.UnixMicro(1717652311000000).UTC(); !sd.Time.Equal(want) {
				t.Errorf("time %v, want %v", sd.Time, want)
			}
		})
	}
}

// The attributes systemd-coredump sets take precedence over the name.
func TestReadSystemdXattrs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "core.python3.1000.1827be70bda44e3b9598c4aaf5ac32bc.99.1717652311000000.zst")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := SetSystemdXattrs(path, map[string]string{"pid": "4242", "uid": "0", "gid": "5", "signal": "6",
		"timestamp": "1717652311123456", "rlimit": "18446744073709551615", "hostname": "web-1",
		"comm": "python3.12", "exe": "/usr/bin/python3.12"})
	if errors.Is(err, ErrNoXattrs) {
		t.Skipf("%s: %v", filepath.Dir(path), err)
	}
	if err != nil {
		t.Fatal(err)
	}
	sd, ok := ReadSystemdCoredump(path)
	if !ok || len(sd.Sources) != 2 {
		t.Fatalf("ok %v, sources %v", ok, sd.Sources)
	}
	if sd.PID != 4242 || *sd.UID != 0 || *sd.GID != 5 || sd.Signal != 6 || sd.Hostname != "web-1" ||
		sd.Comm != "python3.12" || sd.Exe != "/usr/bin/python3.12" || sd.CoreLimit != "unlimited" ||
		sd.Time.UnixMicro() != 1717652311123456 {
		t.Errorf("got %+v", sd)
	}
	if _, ok := ReadSystemdCoredump(filepath.Join(t.TempDir(), "core.1234")); ok {
		t.Error("a plain core.PID file was taken for systemd-coredump's")
	}
}
