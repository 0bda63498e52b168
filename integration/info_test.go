package integration

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

type infoJSON struct {
	PythonVersion string `json:"python_version"`
	Executable    string `json:"executable"`
	PID           int    `json:"pid"`
	Signal        *struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"signal"`
	NativeThreads int `json:"native_threads"`
	PythonThreads int `json:"python_threads"`
	GIL           struct {
		Known          bool    `json:"known"`
		Held           bool    `json:"held"`
		HolderThreadID *uint64 `json:"holder_thread_id"`
	} `json:"gil"`
	Files []struct {
		Path   string `json:"path"`
		Status string `json:"status"`
		IsExe  bool   `json:"is_exe"`
	} `json:"files"`
}

// TestInfoMatchesOracle checks `info --json` against the process's own
// account: version, pid, executable, thread counts, the signal that made
// the core and, where the process died holding it, the GIL.
func TestInfoMatchesOracle(t *testing.T) {
	forEachCore(t, "threads", func(t *testing.T, res *harness.Result) {
		mode := res.Mode
		o := res.Oracle
		r := pycoroner(t, "info", "--json", res.CorePath)
		if r.code != 0 {
			t.Fatalf("info exited %d: %s", r.code, r.stderr)
		}
		var got infoJSON
		if err := json.Unmarshal(r.stdout, &got); err != nil {
			t.Fatal(err)
		}
		if got.PythonVersion != o.PythonVersion || got.PID != o.PID {
			t.Errorf("version %q pid %d, oracle %q %d", got.PythonVersion, got.PID, o.PythonVersion, o.PID)
		}
		realExe, _ := filepath.EvalSymlinks(o.Executable)
		gotExe, _ := filepath.EvalSymlinks(got.Executable)
		if loader := res.Interp.Loader; len(loader) > 0 {
			// Run as `ld.so PYTHON`: the kernel's executable is the
			// loader, and python is one of the files, read fine.
			realLoader, _ := filepath.EvalSymlinks(loader[0])
			found := false
			for _, f := range got.Files {
				p, _ := filepath.EvalSymlinks(f.Path)
				found = found || (p == realExe && f.Status == "ok")
			}
			if gotExe != realLoader || !found {
				t.Errorf("executable %q (want the loader %s), python %s among the files read: %v", got.Executable, loader[0], o.Executable, found)
			}
		} else if gotExe != realExe {
			t.Errorf("executable %q, oracle %q", got.Executable, o.Executable)
		}
		if got.NativeThreads != o.NativeThreadCount || got.PythonThreads != len(o.Threads) {
			t.Errorf("threads: %d native, %d Python; oracle %d, %d", got.NativeThreads, got.PythonThreads, o.NativeThreadCount, len(o.Threads))
		}
		for _, f := range got.Files {
			if f.IsExe && f.Status != "ok" {
				t.Errorf("executable %s: status %s", f.Path, f.Status)
			}
		}
		var crasher uint64
		for _, th := range o.Threads {
			if th.Name == "oracle-writer" {
				crasher = th.ThreadID
			}
		}
		switch mode {
		case harness.Gcore:
			if res.Interp.UsesSnapshot() {
				// pycoroner's own snapshot records no signal: the
				// process was paused, nothing was delivered.
				if got.Signal != nil {
					t.Errorf("signal %+v in a pycoroner snapshot", got.Signal)
				}
			} else if got.Signal == nil || got.Signal.Name != "SIGSTOP" {
				t.Errorf("signal %+v, want SIGSTOP for a gcore snapshot", got.Signal)
			}
		case harness.Abort:
			if got.Signal == nil || got.Signal.Name != "SIGABRT" {
				t.Errorf("signal %+v, want SIGABRT", got.Signal)
			}
			// os.abort() keeps the GIL: the crashing thread holds it.
			if !got.GIL.Known || !got.GIL.Held || got.GIL.HolderThreadID == nil || *got.GIL.HolderThreadID != crasher {
				t.Errorf("GIL %+v, want held by the crashing thread %d", got.GIL, crasher)
			}
		case harness.Segv:
			if got.Signal == nil || got.Signal.Name != "SIGSEGV" || got.Signal.Address != "0x0" {
				t.Errorf("signal %+v, want SIGSEGV at 0x0", got.Signal)
			}
			// ctypes releases the GIL around the foreign call.
			if !got.GIL.Known || got.GIL.Held {
				t.Errorf("GIL %+v, want known and released", got.GIL)
			}
		}
	})
}
