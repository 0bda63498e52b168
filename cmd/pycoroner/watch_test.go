package main

import (
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestAmbiguitiesSaidOnce: an --until condition's ambiguous names are said
// on stderr once each, when first seen, however many polls see them; the
// report lists each once, in the order first seen, with the latest
// addresses.
func TestAmbiguitiesSaidOnce(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	a := &ambiguities{}
	if got := a.lines(); got == nil || len(got) != 0 {
		t.Errorf("no warnings: lines() = %#v, want []", got)
	}
	a.add(map[string]string{})
	a.add(map[string]string{"b:X": "b:X old"})
	a.add(map[string]string{"b:X": "b:X new", "a:Y": "a:Y"})
	a.add(map[string]string{"a:Y": "a:Y"})
	os.Stderr = saved
	w.Close()
	said, _ := io.ReadAll(r)
	wantSaid := "warning: b:X old\nwarning: a:Y\n"
	if string(said) != wantSaid {
		t.Errorf("stderr %q, want %q", said, wantSaid)
	}
	if got, want := a.lines(), []string{"b:X new", "a:Y"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines() = %q, want %q", got, want)
	}
	if strings.Count(string(said), "\n") != 2 {
		t.Errorf("stderr %q: want 2 lines", said)
	}
}
