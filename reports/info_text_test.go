package reports

import "testing"

// A row says a value, that the core records none, or that it is unknown
// because the notes are damaged: never the second for the third.
func TestInfoRowsSayUnknownWhenNotesAreDamaged(t *testing.T) {
	pid, seven := 4242, 7
	version := "3.12.1"
	intact := &Info{Complete: true, PID: &pid, NativeThreads: &seven, PythonVersion: &version, Runtime: &RuntimeInfo{Address: "0x10", FoundBy: "symbol _PyRuntime"}}
	snapshot := &Info{Complete: true}
	damaged := &Info{Complete: false, NotesError: "note 0 runs past the end of its segment",
		SignalError: "the core's notes are damaged or cut short: note 0 runs past the end of its segment", threadsRead: 2}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"signal, none recorded", snapshot.signalText(), "none recorded (a snapshot, e.g. gcore)"},
		{"signal, notes damaged", damaged.signalText(), unknownNotes},
		{"pid, read", intact.known(intact.pid(), "no NT_PRPSINFO note"), "4242"},
		{"pid, no NT_PRPSINFO in intact notes", snapshot.known(snapshot.pid(), "no NT_PRPSINFO note"), "unknown (no NT_PRPSINFO note)"},
		{"pid, notes damaged", damaged.known(damaged.pid(), "no NT_PRPSINFO note"), unknownNotes},
		{"threads, read", intact.threadsText(), "7 native, 0 Python"},
		{"threads, notes damaged", damaged.threadsText(), "unknown native (notes unreadable / truncated; 2 read), 0 Python"},
		{"python, found", intact.pythonText(), "3.12.1"},
		{"python, no interpreter", damaged.pythonText(), "unknown (no CPython interpreter found)"},
		{"runtime, found", intact.runtimeText(), "0x10 (symbol _PyRuntime)"},
		{"runtime, none", damaged.runtimeText(), "not found"},
		{"layout, none", damaged.layoutText(), "none (no interpreter)"},
		{"cwd, notes damaged", damaged.cwdText(), unknownNotes},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// The command line the notes hold is marked where the kernel may have cut
// it (80 bytes with the NUL), and only there.
func TestInfoCommandMarkedWhenCut(t *testing.T) {
	short := "python3 app.py --port 8080"
	long := "python3 /srv/app/with/a/long/path/server.py --config /etc/app/config.yaml --wor" // 79 bytes
	if len(long) != psargsMax {
		t.Fatalf("test string of %d bytes", len(long))
	}
	for _, tc := range []struct {
		args *string
		want string
	}{
		{&short, short},
		{&long, long + " … (the kernel keeps 80 bytes of it; sys.argv is whole)"},
	} {
		in := &Info{Complete: true, Args: tc.args}
		if got := in.known(in.command(), "no NT_PRPSINFO note"); got != tc.want {
			t.Errorf("command %q: %q, want %q", *tc.args, got, tc.want)
		}
	}
	none := &Info{Complete: true}
	if got := none.known(none.command(), "no NT_PRPSINFO note"); got != "unknown (no NT_PRPSINFO note)" {
		t.Errorf("no command: %q", got)
	}
}
