// Package indexfile saves and loads an index: named arrays of fixed-size
// integers computed from a large input file (a core), so that a later
// process maps them read-only instead of computing them again.
//
// It owns the file format (versioned, little-endian, every array
// checksummed in blocks), the cache directory's contents (one file per
// input, keyed by the input's identity, bounded by size, oldest use
// evicted first) and the rules of trust: every byte read from a saved
// index is untrusted. A file that is truncated, altered, written by
// another format version or for another input is reported as Invalid and
// removed, so the caller rebuilds it; a cache that cannot be written (full
// disk, read-only directory) means no saved index, never a failure of the
// caller's work.
//
// It knows nothing of cores or CPython: what the arrays mean, and whether
// their values are consistent (ids in range, offsets in order), is the
// caller's to check. It reads no environment: the directory and the size
// bound are given by the caller (cmd/pycoroner).
package indexfile
