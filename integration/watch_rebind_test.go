package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWatchFollowsARebinding: `WATCHED = WATCHED + [x]` binds the watched
// name to a new list and frees the old one. watch must catch the binding
// itself, at its line, call it a rebinding, and go on watching the new
// list: the next hit is the append to it, not the allocator writing into
// the old list's memory (which watch used to describe as a resize of a
// list that no longer existed). Deleting the name ends the watch, said as
// such (it was taken for the name bound again to the same list).
func TestWatchFollowsARebinding(t *testing.T) {
	needBreakpoints(t)
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := startLive(t, ctx, in, "rebind")
			var m struct {
				Rebind struct {
					Function   string `json:"function"`
					Filename   string `json:"filename"`
					RebindLine int    `json:"rebind_line"`
					AppendLine int    `json:"append_line"`
					DelLine    int    `json:"del_line"`
					OldList    string `json:"old_list"`
				} `json:"rebind"`
			}
			if err := l.Oracle.DecodeMarkers(&m); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w := startWatch(t, ctx, &out, "watch", strconv.Itoa(l.PID), "--on-change", "__main__:WATCHED",
				"--count", "20", "-o", t.TempDir(), "--timeout", "60s", "--json")
			if err := unix.Tgkill(l.PID, l.PID, unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			if err := w.cmd.Wait(); err != nil {
				t.Fatalf("watch: %v\n%s\n%s", err, out.Bytes(), w.stderr())
			}
			var got struct {
				Watchpoints []struct{ What string } `json:"watchpoints"`
				Hits        []struct {
					Wrote   string       `json:"wrote"`
					Change  string       `json:"change"`
					Rebound bool         `json:"rebound"`
					Unbound bool         `json:"unbound"`
					Resize  bool         `json:"resize"`
					Thread  oracleThread `json:"thread"`
				} `json:"hits"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("watch --json: %v\n%s", err, out.Bytes())
			}
			binding := false
			for _, wp := range got.Watchpoints {
				binding = binding || strings.Contains(wp.What, "binding")
			}
			if !binding {
				t.Errorf("no watchpoint on the name's binding: %+v", got.Watchpoints)
			}
			// The rebinding, the append's writes to the new list (its
			// length, and its item array when it grows), the deletion.
			if n := len(got.Hits); n < 3 || n >= 20 {
				t.Fatalf("want the rebinding, the append and the deletion, got %s", out.Bytes())
			}
			lineOf := func(i int) int {
				if len(got.Hits[i].Thread.Frames) == 0 {
					t.Fatalf("hit %d has no Python frame: %s", i+1, out.Bytes())
				}
				f := got.Hits[i].Thread.Frames[0]
				if f.Function != m.Rebind.Function || f.Filename != m.Rebind.Filename {
					t.Errorf("hit %d in %s (%s), want %s", i+1, f.Function, f.Filename, m.Rebind.Function)
				}
				return f.Line
			}
			first, last := got.Hits[0], got.Hits[len(got.Hits)-1]
			if !first.Rebound || lineOf(0) != m.Rebind.RebindLine || !strings.Contains(first.Change, "now names <list at") ||
				!strings.Contains(strings.ToLower(first.Change), strings.ToLower(m.Rebind.OldList)) {
				t.Errorf("hit 1: %+v at line %d; want the rebinding at line %d, naming the old list %s", first, lineOf(0), m.Rebind.RebindLine, m.Rebind.OldList)
			}
			for i, h := range got.Hits[1 : len(got.Hits)-1] {
				if h.Rebound || h.Unbound || lineOf(i+1) != m.Rebind.AppendLine {
					t.Errorf("hit %d: %+v at line %d; want a write to the new list by the append at line %d", i+2, h, lineOf(i+1), m.Rebind.AppendLine)
				}
			}
			if !last.Unbound || lineOf(len(got.Hits)-1) != m.Rebind.DelLine || !strings.Contains(last.Change, "no longer names an object") {
				t.Errorf("last hit: %+v at line %d; want the deletion at line %d, ending the watch", last, lineOf(len(got.Hits)-1), m.Rebind.DelLine)
			}
			code, output, err := l.Wait(30 * time.Second)
			if err != nil || code != 0 || !strings.Contains(output, "finished normally") {
				t.Errorf("the program did not finish normally: exit %d, %v\n%s", code, err, output)
			}
		})
	}
}

// TestWatchNoticesAnUnseenRebinding: a module that gains many globals
// moves its dict's table, and the watched name's binding with it, where
// no breakpoint is; a rebinding then, with the old list kept alive and
// never written, gives no hit. When the watch times out, it looks again
// and warns that the name now names another object.
func TestWatchNoticesAnUnseenRebinding(t *testing.T) {
	needBreakpoints(t)
	src := `import signal, sys, time
X = [0]
KEEP = X
def grow(signum, frame):
    global X
    for i in range(300):
        globals()["G%d" % i] = i
    X = ["new"]
    print("done", hex(id(X)), flush=True)
signal.signal(signal.SIGUSR1, grow)
print("ready", flush=True)
while True:
    time.sleep(0.05)
`
	forEachScript(t, "grow.py", src, func(t *testing.T, ctx context.Context, s runningScript) {
		lines := s.lines
		if l, err := lines.ReadString('\n'); err != nil || !strings.HasPrefix(l, "ready") {
			t.Fatalf("the script did not start: %q %v", l, err)
		}
		var out bytes.Buffer
		w := startWatch(t, ctx, &out, "watch", strconv.Itoa(s.pid()), "--on-change", "__main__:X",
			"-o", t.TempDir(), "--timeout", "3s", "--json")
		if err := unix.Kill(s.pid(), unix.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		done, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("the script did not rebind X: %v", err)
		}
		newList := strings.TrimSpace(strings.TrimPrefix(done, "done"))
		if err := w.cmd.Wait(); err != nil {
			t.Fatalf("watch: %v\n%s", err, w.stderr())
		}
		var got struct {
			Hits     []struct{ Rebound bool } `json:"hits"`
			TimedOut bool                     `json:"timed_out"`
			Warnings []string                 `json:"warnings"`
		}
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%v\n%s", err, out.Bytes())
		}
		if len(got.Hits) > 0 && got.Hits[0].Rebound {
			t.Skipf("this build's dict kept the binding in place: the rebinding was caught (%s)", out.Bytes())
		}
		said := false
		for _, w := range got.Warnings {
			said = said || strings.Contains(w, "now names <list at "+newList)
		}
		if !got.TimedOut || !said {
			t.Errorf("want a timeout that warns __main__:X now names the list at %s: %s", newList, out.Bytes())
		}
	})
}
