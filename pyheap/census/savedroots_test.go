package census

import (
	"math"
	"reflect"
	"testing"
)

// Roots come back as they were saved, every field; any shorter input, or
// one with bytes after the roots, is an error, not a panic.
func TestRootsRoundTrip(t *testing.T) {
	roots := []Root{
		{Kind: "module", Name: `sys.modules["app"]`, Addr: 0x7f00deadbeef, ID: 42, Interp: 0, Local: "app"},
		{Kind: "local", Name: "thread 3 (worker-1) › frame worker (app.py:42) › local tmp_path", Addr: math.MaxUint64,
			ID: -1, Interp: 7, ThreadID: 140670708095872, ThreadName: "worker-1 ✓", Function: "worker", Filename: "/srv/app.py",
			Line: math.MaxInt32, Local: "tmp_path"},
		{},
	}
	b := encodeRoots(roots)
	got, err := decodeRoots(b)
	if err != nil || !reflect.DeepEqual(got, roots) {
		t.Fatalf("decoded %+v (%v), want %+v", got, err, roots)
	}
	if got, err := decodeRoots(encodeRoots(nil)); err != nil || len(got) != 0 {
		t.Fatalf("no roots: %v, %v", got, err)
	}
	for n := 0; n < len(b); n++ {
		if _, err := decodeRoots(b[:n]); err == nil {
			t.Fatalf("cut to %d of %d bytes: decoded", n, len(b))
		}
	}
	if _, err := decodeRoots(append(b, 0)); err == nil {
		t.Fatal("a byte after the roots: decoded")
	}
	if _, err := decodeRoots([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Fatal("a count of billions in a few bytes: decoded")
	}
}

// Whatever the bytes, decodeRoots returns roots or an error, never
// panics, and roots it returns encode back to the same bytes.
func FuzzDecodeRoots(f *testing.F) {
	f.Add(encodeRoots([]Root{{Kind: "module", Name: "sys", Addr: 1, ID: 2, Line: 3, Local: "x"}}))
	f.Add(encodeRoots(nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		roots, err := decodeRoots(b)
		if err != nil {
			return
		}
		if again := encodeRoots(roots); string(again) != string(b) {
			// Varints have one shortest form; a longer one decodes to the
			// same roots, which is fine, but must then decode again alike.
			if r2, err := decodeRoots(again); err != nil || !reflect.DeepEqual(r2, roots) {
				t.Fatalf("roots %+v re-encode to %x, which decodes to %+v (%v)", roots, again, r2, err)
			}
		}
	})
}
