package integration

import (
	"bytes"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/layout"
)

// An answer is complete or says it is not. These tests damage real cores
// at test time and check that stacks and info tell a damaged answer from
// a whole one, in text and JSON, with the exit status docs/json.md gives.

// stacksVerdict is what these tests read of `stacks --json`.
type stacksVerdict struct {
	Complete *bool    `json:"complete"`
	Warnings []string `json:"warnings"`
	Threads  []struct {
		Errors []string `json:"errors"`
	} `json:"threads"`
}

// threadStates lists every thread state of the core, read by the packages.
func threadStates(t *testing.T, core string) []pyheap.ThreadState {
	t.Helper()
	_, rt := openRuntime(t, core)
	interps, err := rt.Interpreters()
	if err != nil {
		t.Fatal(err)
	}
	var out []pyheap.ThreadState
	for _, in := range interps {
		states, err := rt.ThreadStates(in)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, states...)
	}
	return out
}

// overwriteFramePointers points the frame pointer of the given thread
// states at memory no mapping holds.
func overwriteFramePointers(t *testing.T, cf *coreFacts, states []pyheap.ThreadState) []byte {
	b := bytes.Clone(cf.raw)
	for _, ts := range states {
		for _, off := range []layout.Offset{cf.L.TstateFrame, cf.L.TstateCframe, cf.L.TstateCurrentFrame} {
			if off.Has() {
				cf.put(t, b, off.Add(ts.Addr), garbage)
				break
			}
		}
	}
	return b
}

func TestStacksSaysWhetherItIsComplete(t *testing.T) {
	for _, in := range corpusInterpreters(t) {
		t.Run(in.Name, func(t *testing.T) {
			res := cachedCore(t, in, "threads", harness.Gcore)
			cf := factsOf(t, res.CorePath)
			all := threadStates(t, res.CorePath)
			tests := []struct {
				name     string
				core     []byte
				code     int
				complete bool
				say      string // in the text (stdout, or the one-line error)
			}{
				{"intact", cf.raw, 0, true, ""},
				{"one thread's frame pointer overwritten", overwriteFramePointers(t, cf, []pyheap.ThreadState{cf.victim}), 0, false, "incomplete stacks: "},
				{"every thread's frame pointer overwritten", overwriteFramePointers(t, cf, all), 1, false, "no frame could be read in any of the"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					core := filepath.Join(t.TempDir(), "core")
					if err := os.WriteFile(core, tc.core, 0o644); err != nil {
						t.Fatal(err)
					}
					text, _ := bounded(t, "stacks", core)
					js, _ := bounded(t, "stacks", "--json", core)
					if text.code != tc.code || js.code != tc.code {
						t.Fatalf("exit %d (text), %d (JSON), want %d; stderr %s", text.code, js.code, tc.code, text.stderr)
					}
					checkRun(t, []string{"stacks", core}, text)
					if !strings.Contains(string(text.stdout)+string(text.stderr), tc.say) {
						t.Errorf("does not say %q:\n%s%s", tc.say, text.stdout, text.stderr)
					}
					if tc.code != 0 {
						if len(js.stdout) != 0 {
							t.Errorf("an error, and JSON printed too:\n%s", js.stdout)
						}
						return
					}
					var got stacksVerdict
					if err := json.Unmarshal(js.stdout, &got); err != nil {
						t.Fatal(err)
					}
					if got.Complete == nil || *got.Complete != tc.complete || got.Warnings == nil {
						t.Fatalf("complete %v, warnings %q; want complete %v and a warnings list", got.Complete, got.Warnings, tc.complete)
					}
					said := false
					for _, w := range got.Warnings {
						said = said || strings.HasPrefix(w, "incomplete stacks: ")
					}
					if said == tc.complete {
						t.Errorf("complete %v, but the warnings %q", tc.complete, got.Warnings)
					}
				})
			}
		})
	}
}

