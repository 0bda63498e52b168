package reports

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap"
)

// WatchReport is the answer of `watch --on-change`: the object, the words
// watched, and every write caught.
type WatchReport struct {
	PID         int          `json:"pid"`
	Expr        string       `json:"expr"`
	Object      Value        `json:"object"`
	Watchpoints []WatchPoint `json:"watchpoints"`
	Hits        []WatchHit   `json:"hits"`
	// InterpreterWrites are the writes made while the writing thread ran
	// no Python frame (a Python thread: CPython itself, inserting the
	// script's directory into sys.path at start-up, or clearing modules at
	// exit): no line of Python made them, so they are not counted as hits
	// nor kept as snapshots; listed here so that none goes unsaid (always
	// present, [] when none).
	InterpreterWrites []InterpreterWrite `json:"interpreter_writes"`
	// MovedSlotWrites counts writes to where the watched name was bound
	// before its dict's table moved (the old table's memory reused): not
	// hits, no snapshot kept.
	MovedSlotWrites int  `json:"moved_slot_writes"`
	TimedOut        bool `json:"timed_out"`
	// Warnings are what watch warned about on stderr: EXPR naming a
	// different object in several interpreters (always present, [] when
	// none).
	Warnings []string `json:"warnings"`
	// Program is the program watch started (watch -- PROGRAM ARGS).
	Program *ProgramRun `json:"program,omitempty"`
	// Timeout is the --timeout that ended the watch (text output only).
	Timeout time.Duration `json:"-"`
}

// ProgramRun is a program that watch started and waited for.
type ProgramRun struct {
	Argv []string `json:"argv"`
	// ExitStatus is the program's exit status, null when it was killed by
	// a signal (Signal) or when it ended while watched (its status was
	// collected by the tracer).
	ExitStatus *int   `json:"exit_status"`
	Signal     string `json:"signal,omitempty"`
}

// WriteText prints how the program ended.
func (p *ProgramRun) WriteText(w io.Writer) {
	switch {
	case p.ExitStatus != nil:
		fmt.Fprintf(w, "%s exited with status %d\n", p.Argv[0], *p.ExitStatus)
	case p.Signal != "":
		fmt.Fprintf(w, "%s was killed by %s\n", p.Argv[0], p.Signal)
	default:
		fmt.Fprintf(w, "%s ended while watched\n", p.Argv[0])
	}
}

// WatchPoint is one watched word.
type WatchPoint struct {
	Address string `json:"address"`
	What    string `json:"what"`
}

// WatchHit is one write caught.
type WatchHit struct {
	Core string `json:"core"`
	// Wrote names the watched word that was written.
	Wrote string `json:"wrote"`
	// Change says what the write did to the object, read from the
	// snapshot: "length 3 -> 4", "resize: ...", "item 0 set to 'x'".
	Change string `json:"change"`
	// Resize is true when the write is the list reallocating its item
	// array (including the allocator writing into the freed old array),
	// not a change of an item.
	Resize bool `json:"resize"`
	// Rebound is true when the write bound the watched name to another
	// object (sys.path = sys.path + [x]): the watch follows the name.
	Rebound bool `json:"rebound"`
	// Unbound is true when, after the write, the watched name names no
	// object (del mod.X): the watch ended there.
	Unbound bool    `json:"unbound"`
	TID     int     `json:"native_thread_id"`
	Thread  *Thread `json:"thread"`
}

// WriteText prints the whole report: what is watched, each hit, and how
// the watch ended.
func (r *WatchReport) WriteText(w io.Writer) error {
	r.WriteHeader(w)
	for i := range r.Hits {
		r.WriteHit(w, i)
	}
	r.WriteEnd(w)
	return nil
}

// WriteHeader prints what is watched (printed once the breakpoints are
// armed).
func (r *WatchReport) WriteHeader(w io.Writer) {
	fmt.Fprintf(w, "watching %s (%s at %s) in pid %d with %d hardware watchpoint(s); waiting for a write...\n",
		r.Expr, r.Object.Type, r.Object.Address, r.PID, len(r.Watchpoints))
	for _, wp := range r.Watchpoints {
		fmt.Fprintf(w, "  %s: %s\n", wp.Address, wp.What)
	}
}

