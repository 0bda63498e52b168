package reports

import (
	"io"

	"github.com/pycoroner/pycoroner/pyheap"
)

// Answer is one command's answer: WriteText renders it for people, JSON is
// the value its --json prints (the shapes of docs/json.md). Every command
// has one answer type, built by a Build function of this package; the CLI
// prints any of them the same way.
type Answer interface {
	WriteText(w io.Writer) error
	JSON() any
}

// The answer types of the commands.
var (
	_ Answer = (*Info)(nil)
	_ Answer = (*Stacks)(nil)
	_ Answer = (*Histogram)(nil)
	_ Answer = (*Refs)(nil)
	_ Answer = (*Paths)(nil)
	_ Answer = (*Show)(nil)
	_ Answer = (*Grep)(nil)
	_ Answer = Modules(nil)
	_ Answer = Duplicates(nil)
	_ Answer = SysPath(nil)
)

// JSON is the answer itself.
func (in *Info) JSON() any { return in }

// JSON is the answer itself, its warnings always a list (as the
// envelope's): "warnings": null would read as "none" where [] says none.
func (s *Stacks) JSON() any {
	if s.Warnings == nil {
		s.Warnings = []string{}
	}
	return s
}

// JSON is the rows.
func (hg *Histogram) JSON() any { return hg.Rows }

// JSON is the holders.
func (r *Refs) JSON() any { return r.Holders }

// JSON is the answer itself.
func (s *Show) JSON() any { return s }

// JSON is the matches.
func (g *Grep) JSON() any { return g.Matches }

// Paths is the answer of `path`: the target and the paths that reach it.
type Paths struct {
	Target Value
	Paths  []RefPath
}

// BuildPathsTo finds the paths to id (see BuildPaths) and describes id.
func BuildPathsTo(h *pyheap.Heap, id pyheap.ObjectID, all bool) *Paths {
	paths := BuildPaths(h, id, all, MaxPaths)
	return &Paths{Target: describeValue(h, id), Paths: paths}
}

// JSON is the paths.
func (p *Paths) JSON() any { return p.Paths }

// Modules is the answer of `modules`: sys.modules in order.
type Modules []ModuleEntry

// JSON is the list.
func (m Modules) JSON() any { return []ModuleEntry(m) }

// Duplicates is the answer of `modules --duplicates`.
type Duplicates []DuplicateModule

// JSON is the list.
func (d Duplicates) JSON() any { return []DuplicateModule(d) }

// SysPath is the answer of `syspath`.
type SysPath []SysPathEntry

// JSON is the list.
func (s SysPath) JSON() any { return []SysPathEntry(s) }
