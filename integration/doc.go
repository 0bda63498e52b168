// Package integration holds the end-to-end tests: real CPython processes
// from fixtures/scenarios, real cores from gcore and from the kernel, and
// the pycoroner binary's answers compared with what each process said
// about itself (its oracle).
package integration
