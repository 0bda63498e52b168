package reports

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pycoroner/pycoroner/coreread"
	"github.com/pycoroner/pycoroner/pyheap"
)

// Info summarises a core: the process, the signal, the interpreter and
// the files behind the image.
type Info struct {
	Core          string `json:"core"`
	coreTruncated bool   // the core file ends before its data: say why python is unknown
	// Complete is false when the core's notes could not all be read: what
	// they record (signal, pid, command, threads, files) is then unknown
	// where it is missing, and says so (null, and NotesError), instead of
	// reading as a snapshot with no signal, pid 0 and no threads.
	Complete   bool   `json:"complete"`
	NotesError string `json:"notes_error,omitempty"`
	// PythonVersion, Executable, PID, Command, Args and NativeThreads are
	// nil where they are unknown: no interpreter found, no executable
	// named, NT_PRPSINFO not read, the notes damaged.
	PythonVersion *string `json:"python_version"`
	HexVersion    string  `json:"hexversion,omitempty"`
	Executable    *string `json:"executable"`
	PID           *int    `json:"pid"`
	Command       *string `json:"command"`
	Args          *string `json:"args"`
	// Argv is sys.argv from the heap (whole, where Args is cut at 80
	// bytes or empty for gcore); ArgvError says why it is missing or short.
	Argv      []string `json:"argv,omitempty"`
	ArgvError string   `json:"argv_error,omitempty"`
	// Cwd is the PWD the process was started with (its environment on the
	// stack); the kernel's working directory is in no core.
	Cwd    string  `json:"cwd,omitempty"`
	Signal *Signal `json:"signal"`
	// SignalError is set when Signal is nil because the notes that would
	// record it could not be read (not because the core records none).
	SignalError string `json:"signal_error,omitempty"`
	// Crash is where the crashed thread stopped (crash cores only).
	Crash         *CrashSite `json:"crash,omitempty"`
	NativeThreads *int       `json:"native_threads"`
	PythonThreads int        `json:"python_threads"`
	GIL           GILInfo    `json:"gil"`
	// Systemd is what systemd-coredump recorded, for its core files.
	Systemd *coreread.SystemdCoredump `json:"systemd_coredump,omitempty"`
	// Runtime is nil when no interpreter was found.
	Runtime  *RuntimeInfo `json:"runtime"`
	Files    []File       `json:"files"`
	Warnings []string     `json:"warnings,omitempty"`

	threadsRead int // NT_PRSTATUS notes read, all of them or not
}

// Signal is the signal that produced the core.
type Signal struct {
	Number    int    `json:"number"`
	Name      string `json:"name"`
	Code      int    `json:"code"`
	Address   string `json:"address,omitempty"`
	SenderPID int    `json:"sender_pid,omitempty"`
}

// GILInfo says which thread held the GIL, where the version records it.
type GILInfo struct {
	Known          bool    `json:"known"`
	Held           bool    `json:"held"`
	HolderThreadID *uint64 `json:"holder_thread_id"`
	LastThreadID   *uint64 `json:"last_holder_thread_id"`
}

// RuntimeInfo says where the interpreter was found and how it is read.
type RuntimeInfo struct {
	Address      string `json:"address"`
	FoundBy      string `json:"found_by"`
	LayoutSource string `json:"layout_source"`
}

// File is one file behind the image.
type File struct {
	Path        string `json:"path"`
	DiskPath    string `json:"disk_path,omitempty"`
	Status      string `json:"status"`
	BuildIDCore string `json:"build_id_core,omitempty"`
	BuildIDDisk string `json:"build_id_disk,omitempty"`
	IsExe       bool   `json:"is_exe,omitempty"`
}

