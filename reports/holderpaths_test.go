package reports

import (
	"encoding/json"
	"testing"

	"github.com/pycoroner/pycoroner/pyheap"
	"github.com/pycoroner/pycoroner/pyheap/census"
)

// TestPathedHolderJSON: one valid object, the holder's own members plus
// "path" (null, or the path as `path` prints it).
func TestPathedHolderJSON(t *testing.T) {
	via := "__dict__"
	path := &RefPath{Root: PathRoot{Kind: "module", Name: "sys.modules[\"m\"]"},
		Hops: []Hop{{Address: "0x20", Type: "module"}, {Via: &via, Address: "0x10", Type: "dict"}}}
	for _, h := range []PathedHolder{
		{Holder: Holder{Kind: "frame", ThreadID: 7, Function: "f", Filename: "a.py", Line: 3, Name: "x"}},
		{Holder: Holder{Kind: "object", Address: 0x10, Type: "dict", Via: pyheap.Ref{Kind: census.RefKey, Name: "'a'"}}, Path: path},
	} {
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: not JSON: %v", b, err)
		}
		hb, _ := h.Holder.MarshalJSON()
		var want map[string]any
		if err := json.Unmarshal(hb, &want); err != nil {
			t.Fatal(err)
		}
		pb, _ := json.Marshal(h.Path)
		var p any
		json.Unmarshal(pb, &p)
		want["path"] = p
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("got  %s\nwant %s", gb, wb)
		}
	}
}
