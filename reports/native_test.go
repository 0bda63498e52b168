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
