package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/coreread/live"
	"github.com/pycoroner/pycoroner/indexfile"
	"github.com/pycoroner/pycoroner/internal/hugeheap"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/reports"
)

// globalFlags are shared by every command.
type globalFlags struct {
	sysroot string
	exe     string
	json    bool
	noDWARF bool
	noIndex bool
	// maxDecompressed caps a compressed core's decompressed size.
	maxDecompressed string
	// keepStartupGC: openThen leaves the raised GC target (openHeapFor
	// decides once it knows whether the census is restored).
	keepStartupGC bool
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "pycoroner",
		Short: "Post-mortem forensics for CPython core dumps",
		Long: `pycoroner reads a core dump of a CPython process (3.8 to 3.15, stripped
builds too) and tells, offline, what every thread was doing.

The files behind the core (the python executable, libpython) are read from
this host, or from --sysroot when the core came from another machine.`,
		Example: `  pycoroner info core.12345
  pycoroner stacks --locals core.12345
  pycoroner stacks --json core.12345 | jq '.threads[].frames[0]'
  pycoroner stacks --sysroot /srv/prod-root --exe /usr/bin/python3.11 core.12345`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.sysroot, "sysroot", "", "look up the files the core names under `DIR` (cores from another host)")
	pf.StringVar(&g.exe, "exe", "", "use `PATH` as the main executable instead of the one the core names")
	pf.BoolVar(&g.json, "json", false, "print JSON instead of text (shapes in docs/json.md)")
	pf.StringVar(&g.maxDecompressed, "max-decompressed", "", "decompress a compressed core up to `SIZE` (8G, 500M; default 1000 times its compressed size, at least 1G)")
	pf.BoolVar(&g.noDWARF, "no-dwarf", false, "use the committed layout tables even when the binary has DWARF")
	pf.BoolVar(&g.noIndex, "no-index", false, "use no saved index and save none: heap commands take the census (histogram counts without keeping it), stacks --native and info inflate compressed debug files again (see pycoroner cache --help)")
	pf.IntVar(&liveTarget.pid, "pid", 0, "analyse the running process `PID` instead of a core (paused while it is copied; see docs/live.md)")
	pf.BoolVar(&liveTarget.nonblocking, "nonblocking", false, "with --pid: read without pausing the process (faster, may be inconsistent)")
	root.AddCommand(newInfoCmd(g), newStacksCmd(g))
	root.AddCommand(newHistogramCmd(g), newRefsCmd(g), newPathCmd(g), newShowCmd(g), newGrepCmd(g), newModulesCmd(g), newSysPathCmd(g))
	root.AddCommand(newSnapshotCmd(g), newWatchCmd(g))
	root.AddCommand(newIndexCmd(g), newCacheCmd(g))

	root.AddCommand(newRetainedCmd(g), newTopCmd(g), newLeaksCmd(g), newDiffCmd(g), newInstancesCmd(g))
	return root
}

// liveTarget is set by --pid: commands then read a running process.
var liveTarget struct {
	pid         int
	nonblocking bool
}

// coreArg is the CORE argument, or "" when --pid names a process instead.
func coreArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// oneCore checks that a command got exactly one core file argument (or
// none, with --pid).
func oneCore(cmd *cobra.Command, args []string) error {
	if err := checkPIDFlag(cmd); err != nil {
		return err
	}
	if liveTarget.pid != 0 {
		if len(args) != 0 {
			return usageError{fmt.Errorf("give either --pid or a CORE argument, not both")}
		}
		return nil
	}
	if liveTarget.nonblocking {
		return usageError{fmt.Errorf("--nonblocking needs --pid")}
	}
	switch len(args) {
	case 1:
		return nil
	case 0:
		return usageError{fmt.Errorf("missing CORE argument (the core file to read)")}
	}
	return usageError{fmt.Errorf("expected one CORE argument, got %d", len(args))}
}

// session is an opened core and, when found, its Python runtime.
type session struct {
	proc *coreread.Process
	rt   *pyheap.Runtime
}

