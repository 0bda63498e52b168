// Package pyheap is pycoroner's model of a CPython process: it finds the
// interpreter in a process image, detects the exact version, picks the
// struct layout for it, and walks interpreters → threads → frames, decoding
// objects (str, int, float, bytes, containers, instances) into values and
// short reprs. It reads memory only through the Image interface and never
// parses ELF itself.
//
// Everything read from the image is untrusted: every walk is bounded and
// every size is capped before anything is allocated.
package pyheap
