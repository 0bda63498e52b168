package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// TestNativeMergeMatchesOracle checks where `stacks --native` puts the
// Python frames: every thread's Python frames, in the order the process
// itself gave them, each placed at a native frame of the evaluation loop,
// with none left over. Debian sid's builds run nearly all of the loop in
// the part the compiler split off _PyEval_EvalFrameDefault, which no
// symbol of theirs names; a merge that cannot place the Python frames
// shows them last and says "not matched", which fails here.
func TestNativeMergeMatchesOracle(t *testing.T) {
	forEachCoreMode(t, "threads", nativeModes, func(t *testing.T, res *harness.Result) {
		oracle := readOracle(t, res.OraclePath)
		r := pycoroner(t, "stacks", "--native", "--json", res.CorePath)
		if r.code != 0 {
			t.Fatalf("stacks --native exited %d: %s", r.code, r.stderr)
		}
		var got struct {
			Threads []struct {
				ThreadID   uint64 `json:"thread_id"`
				NativeOnly bool   `json:"native_only"`
				Frames     []struct {
					Kind     string `json:"kind"`
					Function string `json:"function"`
					Filename string `json:"filename"`
					Line     int    `json:"line"`
				} `json:"frames"`
				Errors []string `json:"errors"`
			} `json:"threads"`
		}
		if err := json.Unmarshal(r.stdout, &got); err != nil {
			t.Fatalf("stacks --native --json: %v", err)
		}
		byID := map[uint64]int{}
		for i, th := range got.Threads {
			if !th.NativeOnly {
				byID[th.ThreadID] = i
			}
		}
		placed := 0
		for _, w := range oracle.Threads {
			i, ok := byID[w.ThreadID]
			if !ok {
				t.Errorf("thread %d (%s) missing", w.ThreadID, strp(w.Name))
				continue
			}
			th := got.Threads[i]
			where := fmt.Sprintf("thread %d (%s)", w.ThreadID, strp(w.Name))
			for _, e := range th.Errors {
				if strings.Contains(e, "not matched") {
					t.Errorf("%s: %s", where, e)
				}
			}
			var py []string
			sawNative := false
			for _, f := range th.Frames {
				if f.Kind == "native" {
					sawNative = true
					continue
				}
				py = append(py, fmt.Sprintf("%s:%d in %s", f.Filename, f.Line, f.Function))
				if sawNative {
					placed++
				}
			}
			var want []string
			for _, f := range w.Frames {
				want = append(want, fmt.Sprintf("%s:%d in %s", f.Filename, f.Line, f.Function))
			}
			got := py
			if strp(w.Name) == "oracle-writer" && (res.Mode == harness.SegvAccel || res.Mode == harness.FaulthandlerSegv) && len(py) > len(want) {
				// The writer went on from where the oracle saw it, into
				// json or faulthandler: the oracle's frames are its
				// outermost ones.
				got = py[len(py)-len(want):]
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: Python frames differ\n got  %s\n want %s", where, strings.Join(py, " < "), strings.Join(want, " < "))
			}
			if len(w.Frames) > 0 && !sawNative {
				t.Errorf("%s: no native frame", where)
			}
		}
		t.Logf("%s %s: %d Python frames placed below a native frame", res.Interp.Name, res.Mode, placed)
	})
}
