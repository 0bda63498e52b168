package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestModuleBodyGlobalsNamedByModule: a script blocked at its top level
// runs a module body, whose locals are its module's globals. A global is
// named as the module's (sys.modules["__main__"] › __dict__ › key 'HELD'),
// as leaks names it, not as a local of the <module> frame.
func TestModuleBodyGlobalsNamedByModule(t *testing.T) {
	script := filepath.Join(t.TempDir(), "toplevel.py")
	src := "import sys, time\nHELD = ['held', 'at', 'the', 'top']\nprint(hex(id(HELD)), flush=True)\ntime.sleep(600)\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			argv := in.Command(script)
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("the script printed nothing: %v", err)
			}
			addr := strings.TrimSpace(line) // the process's own id(HELD)
			var paths []heapPath
			heapJSON(t, &paths, coreRef{path: ""}, "path", "--all", "--pid", strconv.Itoa(cmd.Process.Pid), addr)
			want := `sys.modules["__main__"] › __dict__ › key 'HELD'`
			found := false
			for _, p := range paths {
				if p.Root.Kind == "local" {
					t.Errorf("a global named as a frame's local: %s", p.Root.Name)
				}
				vias := []string{p.Root.Name}
				for _, h := range p.Hops[1:] {
					vias = append(vias, *h.Via)
				}
				found = found || strings.Join(vias, " › ") == want
			}
			if !found {
				t.Errorf("no path %s among %+v", want, paths)
			}
		})
	}
}
