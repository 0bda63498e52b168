package live

import (
	"os"
	"syscall"
	"testing"
)

// Signals are named as the shell names them, not as Go's String does.
func TestSignalName(t *testing.T) {
	for _, tc := range []struct {
		sig  os.Signal
		want string
	}{
		{syscall.SIGTERM, "SIGTERM"},
		{syscall.SIGINT, "SIGINT"},
		{os.Interrupt, "SIGINT"},
		{syscall.SIGHUP, "SIGHUP"},
	} {
		if got := SignalName(tc.sig); got != tc.want {
			t.Errorf("SignalName(%v) = %q, want %q", tc.sig, got, tc.want)
		}
	}
}
