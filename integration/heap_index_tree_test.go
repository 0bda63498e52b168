package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// The dominator tree saved beside the census index (docs/design.md): a
// damaged tree, damaged tree arrays and a damaged census under a leak
// command are each noticed and rebuilt with a warning, and diff answers
// the same with saved trees.

// A damaged saved dominator tree is noticed, named in a warning, computed
// again and saved, and the answer is the same; one of another census (the
// census index rebuilt since) is computed again without a warning.
func TestHeapDamagedDominatorTreeRebuilt(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	var m harness.ThreadsMarkers
	if err := res.Oracle.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"retained", "--json", res.CorePath, m.MarkedList.Address}
	want := runIndexed(t, dir, args...)
	if want.code != 0 || !strings.Contains(string(want.stderr), "index: saved "+dir+"/dominators-") {
		t.Fatalf("exit %d, no dominator tree saved: %s", want.code, want.stderr)
	}
	file, data := savedFile(t, dir, "dominators-*.pycidx")
	for name, damage := range fileDamages {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(file, damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
			got := runIndexed(t, dir, args...)
			if got.code != 0 || !bytes.Equal(resultOf(t, got.stdout), resultOf(t, want.stdout)) {
				t.Fatalf("exit %d, answer differs after the dominator tree was damaged: %s", got.code, got.stderr)
			}
			if !strings.Contains(string(got.stderr), "warning: saved ") || !strings.Contains(string(got.stderr), "index: saved "+dir+"/dominators-") {
				t.Errorf("no warning about the damaged dominator tree, or not saved again: %s", got.stderr)
			}
			again := runIndexed(t, dir, args...)
			if !bytes.Equal(resultOf(t, again.stdout), resultOf(t, want.stdout)) || !strings.Contains(string(again.stderr), "index: loaded "+dir+"/dominators-") || strings.Contains(string(again.stderr), "warning") {
				t.Errorf("the saved dominator tree was not used, or answered differently: %s", again.stderr)
			}
		})
	}
	t.Run("other census", func(t *testing.T) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// The census index saved again (--force): a new census of the same
		// core, whose arrays need not be laid out alike (the type table's
		// order follows the census workers). The tree records the
		// fingerprint of the census index it was computed from: it is
		// used with the same census only, else computed again, without a
		// warning (nothing was damaged).
		if r := runIndexed(t, dir, "index", "--force", "--census-only", res.CorePath); r.code != 0 {
			t.Fatalf("index --force: exit %d: %s", r.code, r.stderr)
		}
		got := runIndexed(t, dir, args...)
		if !bytes.Equal(resultOf(t, got.stdout), resultOf(t, want.stdout)) || strings.Contains(string(got.stderr), "warning") {
			t.Fatalf("answer differs, or a warning, after the census index was saved again: %s", got.stderr)
		}
		again := runIndexed(t, dir, args...)
		if !bytes.Equal(resultOf(t, again.stdout), resultOf(t, want.stdout)) || strings.Contains(string(again.stderr), "warning") ||
			!strings.Contains(string(again.stderr), "index: loaded "+dir+"/dominators-") {
			t.Fatalf("answer differs, or a warning, after the census index was saved again: %s", got.stderr)
		}
	})
}

