package reports

import (
	"fmt"
	"strings"
)

// Check sets Complete, adds one warning that says what the answer misses,
// and returns an error when there were frames to read and not one of them
// could be read. A list of threads that each show "<unreadable frame>"
// answers nothing: like a census that found no object on the GC's lists,
// which the heap commands refuse, it is a core unreadable beyond use
// (exit 1, one line), not an answer a script should take for a stack.
// Run it last, after MergeNative: a native frame read is a frame read.
func (s *Stacks) Check() error {
	var frames, unreadable, partial, brokenThreads int
	var first string
	note := func(e string) {
		if first == "" {
			first = e
		}
	}
	for _, th := range s.Threads {
		for _, f := range th.Frames {
			frames++
			if f.native == nil && f.Function == "" && f.Filename == "" {
				unreadable++
				note(f.Error)
				continue
			}
			if f.Error != "" {
				partial++
			}
		}
		if len(th.Errors) > 0 {
			brokenThreads++
			note(th.Errors[0])
		}
	}
	for _, e := range s.lists {
		note(e)
	}
	s.Complete = unreadable == 0 && partial == 0 && brokenThreads == 0 && len(s.lists) == 0
	if s.Complete {
		return nil
	}
	if unreadable == frames && (frames > 0 || brokenThreads > 0) {
		return fmt.Errorf("no frame could be read in any of the %d thread(s): %s", len(s.Threads), first)
	}
	var parts []string
	if unreadable > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d frame(s) unreadable", unreadable, frames))
	}
	if partial > 0 {
		parts = append(parts, fmt.Sprintf("%d frame(s) read only in part", partial))
	}
	if brokenThreads > 0 {
		parts = append(parts, fmt.Sprintf("%d thread(s) whose stack could not be read to its end", brokenThreads))
	}
	if len(s.lists) > 0 {
		parts = append(parts, "the list of interpreters or threads was cut short: threads may be missing")
	}
	s.Warnings = append(s.Warnings, "incomplete stacks: "+strings.Join(parts, ", ")+" (the lines marked ! say why)")
	return nil
}
