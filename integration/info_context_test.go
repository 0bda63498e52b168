package integration

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// TestInfoArgvAndCwd checks that info reads sys.argv from the heap and the
// starting PWD from the environment on the stack, against what the process
// said (gcore records no arguments at all; a crash core keeps 80 bytes).
func TestInfoArgvAndCwd(t *testing.T) {
	forEachCoreMode(t, "threads", []harness.Mode{harness.Gcore, harness.Abort}, func(t *testing.T, res *harness.Result) {
		raw, err := os.ReadFile(res.OraclePath)
		if err != nil {
			t.Fatal(err)
		}
		var want struct {
			Argv       []string `json:"argv"`
			EnvironPWD *string  `json:"environ_pwd"`
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if len(want.Argv) == 0 {
			t.Fatal("the oracle records no argv: regenerate the cores")
		}
		r := pycoroner(t, "info", "--json", res.CorePath)
		if r.code != 0 {
			t.Fatalf("info exited %d: %s", r.code, r.stderr)
		}
		var got struct {
			Argv      []string `json:"argv"`
			ArgvError string   `json:"argv_error"`
			Cwd       string   `json:"cwd"`
		}
		if err := json.Unmarshal(r.stdout, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Argv, want.Argv) || got.ArgvError != "" {
			t.Errorf("argv %q (error %q); the process had %q", got.Argv, got.ArgvError, want.Argv)
		}
		wantCwd := ""
		if want.EnvironPWD != nil {
			wantCwd = *want.EnvironPWD
		}
		if got.Cwd != wantCwd {
			t.Errorf("cwd %q; the process's PWD was %q", got.Cwd, wantCwd)
		}
	})
}
