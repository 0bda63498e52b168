package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestGoldenNativeWithoutFiles runs stacks --native on the golden cores
// with only their sysroots (the 3.13 one with no file at all): the C
// stacks cannot be unwound far, and each thread must say so, keep its
// Python frames in order, and the crash core must still name its crashed
// thread.
func TestGoldenNativeWithoutFiles(t *testing.T) {
	for _, name := range []string{"debian-3.11-gcore", "pyenv-3.13-abort"} {
		t.Run(name, func(t *testing.T) {
			core, sysroot, _ := goldenCore(t, name)
			if name == "pyenv-3.13-abort" {
				sysroot = t.TempDir()
			}
			plain := stacksOf(t, "--sysroot", sysroot, core)
			r := pycoroner(t, "stacks", "--native", "--json", "--sysroot", sysroot, core)
			if r.code != 0 {
				t.Fatalf("stacks --native exited %d: %s", r.code, r.stderr)
			}
			var got struct {
				Threads []struct {
					ThreadID uint64 `json:"thread_id"`
					Crashed  bool   `json:"crashed"`
					Frames   []struct {
						Kind     string `json:"kind"`
						Function string `json:"function"`
						Line     int    `json:"line"`
					} `json:"frames"`
					Errors []string `json:"errors"`
				} `json:"threads"`
				Crash *struct {
					NativeThreadID int `json:"native_thread_id"`
				} `json:"crash"`
			}
			if err := json.Unmarshal(r.stdout, &got); err != nil {
				t.Fatal(err)
			}
			pyByID := map[uint64][]string{}
			for _, th := range plain.Threads {
				for _, f := range th.Frames {
					pyByID[th.ThreadID] = append(pyByID[th.ThreadID], f.Function)
				}
			}
			crashed := 0
			for _, th := range got.Threads {
				var py []string
				native := 0
				for _, f := range th.Frames {
					if f.Kind == "python" {
						py = append(py, f.Function)
					} else {
						native++
					}
				}
				if strings.Join(py, " ") != strings.Join(pyByID[th.ThreadID], " ") {
					t.Errorf("thread %d: Python frames %v with --native, %v without", th.ThreadID, py, pyByID[th.ThreadID])
				}
				if native == 0 {
					t.Errorf("thread %d: no native frame at all", th.ThreadID)
				}
				if !strings.Contains(strings.Join(th.Errors, "\n"), "native stack incomplete") {
					t.Errorf("thread %d: errors %q do not say the native stack is incomplete", th.ThreadID, th.Errors)
				}
				if th.Crashed {
					crashed++
				}
			}
			want := 0
			if strings.HasSuffix(name, "-abort") {
				want = 1
				if got.Crash == nil {
					t.Errorf("no crash site for a crash core")
				}
			}
			if crashed != want {
				t.Errorf("%d threads marked crashed; want %d", crashed, want)
			}
		})
	}
}
