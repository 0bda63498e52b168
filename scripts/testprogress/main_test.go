package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestReadSummarisesAndFails(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		ok     bool
		want   []string
	}{
		{
			name: "all pass",
			stream: `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"noise\n"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":6}
{"Action":"pass","Package":"p","Elapsed":6.5}
`,
			ok:   true,
			want: []string{"pass p TestA (6s)", "ok   p (6.5s)", "1 packages, 1 top-level tests", "all passed"},
		},
		{
			name: "a failure shows its output and fails the run",
			stream: `{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"want 1, got 2\n"}
{"Action":"fail","Package":"p","Test":"TestB","Elapsed":0.1}
{"Action":"fail","Package":"p","Elapsed":0.2}
`,
			ok:   false,
			want: []string{"FAIL p TestB", "want 1, got 2", "FAIL p (200ms)", "FAILED: TestB, p"},
		},
		{
			name: "a timeout names the tests still running, with their last output",
			stream: `{"Action":"run","Package":"p","Test":"TestSlow"}
{"Action":"output","Package":"p","Test":"TestSlow","Output":"panic: test timed out after 20m0s\n"}
{"Action":"fail","Package":"p","Elapsed":1200}
`,
			ok:   false,
			want: []string{"FAIL p (20m0s)", "UNFINISHED p TestSlow", "panic: test timed out after 20m0s"},
		},
		{
			name:   "a stream cut short is a failure",
			stream: `{"Action":"run","Package":"p","Test":"TestC"}` + "\n",
			ok:     false,
			want:   []string{"ended without a result"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &state{running: map[string]time.Time{}, output: map[string][]string{}}
			var out bytes.Buffer
			if ok := s.read(strings.NewReader(tc.stream), &out); ok != tc.ok {
				t.Errorf("ok = %v; want %v\n%s", ok, tc.ok, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
