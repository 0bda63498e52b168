package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/coreread/live"
	"github.com/pycoroner/pycoroner/fixtures/harness"
	"golang.org/x/sys/unix"
)

// signalProgram is a running "signals" scenario: every signal it takes is
// logged by CPython's C-level handler (one byte per delivery).
type signalProgram struct {
	*harness.Live
	log     string
	signals []int // [0] is a standard signal (SIGUSR2), the rest real-time
}

func startSignalProgram(t *testing.T, ctx context.Context, in harness.Interpreter) *signalProgram {
	t.Helper()
	l := startLive(t, ctx, in, "signals")
	var m struct {
		Log     string `json:"signal_log"`
		Signals []int  `json:"signals"`
	}
	if err := l.Oracle.DecodeMarkers(&m); err != nil || m.Log == "" || len(m.Signals) < 2 {
		t.Fatalf("signals scenario markers %+v: %v", m, err)
	}
	return &signalProgram{Live: l, log: m.Log, signals: m.Signals}
}

// received counts the deliveries logged per signal.
func (p *signalProgram) received() map[int]int {
	data, _ := os.ReadFile(p.log)
	out := map[int]int{}
	for _, b := range data {
		out[int(b)]++
	}
	return out
}

// signalSender sends the program signals from a goroutine until stopped:
// real-time signals (queued, so every one counts) every 0.2-2 ms to a
// random thread or to the process, and the standard signal only once the
// previous one arrived (two pending standard signals merge in the kernel,
// which is not a loss).
type signalSender struct {
	p    *signalProgram
	mu   sync.Mutex
	sent map[int]int
	base map[int]int // the log's counts when the sender started
	// bursts counts the times every thread was seen stopped (and sent a
	// signal each).
	bursts int
	stop   chan struct{}
	done   chan struct{}
}

func (p *signalProgram) send(seed int64) *signalSender {
	s := &signalSender{p: p, sent: map[int]int{}, base: p.received(), stop: make(chan struct{}), done: make(chan struct{})}
	rng := rand.New(rand.NewSource(seed))
	go func() {
		defer close(s.done)
		wasHeld := false
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			// Each time pycoroner holds every thread, a signal for each
			// thread and one for the process, at once.
			if held := p.allStopped(); held && !wasHeld {
				wasHeld = true
				s.bursts++
				s.tgkill(0, p.signals[0])
				for _, tid := range p.tids() {
					s.tgkill(tid, p.signals[1+rng.Intn(len(p.signals)-1)])
				}
			} else {
				wasHeld = held
			}
			sig := p.signals[1+rng.Intn(len(p.signals)-1)]
			if rng.Intn(4) == 0 {
				sig = p.signals[0]
			}
			target := 0
			if tids := p.tids(); rng.Intn(3) > 0 && len(tids) > 0 {
				target = tids[rng.Intn(len(tids))]
			}
			s.tgkill(target, sig)
			time.Sleep(time.Duration(200+rng.Intn(1800)) * time.Microsecond)
		}
	}()
	return s
}

// tgkill sends sig to one thread (tid 0: to the process) and counts it;
// the standard signal only when the previous one arrived.
func (s *signalSender) tgkill(tid, sig int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sig == s.p.signals[0] && s.p.received()[sig]-s.base[sig] < s.sent[sig] {
		return
	}
	var err error
	if tid != 0 {
		err = unix.Tgkill(s.p.PID, tid, unix.Signal(sig))
	} else {
		err = unix.Kill(s.p.PID, unix.Signal(sig))
	}
	if err == nil {
		s.sent[sig]++
	}
}

// allStopped reports whether every thread is in a stop (state t or T).
func (p *signalProgram) allStopped() bool {
	tids := p.tids()
	for _, tid := range tids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", p.PID, tid))
		i := bytes.LastIndexByte(data, ')')
		if err != nil || i < 0 || i+2 >= len(data) || (data[i+2] != 't' && data[i+2] != 'T') {
			return false
		}
	}
	return len(tids) > 0
}

func (p *signalProgram) tids() []int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p.PID))
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// finish stops sending and waits (generously) until every signal sent
// was delivered; it returns the number sent and a description of what
// never arrived ("" when nothing was lost).
func (s *signalSender) finish() (sent int, lost string) {
	close(s.stop)
	<-s.done
	deadline := time.Now().Add(time.Minute)
	for {
		got := s.p.received()
		var missing []string
		sent = 0
		for sig, n := range s.sent {
			sent += n
			if d := got[sig] - s.base[sig]; d < n {
				missing = append(missing, fmt.Sprintf("signal %d: %d of %d delivered", sig, d, n))
			}
		}
		if len(missing) == 0 {
			return sent, ""
		}
		if time.Now().After(deadline) {
			return sent, strings.Join(missing, "; ")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLiveSignalsNeverLost sends the program signals throughout every
// live command (attach, pause, copy, detach; watch's arming, hits, polls,
// disarming; a watch that ends at once with --timeout 1ns) and checks
// that its handler ran for every one, and that it runs freely after.
func TestLiveSignalsNeverLost(t *testing.T) {
	for _, in := range interpreters(t) {
		in := in
		t.Run(in.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			p := startSignalProgram(t, ctx, in)
			pid := strconv.Itoa(p.PID)
			// A directory per command: a watch refuses to overwrite the
			// cores an earlier one left (hit-1.core).
			commands := [][]string{
				{"snapshot", pid, "-o", filepath.Join(t.TempDir(), "snap.core")},
				{"stacks", "--pid", pid},
				{"watch", pid, "--on-change", "__main__:WATCHED", "--count", "3", "--timeout", "30s", "-o", t.TempDir()},
				{"watch", pid, "--on-change", "__main__:WATCHED", "--timeout", "1ns", "-o", t.TempDir()},
				{"watch", pid, "--on-change", "sys:path", "--timeout", "1ns", "-o", t.TempDir()},
				{"watch", pid, "--on-change", "sys:path", "--timeout", "500ms", "-o", t.TempDir()},
				{"watch", pid, "--until", "len(__main__:WATCHED) < 0", "--interval", "20ms", "--timeout", "500ms", "-o", t.TempDir()},
			}
			fire := live.BreakpointsFire()
			for i, args := range commands {
				if fire != nil && args[0] == "watch" && args[2] == "--on-change" {
					t.Logf("%v: skipped: %v", args, fire)
					continue
				}
				s := p.send(int64(i))
				time.Sleep(5 * time.Millisecond)
				r := pycoroner(t, args...)
				time.Sleep(5 * time.Millisecond)
				sent, lost := s.finish()
				t.Logf("%v: %d signals sent (%d bursts while every thread was stopped), all delivered: %v", args[:2], sent, s.bursts, lost == "")
				if r.code != 0 {
					t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
				}
				if lost != "" {
					t.Errorf("%v: signals lost (%d sent): %s\n%s", args, sent, lost, p.Describe())
				}
				if ok, why := p.Running(); !ok {
					t.Fatalf("%v: the program is not running freely after: %s\n%s", args, why, p.Describe())
				}
			}
		})
	}
}
