// Package census takes the census of a heap and answers graph questions
// about it: which objects are alive, what refers to what, the shortest
// reference paths from named roots, the holders of an object, and the
// compact arrays (ids, out-edges, shallow sizes, roots) that whole-heap
// algorithms such as a dominator tree run over.
//
// It knows no CPython: no layout, no version, no struct. It asks an object
// model (Model, implemented by pyheap) a few questions through small
// interfaces — what lives where (Ranges), what is alive to begin with
// (Seed: the collector's lists, the named roots), and per object, through
// a Reader, its type, its references (bare or labelled) and its shallow
// size. Types are opaque to it (the type parameter T), known only by the
// address of their type object.
//
// Rules: this package imports nothing of pycoroner (not pyheap, not
// layout, not coreread); it never reads memory itself; it bounds what it
// records (maxObjects, maxEdges), since the model reads untrusted memory.
// Its goroutines call readers that may read a memory-mapped core, so each
// sets debug.SetPanicOnFault and carries any panic to the goroutine that
// waits for it (internal/faultgroup): a truncated core is an error, never a crash.
package census