func (g *globalFlags) open(path string, needPython bool) (*session, error) {
	return g.openThen(path, needPython, nil)
}

// openThen is open, calling opened (when not nil) once the core is open,
// before its runtime is looked for.
func (g *globalFlags) openThen(path string, needPython bool, opened func(*coreread.Process)) (*session, error) {
	// Opening a core allocates a few MB (startupGC); what a command does
	// with it may scale with the core.
	defer func() {
		if !g.keepStartupGC {
			normalGC()
		}
	}()
	var mem *os.File
	var liveWarnings []string
	name := path // what errors call the input
	if liveTarget.pid != 0 {
		name = livePIDName(liveTarget.pid)
		f, st, err := live.SnapshotToMemory(liveTarget.pid, !liveTarget.nonblocking)
		if err != nil {
			return nil, err
		}
		mem, path = f, f.Name()
		if liveTarget.nonblocking {
			liveWarnings = append(liveWarnings, fmt.Sprintf("pid %d was read while it ran (--nonblocking): the answers may be inconsistent", liveTarget.pid))
		} else if st.Pause > 0 {
			liveWarnings = append(liveWarnings, fmt.Sprintf("pid %d was paused for %v while its memory was copied", liveTarget.pid, st.Pause.Round(time.Millisecond)))
		}
	}
	opts, err := g.coreOptions()
	if err != nil {
		return nil, err
	}
	// SIGINT or SIGTERM during a decompression removes its temporary file.
	interrupted, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	opts.Decompress.Interrupt = interrupted.Done()
	p, err := coreread.Open(path, opts)
	signalled := interrupted.Err() != nil // before stop, which cancels it too
	stop()
	if err == nil && signalled {
		p.Close()
		err = fmt.Errorf("interrupted")
	}
	if mem != nil {
		mem.Close() // coreread holds its own mapping of it
	}
	if err != nil {
		return nil, err
	}
	p.AddWarnings(liveWarnings...)
	s := &session{proc: p}
	if opened != nil {
		opened(p)
	}
	rt, err := pyheap.Open(p, g.runtimeOptions())
	if err != nil {
		if needPython {
			// A file of another build (--exe, --sysroot) is the likeliest
			// cause: say so in the error, which is all that is printed.
			for _, w := range p.Warnings() {
				if strings.Contains(w, "different build") {
					err = fmt.Errorf("%s; then %w", w, err) // what to act on first
				}
			}
			have, want := p.Sizes()
			p.Close()
			if p.Truncated() {
				// What the user can act on first; the search's details
				// (a long line) after.
				return nil, fmt.Errorf("%s: the core file is truncated (%d of %d bytes), and the interpreter state may be among the lost data; %w", name, have, want, err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return s, nil
	}
	s.rt = rt
	return s, nil
}

func (s *session) close() { s.proc.Close() }

// livePIDName names a process for messages: "pid 123 (sleep)", its
// command as the kernel knows it.
func livePIDName(pid int) string {
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		return fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm)))
	}
	return fmt.Sprintf("pid %d", pid)
}

// warnings is what the core reader and the runtime noticed and worked
// around (a missing file, a layout from DWARF that was not used, ...).
func (s *session) warnings() []string {
	out := append([]string(nil), s.proc.Warnings()...)
	if s.rt != nil {
		out = append(out, s.rt.Warnings()...)
	}
	return out
}

// warn prints warnings to stderr for text output.
func warnAll(w io.Writer, msgs []string) {
	for _, m := range msgs {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
}

var stdout io.Writer = os.Stdout

// coreAnd checks for a CORE argument followed by one argument named what
// (with --pid, that argument alone).
func coreAnd(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := checkPIDFlag(cmd); err != nil {
			return err
		}
		if liveTarget.pid != 0 {
			if len(args) != 1 {
				return usageError{fmt.Errorf("with --pid, give %s alone (no CORE)", what)}
			}
			return nil
		}
		if liveTarget.nonblocking {
			return usageError{fmt.Errorf("--nonblocking needs --pid")}
		}
		switch len(args) {
		case 2:
			return swappedArgs(cmd, args, what)
		case 0:
			return usageError{fmt.Errorf("missing CORE and %s arguments", what)}
		case 1:
			return usageError{fmt.Errorf("missing %s argument after CORE", what)}
		}
		return usageError{fmt.Errorf("expected CORE and %s, got %d arguments", what, len(args))}
	}
}

