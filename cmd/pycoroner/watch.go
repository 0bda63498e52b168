package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/coreread/live"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/cond"
	"github.com/pycoroner/pycoroner/reports"
	"golang.org/x/sys/unix"
)

// watchFlags are the watch command's flags.
type watchFlags struct {
	onChange string
	until    string
	out      string
	count    int
	timeout  time.Duration
	interval time.Duration
	force    bool
}

func newWatchCmd(g *globalFlags) *cobra.Command {
	f := &watchFlags{}
	cmd := &cobra.Command{
		Use:   "watch (PID | -- PROGRAM [ARGS...]) (--on-change EXPR | --until CONDITION) -o DIR",
		Short: "Catch the line that changes an object (hardware data breakpoints), or snapshot when a condition holds",
		Long: `watch attaches to a running Python process and waits, without editing its code.

--on-change EXPR resolves EXPR (sys:path, app.settings:CONFIG, app:OBJ.attr;
app:OBJ@N in interpreter N, as refs --help says) to an object and sets
x86-64 hardware write breakpoints (perf events, on every thread and on
threads started later) on the words that change when it mutates: a list's
length, item array and first slot; a dict's length, table and version
tag; the slot that holds an attribute. A list or dict named by an
attribute (sys:path) has its binding watched too: when the name is bound
to another object, the hit says so and the watch follows the name;
deleting the name ends the watch. Other item slots than the first are not
watched (four debug registers). The process runs at full speed until a
thread writes one: that thread stops right after the writing instruction,
pycoroner writes a snapshot core into DIR and prints that thread's Python
stack (the culprit line is on top) and what the write did (a list's
resize is called a resize), then lets it go on and keeps watching until
--count hits or --timeout. A write made while the writing Python thread
runs no Python frame (CPython itself, setting sys.path[0] at start-up) is
said in one line but not counted, and no snapshot is kept. Killing
pycoroner, even with SIGKILL, leaves no breakpoint behind (docs/live.md).

--until CONDITION polls every --interval and snapshots when CONDITION
first holds: an expression over the live heap in Python's spelling
(docs/live.md): == != < > and or not, in, is None, len(), range(),
count("Class"), s.endswith("x") (or CEL's s.endsWith("x")), s.lower(),
indexes and slices s[-4:], b'..'. Polling may see the change after the
culprit returned: use --on-change to catch the writer itself. A name that
can never resolve (a malformed module:attr, a count() argument that is no
class name) is an error at once, and so is a condition whose values, once
read, cannot be combined as written (a list compared with a number: use
len()). A timeout exits 0: the report's held / timed_out say which. A
module:attr that names a different object in several subinterpreters is
read in the first (main first), with a warning on stderr naming each
(app:OBJ@N reads interpreter N's); so is --on-change's EXPR. A module not
imported yet, or a global or attribute not set yet, may be what you wait
for (--until '__main__:DONE == 1'): watch says so once on stderr
("waiting: __main__:DONE cannot be read yet ...") and polls on; so does a
count() of a class the process does not have (with the nearest class name
if it looks like a typo). If the first poll cannot snapshot the process or
read its Python runtime, that is an error at once.

Cores already in DIR from an earlier watch (until.core, hit-N.core) are not
overwritten: watch refuses at once unless --force is given.

With -- PROGRAM ARGS instead of a PID, watch starts the program itself and
stops it once the interpreter is initialised, before the script runs
(Py_RunMain), so changes made while the program imports its modules are
caught; it then waits for the program to end. A program that ends before
--until's condition held ends the watch as a timeout does (exit 0,
program_ended in the report).`,
		Example: `  pycoroner watch 12345 --on-change sys:path -o /tmp/who
  pycoroner watch 12345 --on-change app.settings:CONFIG --count 3 --timeout 10m -o /tmp/who
  pycoroner watch --on-change sys:path -o /tmp/who -- python app.py --port 8080
  pycoroner watch 12345 --until 'len(sys:path) > 7' -o /tmp/when
  pycoroner watch 12345 --until 'count("LeakyUser") > 10000' --interval 1s -o /tmp/when`,
		Args: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				if dash != 0 || len(args) == 0 {
					return usageError{fmt.Errorf("give a PID or -- PROGRAM [ARGS...], not both")}
				}
			} else {
				if len(args) != 1 {
					return usageError{fmt.Errorf("expected one PID argument (or -- PROGRAM [ARGS...]), got %d", len(args))}
				}
				if _, err := strconv.Atoi(args[0]); err != nil {
					return usageError{fmt.Errorf("PID %q is not a number", args[0])}
				}
			}
			if (f.onChange == "") == (f.until == "") {
				return usageError{fmt.Errorf("give exactly one of --on-change EXPR and --until CONDITION")}
			}
			if f.out == "" {
				return usageError{fmt.Errorf("missing -o DIR (where to write the snapshots)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := refuseEarlierWatch(f.out, f.until != "", f.count, f.force); err != nil {
				return err
			}
			if err := os.MkdirAll(f.out, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", f.out, err)
			}
			live.RemoveStalePartials(f.out)
			stop := make(chan os.Signal, 1)
			signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(stop)
			t := &watchTarget{}
			if cmd.ArgsLenAtDash() == 0 {
				t.argv = args
			} else {
				t.pid, _ = strconv.Atoi(args[0])
			}
			if f.until != "" {
				return runUntil(g, t, f, stop)
			}
			return runOnChange(g, t, f, stop)
		},
	}
	cmd.Flags().StringVar(&f.onChange, "on-change", "", "stop the thread that changes the object `EXPR`")
	cmd.Flags().StringVar(&f.until, "until", "", "snapshot when `CONDITION` first holds (polling)")
	cmd.Flags().StringVarP(&f.out, "output", "o", "", "write snapshots into `DIR`")
	cmd.Flags().IntVar(&f.count, "count", 1, "stop after `N` hits")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 0, "give up after this long (0: never)")
	cmd.Flags().DurationVar(&f.interval, "interval", 50*time.Millisecond, "with --until: how often to look")
	cmd.Flags().BoolVar(&f.force, "force", false, "overwrite the cores of an earlier watch in DIR")
	return cmd
}

