package tls_test

import (
	"testing"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns/tls"
	"github.com/sidecarize/sidecarize/transform"
)

func TestGolden(t *testing.T) {
	golden.Run(t, "testdata", []transform.Pattern{tls.Pattern{}})
}
