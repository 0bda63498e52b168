package integration

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWatchKilledLeavesNothingArmed: SIGKILL pycoroner while it watches
// sys:path, then make the program write sys.path. A breakpoint left armed
// in the program's threads kills it with SIGTRAP at that write (debug
// registers set with PTRACE_POKEUSER outlive their tracer); it must
// instead finish normally.
func TestWatchKilledLeavesNothingArmed(t *testing.T) {
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "syspath_culprit")
			var out bytes.Buffer
			w := startWatch(t, ctx, &out, "watch", strconv.Itoa(l.PID), "--on-change", "sys:path", "-o", t.TempDir(), "--json")
			w.cmd.Process.Signal(unix.SIGKILL)
			w.cmd.Wait()
			// The kernel detaches the tracees of a dead tracer; wait for it.
			for i := 0; i < 600; i++ {
				if ok, _ := l.Running(); ok {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if ok, why := l.Running(); !ok {
				t.Fatalf("after SIGKILL of watch the process is not running freely: %s\n%s", why, l.Describe())
			}
			// The cue to run culprit(), which inserts into sys.path.
			if err := unix.Tgkill(l.PID, l.PID, unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			code, output, err := l.Wait(time.Minute)
			if err != nil || code != 0 || !strings.Contains(output, "finished normally") {
				t.Errorf("the program did not finish normally after writing the object a killed watch watched: exit %d, %v\n%s", code, err, output)
			}
		})
	}
}