// watchTarget is the process watched: a PID, or a program watch starts.
type watchTarget struct {
	pid     int
	argv    []string
	program *exec.Cmd
}

// pyStartSymbol is where a started program is stopped: the interpreter is
// initialised (sys.path set, site imported) and the script not yet run.
const pyStartSymbol = "Py_RunMain"

// attach attaches to the target paused, starting the program first when
// there is one. With --json the program's standard output goes to
// standard error, so that watch's own output stays one JSON document.
func (t *watchTarget) attach(json bool) (*live.Session, error) {
	if t.argv == nil {
		return live.Attach(t.pid, true)
	}
	progOut := os.Stdout
	if json {
		progOut = os.Stderr
	}
	s, cmd, err := live.StartAt(live.StartOptions{Argv: t.argv, Stdin: os.Stdin, Stdout: progOut, Stderr: os.Stderr, Symbol: pyStartSymbol})
	if errors.Is(err, live.ErrBreakpointsDoNotFire) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w (watch -- PROGRAM needs a CPython 3.8+ interpreter as PROGRAM, as in: watch ... -- python app.py)", err)
	}
	t.pid, t.program = s.PID, cmd
	return s, nil
}

// finish waits for a started program (the session must be detached) and
// says how it ended; exit is its status when the tracer collected it.
func (t *watchTarget) finish(exit *unix.WaitStatus) *reports.ProgramRun {
	if t.program == nil {
		return nil
	}
	run := &reports.ProgramRun{Argv: t.argv}
	err := t.program.Wait()
	if exit == nil && t.program.ProcessState == nil {
		// A poll's tracer reaped it (it is the program's parent too).
		if ws, ok := live.ExitStatus(t.pid); ok {
			exit = &ws
		}
	}
	if exit != nil {
		if exit.Signaled() {
			run.Signal = unix.SignalName(exit.Signal())
		} else {
			code := exit.ExitStatus()
			run.ExitStatus = &code
		}
		return run
	}
	if st := t.program.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			run.Signal = unix.SignalName(ws.Signal())
		} else if err == nil || st.Exited() {
			code := st.ExitCode()
			run.ExitStatus = &code
		}
	}
	return run
}

