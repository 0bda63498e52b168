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