// swappedArgs catches `show 0x7f… core.123`, `grep REGEX core.123`: the
// core given last. Said as such, it is a usage error that shows the right order,
// instead of a core that is no file and an object expression that is a path.
func swappedArgs(cmd *cobra.Command, args []string, what string) error {
	if st, err := os.Stat(args[1]); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	if !coreread.LooksLikeCore(args[1]) {
		// A misspelt core before a REGEX that names a file: opening
		// the first says it is no file.
		return nil
	}
	if _, err := os.Stat(args[0]); err == nil {
		return nil // both are files: let the reading say what the first is
	}
	if _, err := pyheap.ParseExpr(args[1]); err == nil && what == "ADDR" {
		return nil // a file named like an expression (sys:path)
	}
	return usageError{fmt.Errorf("the core comes first, then the %s: pycoroner %s %s %s", what, cmd.Name(), args[1], args[0])}
}

// extent is the bytes an object spans from its address: tp_basicsize for
// a fixed-size object (a list's items, a dict's table are elsewhere),
// else its size as sys.getsizeof gives it less the GC header before it.
func (hs *heapSession) extent(id pyheap.ObjectID) uint64 {
	t, L := hs.h.Type(id), hs.rt.L
	if t.Itemsize == 0 {
		return uint64(max(t.Basicsize, 0))
	}
	size := hs.h.Size(id)
	if L.GCHeadSize > 0 && L.TPFlagsHaveGC.In(t.Flags) {
		size -= L.GCHeadSize
	}
	return uint64(max(size, 0))
}

// checkPIDFlag refuses a --pid that names no process: 0 (which would read
// as "no --pid") or below.
func checkPIDFlag(cmd *cobra.Command) error {
	if f := cmd.Flags().Lookup("pid"); f != nil && f.Changed && liveTarget.pid <= 0 {
		return usageError{fmt.Errorf("--pid %d: want a process id above 0", liveTarget.pid)}
	}
	return nil
}

// coreAndArg splits what coreAnd accepted: the core ("" with --pid) and
// the other argument.
func coreAndArg(args []string) (core, arg string) {
	if len(args) == 1 {
		return "", args[0]
	}
	return args[0], args[1]
}

// parseTarget checks an ADDR argument's syntax before anything is read.
func parseTarget(arg string) (pyheap.Expr, error) {
	e, err := pyheap.ParseExpr(arg)
	if err != nil {
		return e, usageError{err}
	}
	return e, nil
}

// heapSession is an opened core with its heap census.
type heapSession struct {
	*session
	h     *pyheap.Heap
	index *indexfile.Index // the saved index h was restored from, mapped until close
	// cache and key: where h's index is saved (nil cache: no saved index)
	cache    *indexfile.Cache
	key      indexfile.Key
	extra    []*indexfile.Index // other saved indexes mapped until close (a dominator tree)
	warnings []string
}

// openHeap opens a core and takes its heap census.
// openTarget opens the heap of the CORE argument (or --pid) and finds the
// object that the ADDR argument names. The caller closes the session.
// parts are the parts of a saved census the command uses (openHeapFor).
func (g *globalFlags) openTarget(args []string, parts pyheap.SavedParts) (*heapSession, pyheap.ObjectID, error) {
	core, arg := coreAndArg(args)
	e, err := parseTarget(arg)
	if err != nil {
		return nil, 0, err
	}
	hs, err := g.openHeapFor(core, parts)
	if err != nil {
		return nil, 0, err
	}
	id, err := hs.target(e, arg)
	if err != nil {
		hs.close()
		return nil, 0, err
	}
	return hs, id, nil
}

