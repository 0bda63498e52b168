package reports

import (
	"strings"
	"testing"
)

// Check's verdicts: the stacks of real damaged cores are checked by
// integration/stacks_complete_test.go; these are the combinations a test
// core cannot be relied on to produce.
func TestStacksCheck(t *testing.T) {
	read := Frame{Kind: "python", Function: "f", Filename: "app.py", Line: 3}
	partlyRead := Frame{Kind: "python", Function: "f", Filename: "app.py", Error: "line table: read 0x10: unmapped"}
	unreadable := Frame{Kind: "python", Error: "frame 0x10: read 0x10: memory lost"}
	native := Frame{Kind: "native", Function: "", native: &NativeFrame{PC: "0x401000"}}
	thread := func(errs []string, frames ...Frame) Thread {
		return Thread{Frames: frames, Errors: errs}
	}
	tests := []struct {
		name     string
		threads  []Thread
		lists    []string
		complete bool
		err      string   // the error Check returns, "" for none
		warning  []string // what its warning must say
	}{
		{name: "every frame read", threads: []Thread{thread(nil, read, read), thread(nil, read)}, complete: true},
		{name: "no Python frames at all is a complete answer", threads: []Thread{thread(nil), thread(nil)}, complete: true},
		{name: "no threads is a complete answer", complete: true},
		{name: "one frame unreadable", threads: []Thread{thread(nil, read, unreadable), thread(nil, read)},
			warning: []string{"1 of 3 frame(s) unreadable"}},
		{name: "a frame read in part", threads: []Thread{thread(nil, partlyRead)},
			warning: []string{"1 frame(s) read only in part"}},
		{name: "a broken frame chain", threads: []Thread{thread([]string{"frame chain: read 0x18: memory lost"}, read)},
			warning: []string{"1 thread(s) whose stack"}},
		{name: "a thread list cut short", threads: []Thread{thread(nil, read)}, lists: []string{"interpreter 0: thread state 0x10: unmapped"},
			warning: []string{"threads may be missing"}},
		{name: "every frame unreadable", threads: []Thread{thread([]string{"frame chain: lost"}, unreadable), thread(nil, unreadable)},
			err: "no frame could be read in any of the 2 thread(s): frame 0x10: read 0x10: memory lost"},
		{name: "every frame chain broken before its first frame", threads: []Thread{thread([]string{"frame chain: read 0x4141: unmapped"})},
			err: "no frame could be read in any of the 1 thread(s): frame chain: read 0x4141: unmapped"},
		{name: "native frames read where Python frames were not", threads: []Thread{thread(nil, native, unreadable)},
			warning: []string{"1 of 2 frame(s) unreadable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Stacks{Threads: tc.threads, lists: tc.lists}
			err := s.Check()
			switch {
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Fatalf("Check() = %v, want %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatalf("Check() = %v", err)
			case tc.err != "":
				return
			}
			if s.Complete != tc.complete {
				t.Errorf("Complete = %v, want %v", s.Complete, tc.complete)
			}
			if tc.complete && len(s.Warnings) > 0 {
				t.Errorf("a complete answer warns %q", s.Warnings)
			}
			if !tc.complete && (len(s.Warnings) != 1 || !strings.HasPrefix(s.Warnings[0], "incomplete stacks: ")) {
				t.Fatalf("want one warning starting %q, got %q", "incomplete stacks: ", s.Warnings)
			}
			for _, w := range tc.warning {
				if !strings.Contains(s.Warnings[0], w) {
					t.Errorf("warning %q does not say %q", s.Warnings[0], w)
				}
			}
		})
	}
}
