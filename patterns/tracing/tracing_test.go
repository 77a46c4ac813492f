package tracing_test

import (
	"testing"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns"
)

// TestGolden runs every case with the whole registry, as the binary does:
// most cases enable tracing alone; the compose-* cases enable it together
// with other patterns on one workload (a pattern never imports another, so
// they come through the registry).
func TestGolden(t *testing.T) {
	golden.Run(t, "testdata", patterns.All())
}
