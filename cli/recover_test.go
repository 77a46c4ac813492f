package cli

import (
	"bytes"
	"strings"
	"testing"
)

// panicReader stands for any bug that panics while a command runs.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("boom") }

// TestPanicIsInternalError: the last guard turns a panic into an internal
// error with exit code 1, never Go's 2 (the usage-error code).
func TestPanicIsInternalError(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run([]string{"sidecarize", "-p", "monitor"}, panicReader{}, &out, &errb)
	if code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	if !strings.HasPrefix(errb.String(), "sidecarize: internal error (a bug") || !strings.Contains(errb.String(), "boom") {
		t.Errorf("stderr:\n%s", errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q", out.String())
	}
}
