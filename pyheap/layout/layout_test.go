package layout

import "testing"

func TestOffsetAdd(t *testing.T) {
	for _, tc := range []struct {
		off  Offset
		base uint64
		want uint64
		has  bool
	}{
		{0, 0x1000, 0x1000, true},
		{24, 0x7f00_0000_1000, 0x7f00_0000_1018, true},
		{Missing, 0x7f00_0000_1000, NoField, false},
	} {
		if got := tc.off.Add(tc.base); got != tc.want {
			t.Errorf("Offset(%d).Add(0x%x) = 0x%x, want 0x%x", tc.off, tc.base, got, tc.want)
		}
		if tc.off.Has() != tc.has {
			t.Errorf("Offset(%d).Has() = %v", tc.off, !tc.has)
		}
	}
	// A member of a missing member (or an item past it) stays recognisable.
	if a := Offset(16).Add(Offset(Missing).Add(0x1000)) + 8*1000; !IsNoField(a) {
		t.Errorf("0x%x: sums onto NoField must stay NoField", a)
	}
	if IsNoField(0x7fff_ffff_f000) || IsNoField(0xffff_ffff_ff60_0000) {
		t.Error("canonical addresses taken for NoField")
	}
}

func TestFlagIn(t *testing.T) {
	if !Flag(16).In(0x10) || Flag(16).In(0x20) {
		t.Error("Flag.In tests its bit")
	}
	// A missing flag is -1, every bit set: it must never match.
	if Flag(Missing).In(^uint64(0)) || Flag(Missing).Has() {
		t.Error("a missing flag matched")
	}
}

// TestCommittedTables checks what the feature checks and Minor say of each
// committed table, against the versions' documented history.
func TestCommittedTables(t *testing.T) {
	for _, v := range Versions() {
		l, err := ForVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		m := l.Minor
		if want := minorNumber(v); m != want {
			t.Errorf("%s: Minor %d", v, m)
		}
		checks := []struct {
			name      string
			got, want bool
		}{
			{"HasInterpreterFrames", l.HasInterpreterFrames(), m >= 11},
			{"HasLongTag", l.HasLongTag(), m >= 12},
			{"HasManagedDict", l.HasManagedDict(), m >= 11},
			{"HasInlineValues", l.HasInlineValues(), m >= 13},
			{"HasManagedValuesPointer", l.HasManagedValuesPointer(), m == 11},
			{"TaggedManagedDictSlot", l.TaggedManagedDictSlot(), m == 12},
			{"HasLog2DictKeys", l.HasLog2DictKeys(), m >= 11},
			{"HasUnicodeReady", l.HasUnicodeReady(), m < 12},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %s() = %v, want %v", v, c.name, c.got, c.want)
			}
		}
	}
}