// openSnapshot copies the paused process into memory and opens it.
func openSnapshot(g *globalFlags, s *live.Session) (*coreread.Process, *pyheap.Runtime, error) {
	mem, _, err := s.WriteMemoryCore(false)
	if err != nil {
		return nil, nil, err
	}
	defer mem.Close()
	p, rt, err := openCore(g, mem.Name())
	if err != nil {
		return nil, nil, fmt.Errorf("pid %d: %w", s.PID, err)
	}
	return p, rt, nil
}

// openCore opens a core and its Python runtime: the one place watch
// chooses the reader's options.
func openCore(g *globalFlags, path string) (*coreread.Process, *pyheap.Runtime, error) {
	p, err := coreread.Open(path, coreread.Options{Sysroot: g.sysroot, Exe: g.exe})
	if err != nil {
		return nil, nil, err
	}
	rt, err := pyheap.Open(p, g.runtimeOptions())
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return p, rt, nil
}

// programGone reports whether a poll failed because the process pid
// ended: its error says so, or the process is a zombie or gone now.
func programGone(pid int, err error) bool {
	return errors.Is(err, live.ErrNoProcess) || errors.Is(err, live.ErrExited) || strings.Contains(err.Error(), "exited") || live.Exited(pid)
}

// culpritThread is the stack of the thread that wrote, from the hit's
// snapshot.
func culpritThread(g *globalFlags, rt *pyheap.Runtime, tid int) *reports.Thread {
	st, _ := reports.BuildStacks(rt, reports.StacksOptions{Locals: true, Source: &reports.SourceCache{Sysroot: g.sysroot}})
	if st == nil {
		return nil
	}
	for i := range st.Threads {
		if n := st.Threads[i].NativeThreadID; n != nil && *n == tid {
			return &st.Threads[i]
		}
	}
	return nil
}

func runUntil(g *globalFlags, t *watchTarget, f *watchFlags, stop chan os.Signal) error {
	c, err := cond.Compile(f.until)
	if err != nil {
		return usageError{err}
	}
	if t.argv != nil {
		// Started and stopped before the script runs; each poll attaches
		// on its own.
		s, err := t.attach(g.json)
		if err != nil {
			return err
		}
		s.Detach()
	}
	pid := t.pid
	rep := &reports.UntilReport{PID: pid, Condition: f.until, Values: map[string]string{}, Warnings: []string{}, Timeout: f.timeout, Interval: f.interval}
	start := time.Now()
	var lastRead map[string]string // the values of the last poll that read every name
	notes := noteOnce{}
	warns := &ambiguities{}
	if !g.json {
		rep.WriteHeader(stdout)
	} else {
		fmt.Fprintln(os.Stderr, "watching")
	}
	for {
		select {
		case sig := <-stop:
			return fmt.Errorf("stopped by %s after %d polls", live.SignalName(sig), rep.Polls)
		default:
		}
		if f.timeout > 0 && time.Since(start) > f.timeout {
			break
		}
		rep.Polls++
		held, mem, evalErr, err := pollOnce(g, pid, c)
		if err != nil && t.program != nil && programGone(pid, err) {
			// The program watch started ended (or is ending: a poll
			// during its finalisation finds sys.modules cleared): the
			// watch is over, as with a timeout.
			rep.ProgramEnded = true // last_error stays the last evaluation's
			break
		}
		if err != nil {
			// A process that cannot be snapshotted or read as Python at
			// the first poll never will be: say so rather than poll on.
			if rep.Polls == 1 || errors.Is(err, live.ErrNoProcess) || errors.Is(err, live.ErrExited) || strings.Contains(err.Error(), "exited") {
				return err
			}
			rep.LastError = err.Error()
			notes.say(fmt.Sprintf("poll %d failed: %v; polling on", rep.Polls, err))
		}
		if err == nil && evalErr == nil {
			lastRead = c.Values
		}
		if evalErr != nil {
			var te *cond.TypeError
			if errors.As(evalErr, &te) {
				return te // the condition as written can never hold
			}
			rep.LastError = evalErr.Error()
			notes.say(untilNote(evalErr))
		}
		for _, n := range c.Notes {
			notes.say("note: " + n)
		}
		warns.add(c.Warnings)
		rep.Warnings = warns.lines()
		if held {
			rep.Held, rep.Values = true, c.Values
			rep.Core = filepath.Join(f.out, untilCore)
			err := saveMemoryCore(mem, rep.Core, f.force)
			mem.Close()
			if err != nil {
				return err
			}
			rep.Stacks = stacksOf(g, rep.Core, false)
			break
		}
		time.Sleep(f.interval)
	}
	rep.ElapsedMS = time.Since(start).Milliseconds()
	if !rep.Held && lastRead != nil {
		// What the condition last read, when it could read it all: why it
		// never held. A program's last polls find its interpreter
		// finalising (sys.modules cleared): not the program's last error.
		rep.Values = lastRead
		if rep.ProgramEnded {
			rep.LastError = ""
		}
	}
	rep.Program = t.finish(nil)
	if g.json {
		return reports.WriteJSON(stdout, rep)
	}
	return rep.WriteText(stdout)
}

