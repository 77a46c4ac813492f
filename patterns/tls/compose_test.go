package tls_test

import (
	"testing"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns/monitor"
	"github.com/sidecarize/sidecarize/patterns/tls"
	"github.com/sidecarize/sidecarize/transform"
)

// TestGoldenCompose: tls with the monitor pattern (in registry order) on one
// workload; the test imports monitor only to compose the two.
func TestGoldenCompose(t *testing.T) {
	golden.Run(t, "testdata/compose", []transform.Pattern{monitor.Pattern{}, tls.Pattern{}})
}