// WriteHit prints hit i (printed as it happens).
func (r *WatchReport) WriteHit(w io.Writer, i int) {
	hit := r.Hits[i]
	fmt.Fprintf(w, "\nhit %d: native thread %d wrote %s: %s; snapshot %s\n", i+1, hit.TID, hit.Wrote, hit.Change, hit.Core)
	if hit.Thread == nil {
		fmt.Fprintln(w, "  (the writing thread runs no Python code)")
		return
	}
	one := &Stacks{Threads: []Thread{*hit.Thread}}
	one.WriteThreads(w)
}

// InterpreterWrite is a write no Python frame made (see
// WatchReport.InterpreterWrites).
type InterpreterWrite struct {
	Wrote  string `json:"wrote"`
	Change string `json:"change"`
	TID    int    `json:"native_thread_id"`
}

// WriteInterpreterWrite prints the i-th interpreter write as it happens.
func (r *WatchReport) WriteInterpreterWrite(w io.Writer, i int) {
	iw := r.InterpreterWrites[i]
	fmt.Fprintf(w, "\n(not counted: native thread %d wrote %s with no Python frame running, CPython's own doing: %s)\n", iw.TID, iw.Wrote, iw.Change)
}

// WriteEnd prints how the watch ended, when it timed out, and how the
// program it started ended.
func (r *WatchReport) WriteEnd(w io.Writer) {
	if r.TimedOut {
		fmt.Fprintf(w, "timed out after %v with %d hit(s)\n", r.Timeout, len(r.Hits))
	}
	if r.Program != nil {
		r.Program.WriteText(w)
	}
}

// ListState is what a watched list looked like: its length and item
// array, to tell what a write changed.
type ListState struct {
	Length int64
	Items  uint64
}

// ReadListState reads a list's length and item array from a core.
func ReadListState(p *coreread.Process, rt *pyheap.Runtime, list uint64) (ListState, error) {
	n, err := p.Uint64(rt.L.ObSize.Add(list))
	if err != nil {
		return ListState{}, err
	}
	items, err := p.Uint64(rt.L.ListItems.Add(list))
	if err != nil {
		return ListState{}, err
	}
	return ListState{Length: int64(n), Items: items}, nil
}

// DescribeListWrite says what a write to a watched word of a list did,
// from the snapshot taken right after it: before is the list as it was
// when the breakpoints were set (or at the previous hit), addr the word
// written. A list's append that outgrows its item array reallocates it:
// the allocator frees the old array (writing its own bookkeeping into the
// first slot, where item 0 was watched) and the list then points at the
// new one; both writes are the resize, not a change of item 0.
func DescribeListWrite(p *coreread.Process, rt *pyheap.Runtime, list uint64, before ListState, addr uint64) (change string, resize bool) {
	now, err := ReadListState(p, rt, list)
	if err != nil {
		return fmt.Sprintf("the list could not be read in the snapshot (%v)", err), false
	}
	switch addr {
	case rt.L.ObSize.Add(list):
		change = fmt.Sprintf("length %d -> %d", before.Length, now.Length)
		if now.Items != before.Items {
			change += fmt.Sprintf(" (its item array was reallocated: 0x%x -> 0x%x)", before.Items, now.Items)
			resize = true
		}
		return change, resize
	case rt.L.ListItems.Add(list):
		switch {
		case now.Items == 0:
			return fmt.Sprintf("the list was emptied: its item array 0x%x freed (length %d)", before.Items, now.Length), true
		case before.Items == 0:
			return fmt.Sprintf("resize: an item array was allocated at 0x%x (length %d)", now.Items, now.Length), true
		case now.Items != before.Items:
			return fmt.Sprintf("resize: the item array moved 0x%x -> 0x%x (length %d)", before.Items, now.Items, now.Length), true
		}
		return fmt.Sprintf("resize: the item array 0x%x was reallocated in place (length %d)", now.Items, now.Length), true
	}
	// An item slot.
	index := int64(-1)
	if addr >= now.Items && now.Items != 0 {
		index = int64(addr-now.Items) / 8
	}
	value, err := p.Uint64(addr)
	_, terr := rt.TypeOf(value)
	// A freed block's first word is the allocator's free-list link (the
	// next free block's address, or NULL), so a "value" whose own first
	// word, its reference count, is an address or 0 is freed memory too:
	// an item of a list has a count of at least 1, far below 2^40 even
	// when immortal.
	refcnt, rerr := p.Uint64(value)
	if err != nil || value == 0 || terr != nil || rerr != nil || refcnt == 0 || refcnt >= 1<<40 || index < 0 || index >= now.Length {
		return fmt.Sprintf("resize: the item array 0x%x is being reallocated (the allocator wrote into it while freeing it: not a change of an item; the list still has length %d)", before.Items, now.Length), true
	}
	return fmt.Sprintf("item %d set to %s", index, ValueText(rt, value)), false
}

