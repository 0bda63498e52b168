package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// TestModuleBodyGlobalsNamedByModule: a script blocked at its top level
// runs a module body, whose locals are its module's globals. A global is
// named as the module's (sys.modules["__main__"] › __dict__ › key 'HELD'),
// as leaks names it, not as a local of the <module> frame.
func TestModuleBodyGlobalsNamedByModule(t *testing.T) {
	src := "import sys, time\nHELD = ['held', 'at', 'the', 'top']\nprint(hex(id(HELD)), flush=True)\ntime.sleep(600)\n"
	forEachScript(t, "toplevel.py", src, func(t *testing.T, _ context.Context, s runningScript) {
		line, err := s.lines.ReadString('\n')
		if err != nil {
			t.Fatalf("the script printed nothing: %v", err)
		}
		addr := strings.TrimSpace(line) // the process's own id(HELD)
		var paths []heapPath
		heapJSON(t, &paths, coreRef{path: ""}, "path", "--all", "--pid", strconv.Itoa(s.pid()), addr)
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
