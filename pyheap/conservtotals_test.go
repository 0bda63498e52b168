package pyheap

import (
	"strings"
	"testing"
)

// Saved conservative counts are refused unless they hold together with
// the census: the same number of types, only modules, none beyond their
// type's objects or bytes, no bytes without objects. Two indexes of one type add up.
func TestConservativeFromSaved(t *testing.T) {
	mod, other := &Type{Name: "module", Kind: KindModule}, &Type{Name: "dict", Kind: KindDict}
	types := []*Type{mod, other, mod}
	all, sizes := []int{10, 5, 3}, []int64{800, 400, 240}
	tests := []struct {
		name          string
		counts, bytes []uint64
		want          string // "" for accepted
	}{
		{"modules", []uint64{4, 0, 1}, []uint64{320, 0, 80}, ""},
		{"none", []uint64{0, 0, 0}, []uint64{0, 0, 0}, ""},
		{"not a module", []uint64{0, 1, 0}, []uint64{0, 80, 0}, "not modules"},
		{"more than its type has", []uint64{11, 0, 0}, []uint64{80, 0, 0}, "not modules"},
		{"more bytes than its type's", []uint64{1, 0, 0}, []uint64{801, 0, 0}, "not modules"},
		{"bytes without objects", []uint64{0, 0, 0}, []uint64{0, 0, 8}, "not modules"},
		{"too short", []uint64{0, 0}, []uint64{0, 0, 0}, "for 3 types"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := conservativeFromSaved(tt.counts, tt.bytes, types, all, sizes)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			case tt.want == "" && tt.name == "modules" && got[mod] != (ConservativeTotal{Count: 5, Size: 400}):
				t.Fatalf("modules: %+v, want 5 objects of 400 bytes", got[mod])
			}
		})
	}
}
