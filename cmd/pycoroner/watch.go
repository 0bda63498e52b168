package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
)

// watchFlags are the watch command's flags.
type watchFlags struct {
	onChange string
	until    string
	out      string
	count    int
	timeout  time.Duration
	interval time.Duration
}

func newWatchCmd(g *globalFlags) *cobra.Command {
	f := &watchFlags{}
	cmd := &cobra.Command{
		Use:   "watch PID (--on-change EXPR | --until CONDITION) -o DIR",
		Short: "Catch the line that changes an object (hardware data breakpoints), or snapshot when a condition holds",
		Long: `watch attaches to a running Python process and waits, without editing its code.

--on-change EXPR resolves EXPR (sys:path, app.settings:CONFIG, app:OBJ.attr) to
an object and sets x86-64 hardware watchpoints (debug registers, on every
thread and on threads started later) on the words that change when it
mutates: a list's length, item array and first slot; a dict's length, table
and version tag; the slot that holds an attribute. The process runs at full
speed until a thread writes one: that thread stops at the writing
instruction, pycoroner writes a snapshot core into DIR and prints that
thread's Python stack (the culprit line is on top), then lets it go on and
keeps watching until --count hits or --timeout.

--until CONDITION polls every --interval and snapshots when CONDITION (a CEL
expression over the live heap) first holds. Polling may see the change after
the culprit returned: use --on-change to catch the writer itself.`,
		Example: `  pycoroner watch 12345 --on-change sys:path -o /tmp/who
  pycoroner watch 12345 --on-change app.settings:CONFIG --count 3 --timeout 10m -o /tmp/who
  pycoroner watch 12345 --until 'len(sys:path) > 7' -o /tmp/when
  pycoroner watch 12345 --until 'count("LeakyUser") > 10000' --interval 1s -o /tmp/when`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("expected one PID argument, got %d", len(args))}
			}
			if _, err := strconv.Atoi(args[0]); err != nil {
				return usageError{fmt.Errorf("PID %q is not a number", args[0])}
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
			pid, _ := strconv.Atoi(args[0])
			if err := os.MkdirAll(f.out, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", f.out, err)
			}
			stop := make(chan os.Signal, 1)
			signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(stop)
			if f.until != "" {
				return runUntil(g, pid, f, stop)
			}
			return runOnChange(g, pid, f, stop)
		},
	}
	cmd.Flags().StringVar(&f.onChange, "on-change", "", "stop the thread that changes the object `EXPR`")
	cmd.Flags().StringVar(&f.until, "until", "", "snapshot when `CONDITION` first holds (polling)")
	cmd.Flags().StringVarP(&f.out, "output", "o", "", "write snapshots into `DIR`")
	cmd.Flags().IntVar(&f.count, "count", 1, "stop after `N` hits")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 0, "give up after this long (0: never)")
	cmd.Flags().DurationVar(&f.interval, "interval", 50*time.Millisecond, "with --until: how often to look")
	return cmd
}

// WatchReport is the JSON of `watch --on-change`.
type WatchReport struct {
	PID         int           `json:"pid"`
	Expr        string        `json:"expr"`
	Object      reports.Value `json:"object"`
	Watchpoints []WatchPoint  `json:"watchpoints"`
	Hits        []WatchHit    `json:"hits"`
	TimedOut    bool          `json:"timed_out"`
}

// WatchPoint is one armed debug register.
type WatchPoint struct {
	Address string `json:"address"`
	What    string `json:"what"`
}

// WatchHit is one write caught.
type WatchHit struct {
	Core   string          `json:"core"`
	Wrote  string          `json:"wrote"`
	Thread *reports.Thread `json:"thread"`
}