// A crash core cut before the threads' frames (its memory is written in
// address order: where the frames lie after everything that leads to the
// threads) is the user's report: every frame unreadable used to exit 0.
func TestStacksOnACoreCutBeforeTheFrames(t *testing.T) {
	for _, in := range corpusInterpreters(t) {
		t.Run(in.Name, func(t *testing.T) {
			res := cachedCore(t, in, "threads", harness.Segv)
			cf := factsOf(t, res.CorePath)
			_, rt := openRuntime(t, res.CorePath)
			// Keep what finding the threads needs (the runtime, the
			// interpreter, the thread states); cut at the first frame.
			keep := []uint64{cf.rtAddr, cf.interp}
			var firstFrame uint64 = ^uint64(0)
			for _, ts := range threadStates(t, res.CorePath) {
				keep = append(keep, ts.Addr)
				frames, _ := rt.Frames(ts)
				for _, f := range frames {
					firstFrame = min(firstFrame, cf.offset(t, f.Addr))
				}
			}
			var need uint64
			for _, a := range keep {
				need = max(need, cf.offset(t, a)+4096)
			}
			cut := firstFrame &^ 4095
			if firstFrame == ^uint64(0) || need > cut || cut < cf.notes[0]+cf.notes[1] {
				t.Skipf("in this core the frames lie before what leads to the threads (frames from %d, needed up to %d)", firstFrame, need)
			}
			core := filepath.Join(t.TempDir(), "core")
			if err := os.WriteFile(core, cf.raw[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			r, _ := bounded(t, "stacks", core)
			checkRun(t, []string{"stacks", core}, r)
			if r.code != 1 || !bytes.Contains(r.stderr, []byte("no frame could be read")) {
				t.Errorf("exit %d, want 1 saying no frame could be read:\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// infoJSONFull is what these tests read of `info --json`.
type infoJSONFull struct {
	Complete      *bool           `json:"complete"`
	NotesError    string          `json:"notes_error"`
	PythonVersion *string         `json:"python_version"`
	PID           *int            `json:"pid"`
	Signal        json.RawMessage `json:"signal"`
	SignalError   string          `json:"signal_error"`
	NativeThreads *int            `json:"native_threads"`
	Runtime       json.RawMessage `json:"runtime"`
	Crash         json.RawMessage `json:"crash"`
	GIL           json.RawMessage `json:"gil"`
}

// noteHeaders lists the file offsets of the notes of the first PT_NOTE,
// by type.
func noteHeaders(cf *coreFacts) map[uint32]uint64 {
	out := map[uint32]uint64{}
	le := bin.LittleEndian
	for off, end := cf.notes[0], cf.notes[0]+cf.notes[1]; off+12 <= end; {
		namesz, descsz, typ := uint64(le.Uint32(cf.raw[off:])), uint64(le.Uint32(cf.raw[off+4:])), le.Uint32(cf.raw[off+8:])
		if _, ok := out[typ]; !ok {
			out[typ] = off
		}
		off += 12 + (namesz+3)&^3 + (descsz+3)&^3
	}
	return out
}

func TestInfoOnDamagedNotes(t *testing.T) {
	const ntPrstatus, ntSiginfo = 1, 0x53494749
	for _, in := range corpusInterpreters(t) {
		t.Run(in.Name, func(t *testing.T) {
			res := cachedCore(t, in, "threads", harness.Abort)
			cf := factsOf(t, res.CorePath)
			notes := noteHeaders(cf)
			// oversize sets a note's size field past its segment.
			oversize := func(typ uint32) []byte {
				off, ok := notes[typ]
				if !ok {
					t.Fatalf("no note of type 0x%x", typ)
				}
				b := bytes.Clone(cf.raw)
				bin.LittleEndian.PutUint32(b[off+4:], 1<<24)
				return b
			}
			gcore := factsOf(t, cachedCore(t, in, "threads", harness.Gcore).CorePath)
			intact := infoOf(t, cf.raw)
			tests := []struct {
				name string
				core []byte
				// pidKnown: NT_PRPSINFO comes before the damage.
				pidKnown, signalKnown, python bool
			}{
				{"first NT_PRSTATUS's size past the notes", oversize(ntPrstatus), false, false, true},
				{"NT_SIGINFO's size past the notes", oversize(ntSiginfo), true, false, true},
				{"a gcore cut to 1 MB", gcore.raw[:1<<20], false, false, false},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					core := filepath.Join(t.TempDir(), "core")
					if err := os.WriteFile(core, tc.core, 0o644); err != nil {
						t.Fatal(err)
					}
					text, _ := bounded(t, "info", core)
					js, _ := bounded(t, "info", "--json", core)
					if text.code != 0 || js.code != 0 {
						t.Fatalf("exit %d, %d: %s", text.code, js.code, text.stderr)
					}
					if bytes.Contains(text.stdout, []byte("none recorded")) || !bytes.Contains(text.stdout, []byte("unknown (notes unreadable / truncated)")) {
						t.Errorf("the text claims what the notes cannot tell:\n%s", text.stdout)
					}
					var got infoJSONFull
					if err := json.Unmarshal(js.stdout, &got); err != nil {
						t.Fatal(err)
					}
					if got.Complete == nil || *got.Complete || got.NotesError == "" {
						t.Errorf("complete %v, notes_error %q: want false and a reason", got.Complete, got.NotesError)
					}
					if string(got.Signal) != "null" || got.SignalError == "" {
						t.Errorf("signal %s, signal_error %q: want null and a reason", got.Signal, got.SignalError)
					}
					if got.NativeThreads != nil || len(got.Crash) != 0 && string(got.Crash) != "null" {
						t.Errorf("native_threads %v, crash %s: the notes that tell them are damaged", got.NativeThreads, got.Crash)
					}
					if (got.PID != nil) != tc.pidKnown || tc.pidKnown && *got.PID != res.Oracle.PID {
						t.Errorf("pid %v, want known: %v (the process's %d)", got.PID, tc.pidKnown, res.Oracle.PID)
					}
					if !tc.python {
						if got.PythonVersion != nil || string(got.Runtime) != "null" {
							t.Errorf("python_version %v, runtime %s: want null", got.PythonVersion, got.Runtime)
						}
						return
					}
					// The interpreter is found without the notes: the GIL it
					// reports must be the intact core's, not another claim.
					if !bytes.Equal(got.GIL, intact.GIL) {
						t.Errorf("gil %s, the intact core says %s", got.GIL, intact.GIL)
					}
				})
			}
		})
	}
}

// infoOf runs info --json on a core's bytes.
func infoOf(t *testing.T, raw []byte) infoJSONFull {
	t.Helper()
	core := filepath.Join(t.TempDir(), "core")
	if err := os.WriteFile(core, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := bounded(t, "info", "--json", core)
	var got infoJSONFull
	if err := json.Unmarshal(r.stdout, &got); err != nil || r.code != 0 || got.Complete == nil || !*got.Complete {
		t.Fatalf("info on the intact core: exit %d, %v, complete %v:\n%s", r.code, err, got.Complete, r.stdout)
	}
	return got
}

// A core cut before its interpreter state cannot be read at all: the one
// line says first that the core is truncated, and by how much (the file
// it was cut from is the size its segments give), then the details.
func TestCoreCutBeforeTheRuntimeSaysSoFirst(t *testing.T) {
	for _, in := range corpusInterpreters(t) {
		t.Run(in.Name, func(t *testing.T) {
			res := cachedCore(t, in, "threads", harness.Segv)
			cf := factsOf(t, res.CorePath)
			cut := cf.rtAddr
			cut = cf.offset(t, cut) &^ 4095
			core := filepath.Join(t.TempDir(), "core")
			if err := os.WriteFile(core, cf.raw[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			r := pycoroner(t, "stacks", core)
			msg := strings.TrimSpace(string(r.stderr))
			want := fmt.Sprintf("pycoroner: %s: the core file is truncated (%d of %d bytes)", core, cut, len(cf.raw))
			if r.code != 1 || !strings.HasPrefix(msg, want) || strings.Contains(msg, "\n") {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line starting %q", r.code, msg, want)
			}
		})
	}
}
