// Package coreread reads a process image: memory by address, mappings,
// threads and their registers, symbols, and the files behind the image.
// Today the image is an ELF core file (from gcore or the kernel); later
// Mach-O cores and live processes. It knows nothing of Python.
//
// Memory comes from the core's PT_LOAD segments first. Pages the core left
// out (unmodified file-backed pages such as .text and .rodata) are read from
// the files named in the core's NT_FILE note, on this host or under a
// sysroot. The core itself is mmapped, never loaded whole.
package coreread
