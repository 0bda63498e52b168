// Package unwind rebuilds the native (C) call stack of every thread of a
// process image from the registers the core recorded, with the call-frame
// information (.eh_frame, .debug_frame) of the mapped ELF files, falling
// back to frame pointers; it names each frame from the files' symbol tables
// and DWARF (inlined functions included, as gdb shows them), and describes
// the instruction and the address a crashed thread faulted on.
//
// It reads memory, mappings, threads and files only through coreread's
// process image, and knows nothing of Python: merging these frames with the
// interpreter's is the job of reports. Everything read from a core is
// untrusted: every step of an unwind is bounded and checked, and a corrupt
// stack ends the unwind with a note instead of a loop.
package unwind
