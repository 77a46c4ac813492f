package exporter_test

import (
	"testing"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns/exporter"
	"github.com/sidecarize/sidecarize/transform"
)

func TestGolden(t *testing.T) {
	golden.Run(t, "testdata", []transform.Pattern{exporter.Pattern{}})
}
