package ambassador_test

import (
	"testing"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns/ambassador"
	"github.com/sidecarize/sidecarize/patterns/monitor"
	"github.com/sidecarize/sidecarize/transform"
)

func TestGolden(t *testing.T) {
	// monitor too: the with-monitor case composes both on one workload.
	golden.Run(t, "testdata", []transform.Pattern{monitor.Pattern{}, ambassador.Pattern{}})
}
