package cli_test

import (
	"testing"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns"
)

// TestGolden runs the end-to-end golden cases of testdata/ with every
// pattern registered, as the binary does.
func TestGolden(t *testing.T) {
	golden.Run(t, "../testdata", patterns.All())
}
