package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pycoroner/pycoroner/fixtures/harness"
)

// TestCrashSite checks info's crash site on the crash cores of every
// interpreter: the crashed thread is the one the process said would crash
// (the oracle writer), a segfault's address is named as the null page with
// the faulting instruction and the registers it used, and an abort stops
// in libc's pthread_kill after the system call that raised it.
func TestCrashSite(t *testing.T) {
	// On Debian sid's builds the functions inside sid's glibc are named
	// from its libc6-dbg (scripts/sid-pythons.sh unpacks it beside them).
	forEachCoreModeExcept(t, "threads", []harness.Mode{harness.Abort, harness.Segv, harness.SegvAccel, harness.FaulthandlerSegv},
		nil, func(t *testing.T, res *harness.Result) {
			writer := 0
			for _, th := range res.Oracle.Threads {
				for _, f := range th.Frames {
					if f.Function == "_writer_main" {
						writer = th.NativeThreadID
					}
				}
			}
			if writer == 0 {
				t.Fatal("the oracle names no writer thread")
			}
			r := pycoroner(t, "info", "--json", res.CorePath)
			if r.code != 0 {
				t.Fatalf("info exited %d: %s", r.code, r.stderr)
			}
			var in struct {
				Crash *struct {
					NativeThreadID int    `json:"native_thread_id"`
					Signal         string `json:"signal"`
					Function       string `json:"function"`
					Instruction    string `json:"instruction"`
					Registers      []struct {
						Name, Value string
					} `json:"registers"`
					Address     string `json:"fault_address"`
					AddressIs   string `json:"fault_address_is"`
					Interrupted *struct {
						Signal      string `json:"signal"`
						Function    string `json:"function"`
						Instruction string `json:"instruction"`
						Address     string `json:"fault_address"`
						AddressIs   string `json:"fault_address_is"`
					} `json:"interrupted"`
				} `json:"crash"`
			}
			if err := json.Unmarshal(r.stdout, &in); err != nil {
				t.Fatal(err)
			}
			c := in.Crash
			if c == nil {
				t.Fatalf("no crash site:\n%s", r.stdout)
			}
			if c.NativeThreadID != writer {
				t.Errorf("crashed thread %d; the writer thread was %d", c.NativeThreadID, writer)
			}
			if c.Instruction == "" {
				t.Errorf("no instruction decoded at the pc")
			}
			// Plain stacks (no unwinding) mark the same thread, and only it.
			st := pycoroner(t, "stacks", "--json", res.CorePath)
			var stacks struct {
				Threads []struct {
					NativeThreadID int  `json:"native_thread_id"`
					Crashed        bool `json:"crashed"`
				} `json:"threads"`
			}
			if err := json.Unmarshal(st.stdout, &stacks); err != nil {
				t.Fatalf("stacks --json: %v\n%s", err, st.stdout)
			}
			for _, th := range stacks.Threads {
				if th.Crashed != (th.NativeThreadID == writer) {
					t.Errorf("stacks: thread %d crashed=%v; the writer thread was %d", th.NativeThreadID, th.Crashed, writer)
				}
			}
			switch res.Mode {
			case harness.FaulthandlerSegv:
				// faulthandler raised SIGSEGV again from its handler: the
				// fault itself is in the frame the first signal interrupted.
				in := c.Interrupted
				if c.Signal != "SIGSEGV" || c.Address != "" || in == nil {
					t.Fatalf("faulthandler: signal %s, fault address %q, interrupted %+v", c.Signal, c.Address, in)
				}
				if in.Signal != "SIGSEGV" || in.Address != "0x0" || !strings.HasPrefix(in.AddressIs, "null page") || !strings.Contains(in.Function, "memset") || in.Instruction == "" {
					t.Errorf("interrupted frame %+v; want the memset writing to NULL", in)
				}
			case harness.Abort:
				if c.Signal != "SIGABRT" || !strings.Contains(c.Function, "pthread_kill") || c.Address != "" {
					t.Errorf("abort: signal %s in %q, fault address %q", c.Signal, c.Function, c.Address)
				}
			default:
				if c.Signal != "SIGSEGV" || c.Address != "0x0" || !strings.HasPrefix(c.AddressIs, "null page") {
					t.Errorf("segv: signal %s, fault address %q is %q", c.Signal, c.Address, c.AddressIs)
				}
				zero := false
				for _, reg := range c.Registers {
					zero = zero || reg.Value == "0x0"
				}
				if !zero {
					t.Errorf("segv at NULL: no register of %q holds 0: %+v", c.Instruction, c.Registers)
				}
			}
		})
}
