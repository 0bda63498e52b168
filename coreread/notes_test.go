package coreread

import (
	"encoding/binary"
	"strings"
	"testing"
)

// Damaged notes must read as damaged: what they would have recorded is
// unknown, not absent (no signal is not a snapshot, no NT_PRPSINFO is not
// pid 0, the first thread lost is not the first thread left).
// integration/info_notes_test.go damages real crash cores the same ways.
func TestDamagedNotesAreReported(t *testing.T) {
	siginfo := make([]byte, 128)
	binary.LittleEndian.PutUint32(siginfo[0:], 6)
	prpsinfo := make([]byte, 136)
	binary.LittleEndian.PutUint32(prpsinfo[24:], 4242)
	intact := [][]byte{note(ntPrstatus, prstatus(101, 0x7000)), note(ntPrpsinfo, prpsinfo),
		note(ntSiginfo, siginfo), note(ntPrstatus, prstatus(102, 0x8000))}
	// descsz sets note i's size field, as a flipped byte would.
	descsz := func(i int, size uint32) []byte {
		var out []byte
		for j, n := range intact {
			if j == i {
				n = append([]byte(nil), n...)
				binary.LittleEndian.PutUint32(n[4:], size)
			}
			out = append(out, n...)
		}
		return out
	}
	shortFirst := note(ntPrstatus, make([]byte, 300))
	for _, n := range intact[1:] {
		shortFirst = append(shortFirst, n...)
	}
	tests := []struct {
		name        string
		notes       []byte
		problem     string // a part of NotesProblem, "" for none
		threads     int
		processInfo bool
		signal      bool
		crashedLost bool
	}{
		{name: "intact", notes: descsz(-1, 0), threads: 2, processInfo: true, signal: true},
		{name: "first note's size past its segment", notes: descsz(0, 1<<20), problem: "note 0 runs past the end of its segment", crashedLost: true},
		{name: "first NT_PRSTATUS too short", notes: shortFirst, problem: "NT_PRSTATUS of 300 bytes is too short",
			threads: 1, processInfo: true, signal: true, crashedLost: true},
		{name: "NT_SIGINFO's size past its segment", notes: descsz(2, 1<<20), problem: "note 2 runs past the end of its segment",
			threads: 1, processInfo: true},
		{name: "notes cut off in NT_PRPSINFO", notes: descsz(-1, 0)[:len(intact[0])+60], problem: "note 1 runs past the end of its segment",
			threads: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Open(writeTemp(t, synthCore(t, tc.notes, 0x1000, []byte("x"))), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got := p.NotesProblem()
			if tc.problem == "" && got != "" || !strings.Contains(got, tc.problem) {
				t.Errorf("NotesProblem() = %q, want %q", got, tc.problem)
			}
			if len(p.Threads()) != tc.threads {
				t.Errorf("%d threads, want %d", len(p.Threads()), tc.threads)
			}
			if p.HasProcessInfo() != tc.processInfo {
				t.Errorf("HasProcessInfo() = %v, want %v", p.HasProcessInfo(), tc.processInfo)
			}
			if tc.processInfo && p.Info().PID != 4242 {
				t.Errorf("pid %d, want 4242", p.Info().PID)
			}
			if (p.Info().Signal != nil) != tc.signal {
				t.Errorf("signal %+v, want one: %v", p.Info().Signal, tc.signal)
			}
			if p.CrashedThreadLost() != tc.crashedLost {
				t.Errorf("CrashedThreadLost() = %v, want %v", p.CrashedThreadLost(), tc.crashedLost)
			}
		})
	}
}