func runOnChange(g *globalFlags, pid int, f *watchFlags, stop chan os.Signal) error {
	s, err := live.Attach(pid, true)
	if err != nil {
		return err
	}
	defer s.Detach()
	mem, _, err := s.WriteMemoryCore(false)
	if err != nil {
		return err
	}
	p, err := coreread.Open(mem.Name(), coreread.Options{Sysroot: g.sysroot, Exe: g.exe})
	mem.Close()
	if err != nil {
		return err
	}
	rt, err := pyheap.Open(p, pyheap.Options{NoDWARF: g.noDWARF})
	if err != nil {
		p.Close()
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	obj, wps, err := rt.WatchPoints(f.onChange)
	desc := rt.Describe(obj)
	p.Close()
	if err != nil {
		var ee *pyheap.ExprError
		if errors.As(err, &ee) {
			return usageError{err}
		}
		return err
	}
	rep := &WatchReport{PID: pid, Expr: f.onChange, Object: reports.ValueOf(desc), Hits: []WatchHit{}}
	var addrs []uint64
	for _, wp := range wps {
		addrs = append(addrs, wp.Addr)
		rep.Watchpoints = append(rep.Watchpoints, WatchPoint{fmt.Sprintf("0x%x", wp.Addr), wp.What})
	}
	onHit := func(tid, which int) error {
		path := filepath.Join(f.out, fmt.Sprintf("hit-%d.core", len(rep.Hits)+1))
		if _, err := s.WriteCoreFile(path, nil, false); err != nil {
			return err
		}
		hit := WatchHit{Core: path, Wrote: wps[which].What, Thread: culpritThread(g, path, tid)}
		rep.Hits = append(rep.Hits, hit)
		if !g.json {
			printHit(len(rep.Hits), tid, hit)
		}
		return nil
	}
	ready := func() {
		if !g.json {
			fmt.Fprintf(stdout, "watching %s (%s at %s) in pid %d with %d hardware watchpoint(s); waiting for a write...\n",
				f.onChange, desc.Type, rep.Object.Address, pid, len(addrs))
			for _, wp := range rep.Watchpoints {
				fmt.Fprintf(stdout, "  %s: %s\n", wp.Address, wp.What)
			}
		} else {
			fmt.Fprintln(os.Stderr, "watching")
		}
	}
	_, err = s.Watch(live.WatchOptions{Addrs: addrs, Count: f.count, Timeout: f.timeout, OnHit: onHit, Stop: stop, Ready: ready})
	if errors.Is(err, live.ErrTimeout) {
		rep.TimedOut, err = true, nil
		if !g.json {
			fmt.Fprintf(stdout, "timed out after %v with %d hit(s)\n", f.timeout, len(rep.Hits))
		}
	}
	if g.json {
		if werr := reports.WriteJSON(stdout, rep); werr != nil {
			return werr
		}
	}
	return err
}

// culpritThread reads the snapshot and returns the thread that wrote.
func culpritThread(g *globalFlags, core string, tid int) *reports.Thread {
	st := stacksOf(g, core, true)
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

func printHit(n, tid int, hit WatchHit) {
	fmt.Fprintf(stdout, "\nhit %d: native thread %d wrote %s; snapshot %s\n", n, tid, hit.Wrote, hit.Core)
	if hit.Thread == nil {
		fmt.Fprintln(stdout, "  (the writing thread runs no Python code)")
		return
	}
	one := &reports.Stacks{Threads: []reports.Thread{*hit.Thread}}
	one.WriteThreads(stdout)
}

// UntilReport is the JSON of `watch --until`.
type UntilReport struct {
	PID       int               `json:"pid"`
	Condition string            `json:"condition"`
	Held      bool              `json:"held"`
	Polls     int               `json:"polls"`
	ElapsedMS int64             `json:"elapsed_ms"`
	Core      string            `json:"core,omitempty"`
	Values    map[string]string `json:"values"`
	LastError string            `json:"last_error,omitempty"`
	Stacks    *reports.Stacks   `json:"stacks,omitempty"`
}

func runUntil(g *globalFlags, pid int, f *watchFlags, stop chan os.Signal) error {
	c, err := cond.Compile(f.until)
	if err != nil {
		return usageError{err}
	}
	rep := &UntilReport{PID: pid, Condition: f.until, Values: map[string]string{}}
	start := time.Now()
	if !g.json {
		fmt.Fprintf(stdout, "polling pid %d every %v until %s (a change may be seen after the code that made it returned; --on-change catches the writer)\n", pid, f.interval, f.until)
	} else {
		fmt.Fprintln(os.Stderr, "watching")
	}
	for {
		select {
		case sig := <-stop:
			return fmt.Errorf("stopped by %v after %d polls", sig, rep.Polls)
		default:
		}
		if f.timeout > 0 && time.Since(start) > f.timeout {
			break
		}
		rep.Polls++
		held, mem, err := pollOnce(g, pid, c)
		if err != nil {
			if errors.Is(err, live.ErrNoProcess) || strings.Contains(err.Error(), "exited") {
				return err
			}
			rep.LastError = err.Error()
		}
		if held {
			rep.Held, rep.Values = true, c.Values
			rep.Core = filepath.Join(f.out, "until.core")
			err := saveMemoryCore(mem, rep.Core)
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
	if g.json {
		return reports.WriteJSON(stdout, rep)
	}
	if !rep.Held {
		fmt.Fprintf(stdout, "timed out after %v and %d polls: the condition never held", f.timeout, rep.Polls)
		if rep.LastError != "" {
			fmt.Fprintf(stdout, " (last error: %s)", rep.LastError)
		}
		fmt.Fprintln(stdout)
		return nil
	}
	fmt.Fprintf(stdout, "the condition held after %d polls (%v); snapshot %s\n", rep.Polls, time.Duration(rep.ElapsedMS)*time.Millisecond, rep.Core)
	for k, v := range rep.Values {
		fmt.Fprintf(stdout, "  %s = %s\n", k, v)
	}
	if rep.Stacks != nil {
		rep.Stacks.WriteThreads(stdout)
	}
	return nil
}

// pollOnce snapshots the process into memory and evaluates the condition;
// the in-memory core is returned open when the condition held.
func pollOnce(g *globalFlags, pid int, c *cond.Condition) (bool, *os.File, error) {
	mem, _, err := live.SnapshotToMemory(pid, true)
	if err != nil {
		return false, nil, err
	}
	p, err := coreread.Open(mem.Name(), coreread.Options{Sysroot: g.sysroot, Exe: g.exe})
	if err != nil {
		mem.Close()
		return false, nil, err
	}
	defer p.Close()
	rt, err := pyheap.Open(p, pyheap.Options{NoDWARF: g.noDWARF})
	if err != nil {
		mem.Close()
		return false, nil, err
	}
	held, err := c.Eval(rt)
	if !held {
		mem.Close()
		return false, nil, err
	}
	return true, mem, nil
}

// saveMemoryCore copies an in-memory core to path (temp file, renamed).
func saveMemoryCore(mem *os.File, path string) error {
	tmp, err := live.CreatePartial(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, io.NewSectionReader(mem, 0, 1<<62))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// stacksOf reads the stacks of a snapshot core, or nil.
func stacksOf(g *globalFlags, core string, locals bool) *reports.Stacks {
	p, err := coreread.Open(core, coreread.Options{Sysroot: g.sysroot, Exe: g.exe})
	if err != nil {
		return nil
	}
	defer p.Close()
	rt, err := pyheap.Open(p, pyheap.Options{NoDWARF: g.noDWARF})
	if err != nil {
		return nil
	}
	st, _ := reports.BuildStacks(rt, reports.StacksOptions{Locals: locals, Source: &reports.SourceCache{Sysroot: g.sysroot}})
	return st
}
