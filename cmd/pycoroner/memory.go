package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/pycoroner/pycoroner/graph/dominators"
)

// memoryMaxEnv caps the memory a heap census may use (a size such as 4G).
const memoryMaxEnv = "PYCORONER_MEMORY_MAX"

// unlimited is what cgroups write for "no limit" (v1: a page-rounded
// 2^63-1; v2: "max").
const unlimited = 1 << 60

// memoryBudget is what a census may allocate: $PYCORONER_MEMORY_MAX when
// set, else the memory available now (MemAvailable) or the room left under
// this process's cgroup limit, whichever is smaller, with a tenth kept
// aside. The core's own pages are not counted: they are file pages the
// kernel can drop and read again. It returns the budget and where it
// comes from, for the error that names it; 0 when nothing is known.
func memoryBudget() (int64, string, error) {
	if s := os.Getenv(memoryMaxEnv); s != "" {
		n, err := parseSize(s)
		if err != nil {
			return 0, "", fmt.Errorf("%s=%q: %w", memoryMaxEnv, s, err)
		}
		return n, memoryMaxEnv, nil
	}
	budget, from := int64(0), ""
	if f, err := os.Open("/proc/meminfo"); err == nil {
		if n, ok := memAvailable(f); ok {
			budget, from = n, "available memory (MemAvailable)"
		}
		f.Close()
	}
	if room, ok := cgroupRoom(); ok && (budget == 0 || room < budget) {
		budget, from = room, "room under the cgroup memory limit"
	}
	return budget - budget/10, from, nil
}

// memAvailable reads MemAvailable from /proc/meminfo.
func memAvailable(r io.Reader) (int64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		return kb << 10, err == nil && kb > 0
	}
	return 0, false
}

// cgroupRoom is the limit of this process's memory cgroup minus what it
// uses (cgroup v2, else v1).
func cgroupRoom() (int64, bool) {
	for _, files := range [][2]string{
		{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"},
	} {
		limit, ok1 := readCgroupValue(files[0])
		used, ok2 := readCgroupValue(files[1])
		if !ok1 || !ok2 {
			continue
		}
		if limit >= unlimited {
			return 0, false
		}
		return max(limit-used, 0), true
	}
	return 0, false
}

func readCgroupValue(path string) (int64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return unlimited, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// treeMemory is what computing the dominator tree of a census of objects
// objects and refs references adds to the process (docs/limits.md): the
// tree's own arrays (dominators.MemoryNeeded, predecessors included
// unless the census's saved reverse index serves: lean), the out-edges
// (built from the saved index for the search, or the leak graph's, kept
// beside the census), and the types by object and child lists made after.
func treeMemory(objects, refs int, lean bool) int64 {
	outEdges := 4*int64(objects+1) + 4*int64(refs)
	return dominators.MemoryNeeded(objects, refs, !lean) + outEdges + 8*int64(objects)
}

// checkTreeMemory fails, in one line naming the memory needed, when the
// dominator tree of a census of objects objects and refs references does
// not fit the memory budget (memoryBudget, measured now: a census held in
// memory is already taken out of what is available, but not out of
// $PYCORONER_MEMORY_MAX, hence censusHeld). lean: computed from the saved
// index once the census's arrays are given back (censusHeld 0).
func checkTreeMemory(objects, refs int, lean bool, censusHeld int64) error {
	budget, from, err := memoryBudget()
	if err != nil {
		return usageError{err}
	}
	need := treeMemory(objects, refs, lean)
	if from != memoryMaxEnv {
		censusHeld = 0
	}
	if budget <= 0 || censusHeld+need <= budget {
		return nil
	}
	held := ""
	if censusHeld > 0 {
		held = fmt.Sprintf(" and the census's %s", gigabytes(censusHeld))
	}
	return fmt.Errorf("the dominator tree of %d objects and %d references needs about %s of memory besides the core%s, more than the %s of %s; run pycoroner where more memory is free, or set %s if it is (docs/limits.md)",
		objects, refs, gigabytes(need), held, gigabytes(budget), from, memoryMaxEnv)
}
