//go:build !linux

package hugeheap

func adviseFirstChunk() uintptr { return 0 }

func adviseAhead(uintptr) {}