func (g *globalFlags) openHeap(path string) (*heapSession, error) {
	return g.openHeapFor(path, pyheap.SavedAll)
}

// openHeapFor is openHeap for a command that uses only some parts of a
// saved census: the others are not read (nor checked) unless used.
func (g *globalFlags) openHeapFor(path string, parts pyheap.SavedParts) (*heapSession, error) {
	var ahead *indexLoad
	g.keepStartupGC = true
	defer func() { g.keepStartupGC = false }()
	s, err := g.openThen(path, true, func(p *coreread.Process) {
		// The heap opening the core grew to is advised before the
		// runtime's discovery and the index fill it (hugeheap).
		hugeheap.Advise()
		ahead = g.loadIndexAhead(p, parts)
	})
	if err != nil {
		if ahead != nil {
			if l := ahead.wait(); l.x != nil {
				l.x.Close()
			}
		}
		return nil, err
	}
	hs := &heapSession{session: s}
	indexWarnings, err := g.heapOf(hs, path, parts, ahead.wait())
	if err != nil {
		s.close()
		return nil, fmt.Errorf("%s: heap census: %w", path, err)
	}
	hs.warnings = append(append(s.warnings(), reports.CensusWarnings(hs.h.Stats)...), indexWarnings...)
	// A census taken here ran at the default target (heapOptions). A
	// restored one keeps the raised target for the command's own work:
	// the first collection of a process costs ~160 page faults (~5 ms
	// here), and a warm command's Go heap is small (2-12 MB on the
	// 2.8 M-object core, 2-84 MB on the 21 M-object one, where its peak
	// RSS was the same either way, measured).
	if hs.index == nil {
		normalGC()
	}
	// The heap is advised again before the command's own work.
	hugeheap.Advise()
	return hs, nil
}

// answer prints a heap command's answer: with --json inside the envelope
// that carries the census and every warning (docs/json.md), and in both
// forms the warnings on stderr after it (an error stays the only line).
// more are the command's own warnings.
func (hs *heapSession) answer(g *globalFlags, a reports.Answer, more ...string) error {
	return hs.answerWith(g, a, nil, more...)
}

// answerWith is answer with a second census the answer also rests on
// (diff's older core).
func (hs *heapSession) answerWith(g *globalFlags, a reports.Answer, old *reports.CensusFacts, more ...string) error {
	warns := append(append([]string(nil), hs.warnings...), more...)
	if err := g.emit(reports.Envelop(a, warns, false, reports.CensusFactsOf(hs.h.Stats), old)); err != nil {
		return err
	}
	warnAll(os.Stderr, warns)
	return nil
}

// heapTarget resolves an ADDR argument to an object of the census. A
// module:attr name that gives different objects in several interpreters
// is answered with the first's, and a warning that names each (added to
// the session's, so that the answer carries it, in JSON too).
func (hs *heapSession) target(e pyheap.Expr, arg string) (pyheap.ObjectID, error) {
	res, err := hs.rt.ResolveAll(e)
	if err != nil {
		return -1, fmt.Errorf("resolve %s: %w", arg, err)
	}
	if w := res.AmbiguityWarning(arg); w != "" {
		hs.warnings = append(hs.warnings, w)
	}
	addr := res.Addr
	id, ok := hs.h.Find(addr)
	if !ok {
		what := fmt.Sprintf("0x%x", addr)
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(arg)), "0x") {
			what = fmt.Sprintf("%s (0x%x)", arg, addr)
		}
		if c, ok := hs.h.Containing(addr, hs.extent); ok {
			return -1, fmt.Errorf("%s is not an object's address: it lies %d bytes into <%s at 0x%x>, an object of the census (give that address to ask about it)",
				what, addr-hs.h.Addr(c), hs.h.Type(c).ShortName(), hs.h.Addr(c))
		}
		return -1, fmt.Errorf("%s is not an object of the heap census (not a live object, or nothing reachable refers to it)", what)
	}
	return id, nil
}
