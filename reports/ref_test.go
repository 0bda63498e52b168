package reports

import (
	"encoding/json"
	"testing"

	"github.com/pycoroner/pycoroner/pyheap"
)

// The structured fields of a reference sit beside its via text, with only
// the fields its kind has.
func TestHolderJSONRefFields(t *testing.T) {
	for _, tc := range []struct {
		ref  pyheap.Ref
		want string
	}{
		{pyheap.Ref{Kind: pyheap.RefKey, Name: "'CACHE'"}, `{"kind":"object","address":"0x1000","type":"dict","via":"key 'CACHE'","via_kind":"key","via_name":"'CACHE'"}`},
		{pyheap.Ref{Kind: pyheap.RefItem, Index: 0}, `{"kind":"object","address":"0x1000","type":"dict","via":"item 0","via_kind":"item","via_index":0}`},
		{pyheap.Ref{Kind: pyheap.RefWord, Offset: 24}, `{"kind":"object","address":"0x1000","type":"dict","via":"word at +0x18","via_kind":"word","via_offset":24,"conservative":true}`},
		{pyheap.Ref{Kind: pyheap.RefElement}, `{"kind":"object","address":"0x1000","type":"dict","via":"element","via_kind":"element","conservative":true}`},
		{pyheap.Ref{}, `{"kind":"object","address":"0x1000","type":"dict","via":"?","via_kind":"unknown","conservative":true}`},
	} {
		h := Holder{Kind: "object", Address: 0x1000, Type: "dict", Via: tc.ref, Conservative: tc.ref.Kind != pyheap.RefKey && tc.ref.Kind != pyheap.RefItem}
		got, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.ref, got, tc.want)
		}
	}
}
