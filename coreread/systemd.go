package coreread

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// SystemdCoredump is what systemd-coredump recorded about a core in the
// file itself: its name, core.COMM.UID.BOOTID.PID.USEC[.zst|.xz|.lz4] in
// /var/lib/systemd/coredump, and its user.coredump.* extended attributes
// (which survive only copies that keep xattrs: cp -a, rsync -X). The rest
// (command line, cgroup, unit) is in the journal, which pycoroner does not
// read.
type SystemdCoredump struct {
	Comm     string    `json:"comm,omitempty"`
	Exe      string    `json:"exe,omitempty"`
	PID      int       `json:"pid,omitempty"`
	UID      *int      `json:"uid,omitempty"`
	GID      *int      `json:"gid,omitempty"`
	Signal   int       `json:"signal,omitempty"`
	Time     time.Time `json:"time,omitzero"`
	Hostname string    `json:"hostname,omitempty"`
	BootID   string    `json:"boot_id,omitempty"`
	// CoreLimit is RLIMIT_CORE as systemd saw it: "unlimited" or bytes.
	CoreLimit string `json:"core_limit,omitempty"`
	// Sources says where the facts came from: "file name", "xattrs".
	Sources []string `json:"sources"`
}

// maxXattr bounds one extended attribute read from the core file.
const maxXattr = 4096

// ReadSystemdCoredump returns what systemd-coredump recorded about the core
// at path, or false when neither its name nor its attributes are
// systemd-coredump's.
func ReadSystemdCoredump(path string) (*SystemdCoredump, bool) {
	sd := &SystemdCoredump{}
	if parseSystemdName(filepath.Base(path), sd) {
		sd.Sources = append(sd.Sources, "file name")
	}
	if readSystemdXattrs(path, sd) {
		sd.Sources = append(sd.Sources, "xattrs")
	}
	return sd, len(sd.Sources) > 0
}

// parseSystemdName parses core.COMM.UID.BOOTID.PID.USEC with an optional
// compression suffix. COMM is escaped by systemd ("." and "/" as \x2e,
// \x2f), so the other fields are the last four dot-separated ones.
func parseSystemdName(name string, sd *SystemdCoredump) bool {
	for _, ext := range []string{".zst", ".xz", ".lz4", ".gz"} {
		if s, ok := strings.CutSuffix(name, ext); ok {
			name = s
			break
		}
	}
	rest, ok := strings.CutPrefix(name, "core.")
	if !ok {
		return false
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 5 {
		return false
	}
	n := len(parts)
	uid, err1 := strconv.Atoi(parts[n-4])
	boot := parts[n-3]
	pid, err2 := strconv.Atoi(parts[n-2])
	usec, err3 := strconv.ParseInt(parts[n-1], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || uid < 0 || pid <= 0 || usec <= 0 || !isHex(boot, 32) {
		return false
	}
	sd.Comm = unescapeSystemd(strings.Join(parts[:n-4], "."))
	sd.UID, sd.BootID, sd.PID, sd.Time = &uid, boot, pid, time.UnixMicro(usec).UTC()
	return true
}

// readSystemdXattrs fills sd from the user.coredump.* attributes; they
// take precedence over the name.
func readSystemdXattrs(path string, sd *SystemdCoredump) bool {
	found := false
	get := func(name string) (string, bool) {
		buf := make([]byte, maxXattr)
		n, err := unix.Getxattr(path, "user.coredump."+name, buf)
		if err != nil || n <= 0 {
			return "", false
		}
		found = true
		return strings.TrimRight(string(buf[:n]), "\x00"), true
	}
	num := func(name string) (int, bool) {
		s, ok := get(name)
		if !ok {
			return 0, false
		}
		v, err := strconv.Atoi(s)
		return v, err == nil
	}
	if v, ok := num("pid"); ok {
		sd.PID = v
	}
	if v, ok := num("uid"); ok {
		sd.UID = &v
	}
	if v, ok := num("gid"); ok {
		sd.GID = &v
	}
	if v, ok := num("signal"); ok {
		sd.Signal = v
	}
	if s, ok := get("timestamp"); ok {
		if usec, err := strconv.ParseInt(s, 10, 64); err == nil && usec > 0 {
			sd.Time = time.UnixMicro(usec).UTC()
		}
	}
	if s, ok := get("rlimit"); ok {
		if s == "18446744073709551615" || s == "-1" {
			s = "unlimited"
		}
		sd.CoreLimit = s
	}
	if s, ok := get("hostname"); ok {
		sd.Hostname = s
	}
	if s, ok := get("comm"); ok {
		sd.Comm = s
	}
	if s, ok := get("exe"); ok {
		sd.Exe = s
	}
	return found
}

// ErrNoXattrs is returned by SetSystemdXattrs where the file system keeps
// no user extended attributes.
var ErrNoXattrs = errors.New("the file system does not support user extended attributes")

// SetSystemdXattrs writes user.coredump.* attributes as systemd-coredump
// does (tests use it to make systemd-style cores).
func SetSystemdXattrs(path string, attrs map[string]string) error {
	for k, v := range attrs {
		if err := unix.Setxattr(path, "user.coredump."+k, []byte(v), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
				return ErrNoXattrs
			}
			return err
		}
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// unescapeSystemd undoes systemd's xescape: \xNN becomes that byte.
func unescapeSystemd(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
