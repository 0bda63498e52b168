// Command testprogress turns `go test -json` into progress a person can
// follow: each package as it finishes, each slow or failed top-level test,
// every failed test's output, a line every 30 s naming what still runs,
// and a summary. It exits 1 when anything failed (or the stream was cut
// short), so `go test -json ./... | go run ./scripts/testprogress` can
// gate make test.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// event is one line of test2json's output (go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// slowTest is when a passing top-level test is worth a line of its own.
const slowTest = 5 * time.Second

type state struct {
	mu       sync.Mutex
	start    time.Time
	running  map[string]time.Time // "pkg Test" or "pkg" -> start
	output   map[string][]string  // test output, kept until it passes
	failed   []string
	packages int
	tests    int
}

func main() {
	s := &state{start: time.Now(), running: map[string]time.Time{}, output: map[string][]string{}}
	done := make(chan struct{})
	go s.heartbeat(done)
	ok := s.read(os.Stdin, os.Stdout)
	close(done)
	if !ok {
		os.Exit(1)
	}
}

func (s *state) heartbeat(done chan struct{}) {
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			s.mu.Lock()
			var names []string
			for k, t := range s.running {
				names = append(names, fmt.Sprintf("%s (%s)", k, time.Since(t).Round(time.Second)))
			}
			sort.Strings(names)
			if len(names) > 4 {
				names = append(names[:4], fmt.Sprintf("and %d more", len(names)-4))
			}
			fmt.Printf("   ... %s elapsed; running: %s\n", time.Since(s.start).Round(time.Second), strings.Join(names, ", "))
			s.mu.Unlock()
		}
	}
}

func (s *state) read(r io.Reader, w io.Writer) bool {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	sawEnd := false
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(w, string(line)) // go test's own messages (build errors)
			continue
		}
		s.mu.Lock()
		sawEnd = s.handle(w, e) || sawEnd
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "\n%d packages, %d top-level tests in %s", s.packages, s.tests, time.Since(s.start).Round(time.Second))
	if len(s.failed) > 0 {
		fmt.Fprintf(w, "; FAILED: %s\n", strings.Join(s.failed, ", "))
		return false
	}
	if !sawEnd {
		fmt.Fprintln(w, "; the test run ended without a result (killed?)")
		return false
	}
	fmt.Fprintln(w, "; all passed")
	return true
}

// handle prints what one event says; it reports whether a package ended.
func (s *state) handle(w io.Writer, e event) bool {
	key := e.Package
	topLevel := e.Test != "" && !strings.Contains(e.Test, "/")
	if e.Test != "" {
		key += " " + e.Test
	}
	switch e.Action {
	case "start":
		s.running[key] = time.Now()
	case "run":
		if topLevel {
			s.running[key] = time.Now()
		}
	case "output":
		if e.Test != "" {
			s.output[key] = append(s.output[key], e.Output)
		} else if strings.HasPrefix(e.Output, "FAIL") || strings.Contains(e.Output, "panic:") || strings.Contains(e.Output, "[build failed]") {
			fmt.Fprint(w, e.Output)
		}
	case "build-output":
		fmt.Fprint(w, e.Output)
	case "pass", "fail", "skip":
		delete(s.running, key)
		out := s.output[key]
		delete(s.output, key)
		elapsed := time.Duration(e.Elapsed * float64(time.Second)).Round(10 * time.Millisecond)
		switch {
		case e.Test == "":
			s.packages++
			mark := "ok  "
			if e.Action == "fail" {
				mark = "FAIL"
				s.failed = append(s.failed, e.Package)
			}
			fmt.Fprintf(w, "%s %s (%s)\n", mark, e.Package, elapsed)
			if e.Action == "fail" {
				s.unfinished(w, e.Package)
			}
			return true
		case e.Action == "fail":
			if topLevel {
				s.tests++
			}
			fmt.Fprintf(w, "  FAIL %s (%s)\n", key, elapsed)
			for _, l := range out {
				fmt.Fprint(w, "       ", l)
			}
			if topLevel {
				s.failed = append(s.failed, e.Test)
			}
		case topLevel:
			s.tests++
			if elapsed >= slowTest {
				fmt.Fprintf(w, "  %-4s %s (%s)\n", e.Action, key, elapsed)
			}
		}
	}
	return false
}

// unfinished prints the tests of pkg that never ended (a timeout or a
// crash of the test binary ends the package, not them) with the end of
// their output, where go test's "panic: test timed out" lands.
func (s *state) unfinished(w io.Writer, pkg string) {
	var keys []string
	for k := range s.running {
		if strings.HasPrefix(k, pkg+" ") {
			keys = append(keys, k)
		}
	}
	for k := range s.output {
		if strings.HasPrefix(k, pkg+" ") && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out := s.output[k]
		if len(out) > 40 {
			out = out[len(out)-40:]
		}
		fmt.Fprintf(w, "  UNFINISHED %s (still running when the package failed: a timeout or a crash)\n", k)
		for _, l := range out {
			fmt.Fprint(w, "       ", l)
		}
		delete(s.running, k)
		delete(s.output, k)
	}
}
