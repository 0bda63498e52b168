package census

// Model is the object model a census is taken of. T is its type handle
// (pyheap uses *pyheap.Type): the census stores it and hands it back, and
// never looks inside.
type Model[T any] interface {
	// Ranges lists the memory objects can live in, as [start, end)
	// pairs: the census keeps one bit per 8-byte word of it.
	Ranges() [][2]uint64
	// Seed says where the census starts. It calls gc with every object
	// on the garbage collector's lists, then returns the named roots and
	// the objects referenced from places that are not objects.
	Seed(gc func(addr uint64)) (Seeds, error)
	// NewReader returns a reader for one goroutine: the census gives
	// each worker its own.
	NewReader() Reader[T]
}

// Seeds are the starting points of a census besides the GC lists.
type Seeds struct {
	Roots []Root
	// Hidden are objects referenced from things that are not objects
	// (CPython 3.11+ interpreter frames on a thread's stack): alive, but
	// no object of the census refers to them from there.
	Hidden []uint64
	// GCCollecting: the collector was running when the image was taken,
	// so its lists may be in flux.
	GCCollecting bool
	// Incomplete says, in sentences, why the collector's lists may not
	// hold every object they should (a broken list); Stats carries it.
	Incomplete []string
}

// Reader answers questions about single objects. A Reader is used by one
// goroutine at a time; readers of one Model may run concurrently.
type Reader[T any] interface {
	// TypeOf returns the type of the object at addr and the address of
	// that type's object; an error when addr holds no object.
	TypeOf(addr uint64) (t T, typeAddr uint64, err error)
	// Refs calls emit with every address obj refers to, its type
	// excepted (the census keeps that edge itself), in the model's
	// order; via may be left empty (labels are for Labelled). The census
	// drops NULL and misaligned targets, and checks (with TypeOf) each
	// word a conservative scan found.
	Refs(obj uint64, t T, emit func(target uint64, via Ref, conservative bool))
	// Labelled reports obj's references with how it holds each,
	// starting with its type (the field "__class__"); see Edge.
	Labelled(obj uint64, t T, emit func(target uint64, via Ref, conservative bool))
	// Size is obj's shallow size in bytes.
	Size(obj uint64, t T) int64
	// GCType reports whether objects of type t can be tracked by the
	// garbage collector; the census asks once per type and worker.
	GCType(t T) bool
	// Tracked reports whether obj, of a GCType type and not among the
	// objects Seed named from the garbage collector's lists, says (in its
	// own header) that the collector tracks it: then the lists were not
	// read whole. The census asks while it visits obj (its memory is at
	// hand) and counts the answers in Stats.GCUnlisted.
	Tracked(obj uint64, t T) bool
}

// RootKind says what kind of thing a root is; the model names the kinds.
type RootKind string

// Root is a named starting point: something a person recognises at the
// head of a reference path. The census fills ID; the other fields are the
// model's description of the root, which the census only carries.
type Root struct {
	Kind RootKind
	Name string // "thread 3 (worker-1) › frame worker (app.py:42) › local tmp_path"
	Addr uint64
	ID   ObjectID // -1 when the target is not an object of the census
	// Interp is the id of the interpreter the root belongs to: 0 for the
	// main interpreter, a subinterpreter's id otherwise.
	Interp int64

	// For roots that live in a thread: locals and exceptions.
	ThreadID   uint64
	ThreadName string
	Function   string
	Filename   string
	Line       int
	Local      string
}

// Edge is one labelled reference.
type Edge struct {
	Target       ObjectID
	Addr         uint64
	Via          Ref
	Conservative bool
}

// RefAppender is a Reader that can also append the targets of some
// objects' references to a slice: the census's fast path for the
// commonest objects, one call per object instead of one per reference.
type RefAppender[T any] interface {
	// AppendRefs appends the targets Refs would report for obj, in the
	// same order (none of them conservative), and reports true; or
	// reports false, dst unchanged, for an object it leaves to Refs.
	AppendRefs(obj uint64, t T, dst []uint64) ([]uint64, bool)
}
