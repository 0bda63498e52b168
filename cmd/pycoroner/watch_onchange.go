package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/coreread/live"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

// errNameGone ends a watch whose name no longer names an object (deleted,
// or its holder replaced): there is nothing left to follow.
var errNameGone = errors.New("the watched name no longer names an object")

func runOnChange(g *globalFlags, t *watchTarget, f *watchFlags, stop chan os.Signal) error {
	s, err := t.attach(g.json)
	if err != nil {
		return err
	}
	defer s.Detach()
	s.Overwrite = f.force
	p, rt, err := openSnapshot(g, s)
	if err != nil {
		return err
	}
	res, wps, err := rt.WatchPointsOf(f.onChange)
	w := &changeWatch{g: g, f: f, s: s, wps: wps}
	w.follow(p, rt, res.Addr)
	p.Close()
	if err != nil {
		var ee *pyheap.ExprError
		if errors.As(err, &ee) {
			return usageError{err}
		}
		return err
	}
	rep := &reports.WatchReport{PID: t.pid, Expr: f.onChange, Object: reports.ValueOf(w.desc), Hits: []reports.WatchHit{},
		InterpreterWrites: []reports.InterpreterWrite{}, Warnings: []string{}, Timeout: f.timeout}
	w.rep = rep
	if warn := res.AmbiguityWarning(f.onChange); warn != "" {
		// Said before the watch starts, on stderr as the heap commands
		// say it (with --json too: stdout stays the one report).
		rep.Warnings = append(rep.Warnings, warn)
		warnAll(os.Stderr, []string{warn})
	}
	for _, wp := range wps {
		rep.Watchpoints = append(rep.Watchpoints, reports.WatchPoint{Address: fmt.Sprintf("0x%x", wp.Addr), What: wp.What})
	}
	ready := func() {
		if !g.json {
			rep.WriteHeader(stdout)
		} else {
			fmt.Fprintln(os.Stderr, "watching")
		}
	}
	_, err = s.Watch(live.WatchOptions{Addrs: watchAddrs(wps), Count: f.count, Timeout: f.timeout, OnHit: w.hit, Stop: stop, Ready: ready})
	switch {
	case errors.Is(err, live.ErrTimeout):
		rep.TimedOut, err = true, nil
		w.checkUnseenRebinding()
	case errors.Is(err, errNameGone):
		err = nil // said in the last hit
	case t.program != nil && errors.Is(err, live.ErrGone):
		err = nil // the program it started ended: the watch is over
	}
	s.Detach()
	if t.program != nil && err == nil {
		rep.Program = t.finish(s.Exit)
	}
	if g.json {
		if werr := reports.WriteJSON(stdout, rep); werr != nil {
			return werr
		}
	} else {
		rep.WriteEnd(stdout)
	}
	return err
}

// changeWatch is a watch --on-change under way: the object its name
// names now, and the words watched.
type changeWatch struct {
	g   *globalFlags
	f   *watchFlags
	s   *live.Session
	rep *reports.WatchReport
	wps []pyheap.WatchPoint

	obj   uint64
	desc  pyheap.Value
	kind  pyheap.Kind
	state reports.ListState // when kind is a list: as at the last hit
}

// follow makes obj, read from the snapshot p, the object watched.
func (w *changeWatch) follow(p *coreread.Process, rt *pyheap.Runtime, obj uint64) {
	w.obj, w.desc, w.kind = obj, rt.Describe(obj), kindOf(rt, obj)
	if w.kind == pyheap.KindList {
		w.state, _ = reports.ReadListState(p, rt, obj)
	}
}