// BuildInfo gathers the info report.
func BuildInfo(p *coreread.Process, rt *pyheap.Runtime) *Info {
	pi := p.Info()
	in := &Info{Core: p.Path(), Files: []File{}, NotesError: p.NotesProblem(), coreTruncated: p.Truncated()}
	in.Complete = in.NotesError == ""
	if p.HasProcessInfo() {
		in.PID, in.Command, in.Args = &pi.PID, &pi.Command, &pi.Args
	}
	in.threadsRead = len(p.Threads())
	if in.Complete {
		in.NativeThreads = &in.threadsRead
	}
	if exe, ok := p.Executable(); ok {
		in.Executable = &exe.Path
	}
	if s := pi.Signal; s != nil {
		in.Signal = &Signal{Number: s.Signo, Name: unix.SignalName(syscall.Signal(s.Signo)), Code: s.Code, SenderPID: s.SenderPID}
		if s.HasAddr {
			in.Signal.Address = hexAddr(s.Addr)
		}
	} else if !in.Complete {
		in.SignalError = "the core's notes are damaged or cut short: " + in.NotesError
	}
	for _, f := range p.Files() {
		path := f.DiskPath
		if path == f.Path {
			path = ""
		}
		in.Files = append(in.Files, File{Path: f.Path, DiskPath: path, Status: string(f.Status), BuildIDCore: f.BuildIDCore, BuildIDDisk: f.BuildIDDisk, IsExe: f.IsExe})
	}
	in.Warnings = append(in.Warnings, p.Warnings()...)
	if !in.Complete {
		in.Warnings = append(in.Warnings, fmt.Sprintf("the core's notes could not all be read (%s): what they record (signal, pid, command, threads, files) is unknown where it is missing, not absent; %d thread(s) read", in.NotesError, len(p.Threads())))
	}
	if pi.Signal != nil && p.CrashedThreadLost() {
		in.Warnings = append(in.Warnings, "the crashed thread is unknown: its NT_PRSTATUS note, the first, could not be read")
	}
	in.Cwd, _ = StartupPWD(p)
	var err error
	if rt == nil {
		return in
	}
	in.PythonVersion = &rt.Version
	in.Argv, err = SysArgv(rt)
	if err != nil {
		in.ArgvError = err.Error()
	}
	if rt.HexVersion != 0 {
		in.HexVersion = fmt.Sprintf("0x%08x", rt.HexVersion)
	}
	in.Runtime = &RuntimeInfo{Address: hexAddr(rt.Addr), FoundBy: rt.FoundBy, LayoutSource: rt.L.Source}
	interps, _ := rt.Interpreters()
	for i, interp := range interps {
		states, _ := rt.ThreadStates(interp)
		in.PythonThreads += len(states)
		if i != 0 {
			continue
		}
		g := rt.GILState(interp)
		in.GIL.Known, in.GIL.Held = g.Known, g.Known && g.Locked
		for _, ts := range states {
			if ts.Addr == g.LastHolder && g.Known {
				id := ts.ThreadID
				in.GIL.LastThreadID = &id
				if g.Locked {
					in.GIL.HolderThreadID = &id
				}
			}
		}
	}
	in.Warnings = append(in.Warnings, rt.Warnings()...)
	return in
}

// WriteText renders the info report.
func (in *Info) WriteText(w io.Writer) error {
	rows := [][]string{
		{"core", in.Core},
		{"python", in.pythonText()},
		{"executable", in.known(in.Executable, "the core names no executable")},
		{"pid", in.known(in.pid(), "no NT_PRPSINFO note")},
		{"command", in.known(in.command(), "no NT_PRPSINFO note")},
		{"sys.argv", in.argvText()},
		{"cwd", in.cwdText()},
		{"signal", in.signalText()},
		{"threads", in.threadsText()},
		{"GIL", in.gilText()},
		{"runtime", in.runtimeText()},
		{"layout", in.layoutText()},
	}
	if err := table(w, []string{"field", "value"}, rows); err != nil {
		return err
	}
	if in.Crash != nil {
		in.Crash.WriteText(w, "")
	}
	var frows [][]string
	for _, f := range in.Files {
		id := f.BuildIDCore
		if len(id) > 16 {
			id = id[:16] + "…"
		}
		if id == "" && f.BuildIDDisk != "" {
			// The core has none to compare (or lost it): the host file's.
			id = "host " + f.BuildIDDisk
			if len(id) > 21 {
				id = id[:21] + "…"
			}
		}
		name := f.Path
		if f.IsExe {
			name += " (executable)"
		}
		if f.DiskPath != "" {
			name += "\n→ " + f.DiskPath
		}
		frows = append(frows, []string{name, f.Status, id})
	}
	fmt.Fprintln(w)
	if err := table(w, []string{"file", "status", "build id"}, frows); err != nil {
		return err
	}
	if in.Systemd != nil {
		writeSystemd(w, in.Systemd)
	}
	return nil // the warnings go to stderr, as every command's (cmd/pycoroner)
}

func hexSuffix(h string) string {
	if h == "" {
		return ""
	}
	return " (" + h + ")"
}

// unknownNotes is what a row says when the notes that would tell it
// could not be read.
const unknownNotes = "unknown (notes unreadable / truncated)"

// known is *v, or why it is unknown: the damaged notes when they are, else
// absent (what an intact core without it means).
func (in *Info) known(v *string, absent string) string {
	switch {
	case v != nil:
		return *v
	case !in.Complete:
		return unknownNotes
	}
	return "unknown (" + absent + ")"
}

// psargsMax is the most of the command line a core's NT_PRPSINFO holds
// (ELF_PRARGSZ, 80 bytes with the final NUL).
const psargsMax = 79

// command is the command line the notes give, marked when the kernel may
// have cut it.
func (in *Info) command() *string {
	if in.Args == nil || len(*in.Args) < psargsMax {
		return in.Args
	}
	s := *in.Args + " … (the kernel keeps 80 bytes of it; sys.argv is whole)"
	return &s
}

func (in *Info) pid() *string {
	if in.PID == nil {
		return nil
	}
	s := fmt.Sprint(*in.PID)
	return &s
}

