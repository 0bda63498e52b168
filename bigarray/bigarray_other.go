//go:build !linux

package bigarray

// mapAnon: elsewhere, big arrays stay on the Go heap.
func mapAnon(n int, huge bool) ([]byte, bool) { return nil, false }

func unmapAnon(mem []byte) {}

func releaseAnon(mem []byte) {}
