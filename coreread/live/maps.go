package live

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end uint64
	perms      string // "rw-p"
	offset     uint64
	inode      uint64
	path       string
}

func (m mapping) readable() bool   { return len(m.perms) > 0 && m.perms[0] == 'r' }
func (m mapping) writable() bool   { return len(m.perms) > 1 && m.perms[1] == 'w' }
func (m mapping) private() bool    { return len(m.perms) > 3 && m.perms[3] == 'p' }
func (m mapping) fileBacked() bool { return m.inode != 0 && strings.HasPrefix(m.path, "/") }

// maxMappings bounds what is read from /proc/PID/maps.
const maxMappings = 1 << 20

func readMaps(pid int) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, fmt.Errorf("read mappings of pid %d: %w", pid, err)
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() && len(out) < maxMappings {
		m, ok := parseMapsLine(sc.Text())
		if ok {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseMapsLine parses "start-end perms offset dev inode   path".
func parseMapsLine(line string) (mapping, bool) {
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return mapping{}, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return mapping{}, false
	}
	var m mapping
	var err error
	if m.start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return mapping{}, false
	}
	if m.end, err = strconv.ParseUint(hi, 16, 64); err != nil || m.end <= m.start {
		return mapping{}, false
	}
	m.perms = fields[1]
	if m.offset, err = strconv.ParseUint(fields[2], 16, 64); err != nil {
		return mapping{}, false
	}
	m.inode, _ = strconv.ParseUint(fields[4], 10, 64)
	if len(fields) >= 6 {
		// The path may contain spaces; it is everything after the inode.
		idx := strings.Index(line, fields[4]) + len(fields[4])
		m.path = strings.TrimSpace(line[idx:])
	}
	return m, true
}

// copiedOnWrite lists the start addresses of the mappings of pid that hold
// pages of their own (smaps "Anonymous:" above 0): in a private file
// mapping those are pages written since they were mapped, which the file
// no longer shows. The kernel's core dump keeps such mappings whole (a
// file mapping with an anon_vma counts as private anonymous memory), and
// so does gdb's gcore (by the same smaps field). Read-only ones are easy
// to miss: RELRO, where the dynamic linker wrote relocated pointers and
// DT_DEBUG (the r_debug address debuggers find libraries by) before
// making it read-only.
func copiedOnWrite(pid int) (map[uint64]bool, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, fmt.Errorf("read smaps of pid %d: %w", pid, err)
	}
	defer f.Close()
	out := map[uint64]bool{}
	var cur uint64
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			if kb := strings.Fields(rest); len(kb) > 0 && kb[0] != "0" {
				out[cur] = true
			}
			continue
		}
		if m, ok := parseMapsLine(line); ok {
			if n++; n > maxMappings {
				break
			}
			cur = m.start
		}
	}
	return out, sc.Err()
}