func (in *Info) pythonText() string {
	if in.PythonVersion == nil && in.coreTruncated {
		return "unknown (no CPython interpreter found: the core is truncated, and its state may be in the lost part)"
	}
	if in.PythonVersion == nil {
		return "unknown (no CPython interpreter found)"
	}
	return *in.PythonVersion + hexSuffix(in.HexVersion)
}

func (in *Info) threadsText() string {
	if in.NativeThreads == nil {
		return fmt.Sprintf("unknown native (notes unreadable / truncated; %d read), %d Python", in.threadsRead, in.PythonThreads)
	}
	return fmt.Sprintf("%d native, %d Python", *in.NativeThreads, in.PythonThreads)
}

func (in *Info) runtimeText() string {
	if in.Runtime == nil {
		return "not found"
	}
	return fmt.Sprintf("%s (%s)", in.Runtime.Address, in.Runtime.FoundBy)
}

func (in *Info) signalText() string {
	s := in.Signal
	if s == nil && in.SignalError != "" {
		return unknownNotes
	}
	if s == nil {
		return "none recorded (a snapshot, e.g. gcore)"
	}
	out := fmt.Sprintf("%s (%d), code %d", s.Name, s.Number, s.Code)
	if s.Address != "" {
		out += ", fault address " + s.Address
	}
	if s.SenderPID != 0 {
		out += fmt.Sprintf(", sent by pid %d", s.SenderPID)
	}
	if s.Number == int(syscall.SIGSTOP) {
		out += " (the process was stopped to take a snapshot, e.g. by gcore: it did not crash)"
	}
	return out
}

func (in *Info) gilText() string {
	g := in.GIL
	switch {
	case !g.Known:
		return "unknown"
	case g.Held && g.HolderThreadID != nil:
		return fmt.Sprintf("held by thread %d", *g.HolderThreadID)
	case g.LastThreadID != nil:
		return fmt.Sprintf("not held (last held by thread %d)", *g.LastThreadID)
	}
	return "not held"
}

// writeSystemd prints what systemd-coredump recorded about the core.
func writeSystemd(w io.Writer, sd *coreread.SystemdCoredump) {
	fmt.Fprintf(w, "\nsystemd-coredump (from the %s):\n", strings.Join(sd.Sources, " and the "))
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-10s %s\n", k, v)
		}
	}
	row("comm", sd.Comm)
	row("exe", sd.Exe)
	if sd.PID != 0 {
		row("pid", fmt.Sprint(sd.PID))
	}
	if sd.UID != nil {
		id := fmt.Sprint(*sd.UID)
		if sd.GID != nil {
			id += fmt.Sprintf(" (gid %d)", *sd.GID)
		}
		row("uid", id)
	}
	if sd.Signal != 0 {
		row("signal", fmt.Sprintf("%s (%d)", unix.SignalName(syscall.Signal(sd.Signal)), sd.Signal))
	}
	if !sd.Time.IsZero() {
		row("time", sd.Time.Format(time.RFC3339Nano))
	}
	row("hostname", sd.Hostname)
	row("boot id", sd.BootID)
	row("core limit", sd.CoreLimit)
}

func (in *Info) argvText() string {
	if in.Argv == nil && in.ArgvError == "" {
		return "unknown (no interpreter)"
	}
	quoted := make([]string, len(in.Argv))
	for i, a := range in.Argv {
		quoted[i] = shellQuote(a)
	}
	out := strings.Join(quoted, " ")
	if in.ArgvError != "" {
		if out != "" {
			out += " "
		}
		out += "(" + in.ArgvError + ")"
	}
	return out
}

func (in *Info) cwdText() string {
	if in.Cwd == "" && !in.Complete {
		// The stack is found from the notes' registers and auxv.
		return unknownNotes
	}
	if in.Cwd == "" {
		return "unknown (no PWD in the environment on the stack)"
	}
	return in.Cwd + " (PWD at start)"
}

// shellQuote quotes an argument the way a shell would need it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '=' || r == ':' || r == ',' || r == '+' || r == '@' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var tableSourceRe = regexp.MustCompile(`^DWARF of CPython ((\d+)\.(\d+))\.(\S+) and its headers(.*)$`)

// layoutText says which layout was used: a committed table says which
// minor version's it is, what it was generated from, and whether it fits
// the core's exact version (struct layouts never change within a minor
// version; the runtime was found and checked with it).
func (in *Info) layoutText() string {
	if in.Runtime == nil {
		return "none (no interpreter)"
	}
	src := in.Runtime.LayoutSource
	m := tableSourceRe.FindStringSubmatch(src)
	if m == nil {
		return src
	}
	minor, built, rest := m[1], m[1]+"."+m[4], m[5]
	out := fmt.Sprintf("committed %s table (from %s's DWARF and headers)%s", minor, built, rest)
	v := ""
	if in.PythonVersion != nil {
		v = *in.PythonVersion
	}
	switch {
	case v == built:
		return out
	case strings.HasPrefix(v, minor+"."):
		return out + fmt.Sprintf("; fits %s: layouts are fixed within %s", v, minor)
	}
	return out
}