// hit is live.WatchOptions.OnHit: a thread wrote the watched word which.
func (w *changeWatch) hit(tid, which int) error {
	g, f, rep := w.g, w.f, w.rep
	path := filepath.Join(f.out, hitCore(len(rep.Hits)+1))
	if _, err := w.s.WriteCoreFile(path, nil, false); err != nil {
		return existsHint(path, err)
	}
	wrote := w.wps[which]
	hit := reports.WatchHit{Core: path, Wrote: wrote.What, TID: tid}
	var end error
	p, rt, err := openCore(g, path)
	if err != nil {
		hit.Change = "the snapshot could not be read: " + err.Error()
	} else {
		hit.Thread = culpritThread(g, rt, tid)
		nowRes, now, werr := rt.WatchPointsOf(f.onChange)
		binding := bindingOf(now)
		container := w.kind == pyheap.KindList || w.kind == pyheap.KindDict
		switch {
		case werr != nil && wrote.Binding:
			// `del mod.X`, or X's holder replaced: nothing to follow.
			hit.Change, hit.Unbound = fmt.Sprintf("%s no longer names an object (%s); the watch ends", f.onChange, firstLine(werr.Error())), true
			end = errNameGone
		case container && werr == nil && nowRes.Addr != w.obj && wrote.Binding && wrote.Addr == binding:
			// The name bound to another object, at this line: what
			// happens to the old one's memory next is no change of what
			// the name names, so the watch follows the name.
			hit.Change, hit.Rebound = fmt.Sprintf("%s now names %s (it named the %s at 0x%x)", f.onChange, rt.ShortDesc(nowRes.Addr), w.desc.Type, w.obj), true
			w.follow(p, rt, nowRes.Addr)
		case container && werr == nil && nowRes.Addr != w.obj:
			// Rebound earlier where no breakpoint was (the binding's
			// slot had moved with its dict's table): this write is the
			// old object's memory, whoever wrote it. Not a hit.
			old := w.obj
			w.follow(p, rt, nowRes.Addr)
			return w.notCounted(p, path, now, fmt.Sprintf("%s was bound to %s earlier, unseen (its slot had moved when its dict grew); this write was to the %s at 0x%x it named before; watching the new one", f.onChange, rt.ShortDesc(nowRes.Addr), w.desc.Type, old))
		case wrote.Binding && werr == nil && wrote.Addr != binding:
			// The binding's old slot: its dict's table moved when it
			// grew, and the old table's memory was reused.
			return w.notCounted(p, path, now, fmt.Sprintf("a write to where %s was bound before its dict's table moved; watching the new slot", f.onChange))
		case wrote.Binding:
			hit.Change = fmt.Sprintf("%s bound again to the same %s", f.onChange, w.desc.Type)
		case w.kind == pyheap.KindList:
			hit.Change, hit.Resize = reports.DescribeListWrite(p, rt, w.obj, w.state, wrote.Addr)
			w.state, _ = reports.ReadListState(p, rt, w.obj)
		case werr != nil:
			hit.Change = fmt.Sprintf("%s cannot be read now: %s", f.onChange, firstLine(werr.Error()))
		default:
			hit.Change = "now " + reports.ValueText(rt, nowRes.Addr)
		}
		// The item array moved, or the name names another object: watch
		// the words that hold it now.
		if werr == nil && !sameAddrs(now, w.wps) && w.s.Rearm(watchAddrs(now)) == nil {
			w.wps = now
		}
		p.Close()
	}
	if hit.Thread != nil && len(hit.Thread.Frames) == 0 && len(hit.Thread.Errors) == 0 && end == nil {
		// A Python thread running no Python code: CPython itself. (One
		// whose frames could not be read is a hit: who wrote is not
		// known.)
		os.Remove(path)
		rep.InterpreterWrites = append(rep.InterpreterWrites, reports.InterpreterWrite{Wrote: hit.Wrote, Change: hit.Change, TID: tid})
		if !g.json {
			rep.WriteInterpreterWrite(stdout, len(rep.InterpreterWrites)-1)
		}
		return live.ErrNotCounted
	}
	rep.Hits = append(rep.Hits, hit)
	if !g.json {
		rep.WriteHit(stdout, len(rep.Hits)-1)
	}
	return end
}

// checkUnseenRebinding looks, once the watch timed out, whether the name
// names another object than the one watched: a rebinding made after its
// slot moved with its dict's table (new globals) has no breakpoint, and
// if the old object is kept alive and never written, nothing else says
// so. Warned, in text and JSON.
func (w *changeWatch) checkUnseenRebinding() {
	var p *coreread.Process
	var rt *pyheap.Runtime
	var err error
	if w.s.Attached() {
		p, rt, err = openSnapshot(w.g, w.s)
	} else {
		// Watch let the process go when it ended: a snapshot of its own.
		var mem *os.File
		if mem, _, err = live.SnapshotToMemory(w.s.PID, true); err == nil {
			p, rt, err = openCore(w.g, mem.Name())
			mem.Close()
		}
	}
	if err != nil {
		return
	}
	defer p.Close()
	addr, err := rt.Resolve(w.f.onChange)
	switch {
	case err != nil:
		w.warn(fmt.Sprintf("%s no longer names an object (%s): deleted or its holder replaced where no breakpoint was", w.f.onChange, firstLine(err.Error())))
	case addr != w.obj && (w.kind == pyheap.KindList || w.kind == pyheap.KindDict):
		w.warn(fmt.Sprintf("%s now names %s, not the %s at 0x%x watched: it was bound again where no breakpoint was (its slot moved when its dict grew); watch again to follow it", w.f.onChange, rt.ShortDesc(addr), w.desc.Type, w.obj))
	}
}

func (w *changeWatch) warn(s string) {
	w.rep.Warnings = append(w.rep.Warnings, s)
	warnAll(os.Stderr, []string{s})
}

// notCounted drops a hit's snapshot, watches now's words, and says why
// the write was no hit.
func (w *changeWatch) notCounted(p *coreread.Process, path string, now []pyheap.WatchPoint, why string) error {
	p.Close()
	os.Remove(path)
	if !sameAddrs(now, w.wps) && w.s.Rearm(watchAddrs(now)) == nil {
		w.wps = now
	}
	w.rep.MovedSlotWrites++
	if !w.g.json {
		fmt.Fprintf(stdout, "\n(not counted: %s)\n", why)
	}
	return live.ErrNotCounted
}

// bindingOf is the address of the binding among wps, 0 when none.
func bindingOf(wps []pyheap.WatchPoint) uint64 {
	for _, wp := range wps {
		if wp.Binding {
			return wp.Addr
		}
	}
	return 0
}

func sameAddrs(a, b []pyheap.WatchPoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Addr != b[i].Addr {
			return false
		}
	}
	return true
}

// kindOf is obj's kind, KindOther when its type cannot be read.
func kindOf(rt *pyheap.Runtime, obj uint64) pyheap.Kind {
	if t, err := rt.TypeOf(obj); err == nil {
		return t.Kind
	}
	return pyheap.KindOther
}

func watchAddrs(wps []pyheap.WatchPoint) []uint64 {
	var out []uint64
	for _, wp := range wps {
		out = append(out, wp.Addr)
	}
	return out
}

// firstLine is the first line of a message.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