// ValueText is a written value as a line of text: its repr with its
// type and address (item 0 set to '/srv/lib' (str at 0x…)), which is
// what the user's condition is about, not only where it lies.
func ValueText(rt *pyheap.Runtime, addr uint64) string {
	d := rt.Describe(addr)
	if d.Repr == "" || strings.HasPrefix(d.Repr, "<") {
		return rt.ShortDesc(addr)
	}
	repr := d.Repr
	if r := []rune(repr); len(r) > 120 {
		repr = string(r[:120]) + "…"
	}
	return fmt.Sprintf("%s (%s at 0x%x)", repr, d.Type, addr)
}

// UntilReport is the answer of `watch --until`.
type UntilReport struct {
	PID       int               `json:"pid"`
	Condition string            `json:"condition"`
	Held      bool              `json:"held"`
	Polls     int               `json:"polls"`
	ElapsedMS int64             `json:"elapsed_ms"`
	Core      string            `json:"core,omitempty"`
	Values    map[string]string `json:"values"`
	LastError string            `json:"last_error,omitempty"`
	Stacks    *Stacks           `json:"stacks,omitempty"`
	Program   *ProgramRun       `json:"program,omitempty"`
	// ProgramEnded is true when the program watch started ended before
	// the condition held (held is then false, and no timeout was reached).
	ProgramEnded bool `json:"program_ended"`
	// Warnings are what watch warned about on stderr: a name of the
	// condition that gives a different object in several interpreters, as
	// the last poll that read it found it (always present, [] when none).
	Warnings []string `json:"warnings"`
	// Timeout and Interval are the flags (text output only).
	Timeout  time.Duration `json:"-"`
	Interval time.Duration `json:"-"`
}

// WriteHeader prints what is polled (printed when polling starts).
func (r *UntilReport) WriteHeader(w io.Writer) {
	fmt.Fprintf(w, "polling pid %d every %v until %s (a change may be seen after the code that made it returned; --on-change catches the writer)\n", r.PID, r.Interval, r.Condition)
}

// WriteText prints the outcome: the values the condition read and every
// thread's stack, or that it never held.
func (r *UntilReport) WriteText(w io.Writer) error {
	if !r.Held {
		if r.ProgramEnded {
			fmt.Fprintf(w, "the program ended after %d polls: the condition never held", r.Polls)
		} else {
			fmt.Fprintf(w, "timed out after %v and %d polls: the condition never held", r.Timeout, r.Polls)
		}
		if r.LastError != "" {
			fmt.Fprintf(w, " (last error: %s)", r.LastError)
		}
		fmt.Fprintln(w)
		if len(r.Values) > 0 {
			fmt.Fprintln(w, "the last values read:")
			for k, v := range r.Values {
				fmt.Fprintf(w, "  %s = %s\n", k, v)
			}
		}
		if r.Program != nil {
			r.Program.WriteText(w)
		}
		return nil
	}
	fmt.Fprintf(w, "the condition held after %d polls (%v); snapshot %s\n", r.Polls, time.Duration(r.ElapsedMS)*time.Millisecond, r.Core)
	for k, v := range r.Values {
		fmt.Fprintf(w, "  %s = %s\n", k, v)
	}
	if r.Stacks != nil {
		r.Stacks.WriteThreads(w)
	}
	if r.Program != nil {
		r.Program.WriteText(w)
	}
	return nil
}