// A leak command reads only the arrays of a saved dominator tree it uses:
// damage anywhere in the file changes no answer, and whichever command
// first reads the damaged array says so and saves the tree again.
func TestHeapDamagedTreeArraysNoticedWhenRead(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	var m harness.ThreadsMarkers
	if err := res.Oracle.DecodeMarkers(&m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmds := [][]string{
		{"leaks", "--json", "--min-share", "0.01", res.CorePath},
		{"top", "--json", res.CorePath},
		{"top", "--json", "--by", "type", res.CorePath},
		{"instances", "--json", "--top", "3", res.CorePath, "dict"},
		{"retained", "--json", res.CorePath, m.MarkedList.Address},
	}
	want := make([][]byte, len(cmds))
	for i, args := range cmds {
		r := runIndexed(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		want[i] = resultOf(t, r.stdout)
	}
	file, data := savedFile(t, dir, "dominators-*.pycidx")
	// Every array of the tree is about as long as the next (4 bytes per
	// object): eighths of the file land in each of them.
	noticed := 0
	for k := 1; k < 8; k++ {
		damaged := bytes.Clone(data)
		damaged[len(damaged)*k/8] ^= 0x10
		if err := os.WriteFile(file, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		for i, args := range cmds {
			got := runIndexed(t, dir, args...)
			if got.code != 0 || !bytes.Equal(resultOf(t, got.stdout), want[i]) {
				t.Fatalf("byte %d/8 flipped, %v: exit %d, answer differs: %s", k, args, got.code, got.stderr)
			}
			if strings.Contains(string(got.stderr), "warning") {
				if !strings.Contains(string(got.stderr), "warning: saved dominator tree") || !strings.Contains(string(got.stderr), "index: saved "+dir+"/dominators-") {
					t.Fatalf("byte %d/8 flipped, %v: a warning not about the tree, or the tree not saved again: %s", k, args, got.stderr)
				}
				noticed++
				break // the tree is whole again
			}
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The immediate dominators (the first array) are read by no leak
	// command; every other eighth is.
	if noticed < 6 {
		t.Errorf("damage noticed in %d of 7 places, want at least 6", noticed)
	}
}

// A leak command that must compute the dominator tree reads the parts of
// the saved census it had not read; damage in any of them (or in those it
// had) means the census is taken again, with a warning, and the same
// answer.
func TestHeapLeakCommandRetakesDamagedCensus(t *testing.T) {
	in := interpreters(t)[0]
	res := cachedCore(t, in, "threads", harness.Gcore)
	dir := t.TempDir()
	args := []string{"leaks", "--json", "--min-share", "0.01", res.CorePath}
	want := runIndexed(t, dir, append([]string{"--no-index"}, args...)...)
	if want.code != 0 {
		t.Fatalf("exit %d: %s", want.code, want.stderr)
	}
	if r := runIndexed(t, dir, "histogram", res.CorePath); r.code != 0 {
		t.Fatalf("histogram: exit %d: %s", r.code, r.stderr)
	}
	file, data := savedFile(t, dir, "census-*.pycidx")
	retaken := 0
	for k := 1; k < 8; k++ {
		for _, f := range []string{"census-*.pycidx", "dominators-*.pycidx"} {
			old, _ := filepath.Glob(filepath.Join(dir, f))
			for _, o := range old {
				os.Remove(o)
			}
		}
		damaged := bytes.Clone(data)
		damaged[len(damaged)*k/8] ^= 0x10
		if err := os.WriteFile(file, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		got := runIndexed(t, dir, args...)
		if got.code != 0 || !bytes.Equal(resultOf(t, got.stdout), resultOf(t, want.stdout)) {
			t.Fatalf("byte %d/8 of the census index flipped: exit %d, answer differs: %s", k, got.code, got.stderr)
		}
		if strings.Contains(string(got.stderr), "index: loaded "+dir+"/census-") && strings.Contains(string(got.stderr), "index: saved "+dir+"/census-") {
			retaken++ // restored with the parts leaks reads, then taken again
		}
		if !strings.Contains(string(got.stderr), "the census was taken again") || !strings.Contains(string(got.stderr), "index: saved "+dir+"/dominators-") {
			t.Errorf("byte %d/8 of the census index flipped: no warning, or the tree not saved: %s", k, got.stderr)
		}
	}
	// Some eighth lands in a part leaks does not read before it computes
	// the tree (the sizes, the out-edges).
	if retaken == 0 {
		t.Error("no damage was found only when the tree was computed: the test misses that case")
	}
}

// diff compares the out-edges of its newer core: with that core's
// dominator tree saved by an earlier leak command (mapped, no out-edges
// built), it answers as without any index.
func TestHeapDiffWithSavedDominatorTree(t *testing.T) {
	in := interpreters(t)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pair, err := harness.CachedCorePair(ctx, in, "diff")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"diff", "--json", "--new", "Session", "--max-new", "0", pair.First.CorePath, pair.Second.CorePath}
	plain := runIndexed(t, dir, append([]string{"--no-index"}, args...)...)
	if plain.code != 0 {
		t.Fatalf("--no-index: exit %d: %s", plain.code, plain.stderr)
	}
	if r := runIndexed(t, dir, "leaks", pair.Second.CorePath); r.code != 0 || !strings.Contains(string(r.stderr), "index: saved "+dir+"/dominators-") {
		t.Fatalf("leaks: exit %d, no dominator tree saved: %s", r.code, r.stderr)
	}
	got := runIndexed(t, dir, args...)
	if got.code != 0 || !strings.Contains(string(got.stderr), "index: loaded "+dir+"/dominators-") {
		t.Fatalf("diff: exit %d, the saved dominator tree not used: %s", got.code, got.stderr)
	}
	if !bytes.Equal(resultOf(t, got.stdout), resultOf(t, plain.stdout)) {
		t.Errorf("diff with the saved dominator tree differs from --no-index:\n%s\n--- without the index:\n%s", got.stdout, plain.stdout)
	}
}