// pollOnce snapshots the process into memory and evaluates the condition;
// the in-memory core is returned open when the condition held. evalErr is
// the condition's (a name not there yet, a value of another type), err
// the snapshot's.
func pollOnce(g *globalFlags, pid int, c *cond.Condition) (held bool, mem *os.File, evalErr, err error) {
	mem, _, err = live.SnapshotToMemory(pid, true)
	if err != nil {
		return false, nil, nil, err
	}
	p, rt, err := openCore(g, mem.Name())
	if err != nil {
		mem.Close()
		return false, nil, nil, err
	}
	defer p.Close()
	held, evalErr = c.Eval(rt)
	if !held {
		mem.Close()
		return false, nil, evalErr, nil
	}
	return true, mem, nil, nil
}

// untilNote is the line said when the condition could not be evaluated.
// Polling goes on: a module imported later, a global set when the work is
// done, a value that is None until it becomes a list, may be exactly what
// is waited for; the note makes a typo visible instead of a silent wait.
func untilNote(err error) string {
	var ny *cond.NotYet
	if errors.As(err, &ny) {
		return fmt.Sprintf("waiting: %s cannot be read yet (%s); polling on: check the name if it never appears", ny.Name, ny.Why)
	}
	return fmt.Sprintf("waiting: %v; polling on", err)
}

// noteOnce prints each distinct note once on standard error (with --json
// too: standard output stays the one report).
type noteOnce map[string]bool

func (n noteOnce) say(s string) {
	if !n[s] {
		n[s] = true
		fmt.Fprintln(os.Stderr, s)
	}
}

// ambiguities are the names of an --until condition that gave a different
// object in several interpreters, in the order first seen, each with its
// latest warning; each is said once on stderr, when first seen (with
// --json too: stdout stays the one report).
type ambiguities struct {
	order []string
	last  map[string]string
}

// add takes one evaluation's warnings (by expression) and says the new
// ones.
func (a *ambiguities) add(ws map[string]string) {
	exprs := make([]string, 0, len(ws))
	for e := range ws {
		exprs = append(exprs, e)
	}
	sort.Strings(exprs)
	if a.last == nil {
		a.last = map[string]string{}
	}
	for _, e := range exprs {
		if _, seen := a.last[e]; !seen {
			a.order = append(a.order, e)
			warnAll(os.Stderr, []string{ws[e]})
		}
		a.last[e] = ws[e]
	}
}

// lines are the warnings, one per name ([] when none).
func (a *ambiguities) lines() []string {
	out := []string{}
	for _, e := range a.order {
		out = append(out, a.last[e])
	}
	return out
}

// saveMemoryCore copies an in-memory core to path (temp file, renamed;
// an existing file is replaced only with overwrite).
func saveMemoryCore(mem *os.File, path string, overwrite bool) error {
	tmp, err := live.CreatePartial(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, io.NewSectionReader(mem, 0, 1<<62))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = live.Install(tmp.Name(), path, overwrite)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return existsHint(path, fmt.Errorf("write %s: %w", path, err))
	}
	return nil
}

// stacksOf reads the stacks of a snapshot core, or nil.
func stacksOf(g *globalFlags, core string, locals bool) *reports.Stacks {
	p, rt, err := openCore(g, core)
	if err != nil {
		return nil
	}
	defer p.Close()
	st, _ := reports.BuildStacks(rt, reports.StacksOptions{Locals: locals, Source: &reports.SourceCache{Sysroot: g.sysroot}})
	return st
}
