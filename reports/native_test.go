package reports

import (
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/coreread/unwind"
)

func TestMergeFramesReplacesEachEvalLoopCall(t *testing.T) {
	py := func(name string, entry bool) Frame { return Frame{Kind: "python", Function: name, entry: entry} }
	nat := func(name string, inlined bool) unwind.Frame { return unwind.Frame{Function: name, Inlined: inlined} }
	tests := []struct {
		name   string
		py     []Frame
		native []unwind.Frame
		want   string
		errs   int
	}{
		{
			name:   "3.11+: one eval call runs several frames",
			py:     []Frame{py("leaf", false), py("mid", true), py("gen", true)},
			native: []unwind.Frame{nat("futex", false), nat("_PyEval_EvalFrameDefault", false), nat("gen_send", false), nat("_PyEval_EvalFrameDefault", false), nat("start_thread", false)},
			want:   "C:futex py:leaf py:mid C:gen_send py:gen C:start_thread",
		},
		{
			name:   "before 3.11: one eval call per frame",
			py:     []Frame{py("a", true), py("b", true)},
			native: []unwind.Frame{nat("_PyEval_EvalFrameDefault", false), nat("call", false), nat("_PyEval_EvalFrameDefault", false)},
			want:   "py:a C:call py:b",
		},
		{
			name:   "an inlined eval-loop name is not a call of it",
			py:     []Frame{py("a", true)},
			native: []unwind.Frame{nat("_PyEval_EvalFrameDefault", true), nat("_PyEval_EvalFrameDefault", false)},
			want:   "C:_PyEval_EvalFrameDefault py:a",
		},
		{
			name:   "Python frames left over are kept and said so",
			py:     []Frame{py("a", true), py("b", true)},
			native: []unwind.Frame{nat("_PyEval_EvalFrameDefault", false)},
			want:   "py:a py:b",
			errs:   1,
		},
		{
			name:   "3.14's tail-calling opcode handlers belong to the eval call below them",
			py:     []Frame{py("a", true)},
			native: []unwind.Frame{nat("PyObject_Vectorcall", false), nat("_TAIL_CALL_CALL", false), nat("_PyEval_EvalFrameDefault", false)},
			want:   "C:PyObject_Vectorcall py:a",
		},
		{
			name:   "the loop's split-off part (a stripped PGO build's .cold) runs Python frames too",
			py:     []Frame{py("leaf", false), py("main", true)},
			native: []unwind.Frame{nat("sem_wait", false), nat("_PyEval_EvalFrameDefault.cold", false), nat("PyEval_EvalCode", false)},
			want:   "C:sem_wait py:leaf py:main C:PyEval_EvalCode",
		},
		{
			name:   "more eval frames than Python frames keeps the native frame",
			py:     nil,
			native: []unwind.Frame{nat("_PyEval_EvalFrameDefault", false)},
			want:   "C:_PyEval_EvalFrameDefault",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := mergeFrames(tc.py, unwind.Stack{Frames: tc.native, Complete: true}, nil)
			var names []string
			for _, f := range got {
				if f.Kind == "native" {
					names = append(names, "C:"+f.Function)
				} else {
					names = append(names, "py:"+f.Function)
				}
			}
			if s := strings.Join(names, " "); s != tc.want {
				t.Errorf("merged %q; want %q", s, tc.want)
			}
			if len(errs) != tc.errs {
				t.Errorf("errors %q; want %d", errs, tc.errs)
			}
		})
	}
}

func TestMergeNativeMatchesThreadsByNativeID(t *testing.T) {
	id := func(n int) *int { return &n }
	s := &Stacks{Threads: []Thread{
		{ThreadID: 1, NativeThreadID: id(100), Frames: []Frame{{Kind: "python", Function: "main", entry: true}}},
		{ThreadID: 2, NativeThreadID: id(200), Frames: []Frame{{Kind: "python", Function: "work", entry: true}}},
		{ThreadID: 3, Frames: []Frame{}},
	}}
	s.MergeNative([]unwind.Stack{
		{TID: 100, Complete: true, Frames: []unwind.Frame{{Function: "sem_wait"}, {Function: "_PyEval_EvalFrameDefault"}}},
		{TID: 300, Complete: false, Note: "stack looks corrupt", Frames: []unwind.Frame{{Function: "epoll_wait"}}},
	})
	s.MarkCrashed(&CrashSite{NativeThreadID: 300})
	if f := s.Threads[0].Frames; len(f) != 2 || f[0].Function != "sem_wait" || f[1].Function != "main" {
		t.Errorf("thread 100 frames %+v", f)
	}
	if e := s.Threads[1].Errors; len(e) != 1 || !strings.Contains(e[0], "native thread 200 is not in the core") {
		t.Errorf("thread 200 errors %q", e)
	}
	if e := s.Threads[2].Errors; len(e) != 1 || !strings.Contains(e[0], "no native thread id") {
		t.Errorf("thread without a native id: errors %q", e)
	}
	if len(s.Threads) != 4 {
		t.Fatalf("%d threads; want the native-only thread 300 added", len(s.Threads))
	}
	last := s.Threads[3]
	if !last.NativeOnly || *last.NativeThreadID != 300 || !last.Crashed || len(last.Frames) != 1 ||
		!strings.Contains(strings.Join(last.Errors, ""), "stack looks corrupt") {
		t.Errorf("native-only thread %+v", last)
	}
}
