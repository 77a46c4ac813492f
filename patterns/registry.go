// Package patterns lists sidecarize's patterns, explicitly and in the order
// they are applied to a workload.
package patterns

import (
	"github.com/sidecarize/sidecarize/patterns/ambassador"
	"github.com/sidecarize/sidecarize/patterns/exporter"
	"github.com/sidecarize/sidecarize/patterns/logs"
	"github.com/sidecarize/sidecarize/patterns/monitor"
	"github.com/sidecarize/sidecarize/patterns/tls"
	"github.com/sidecarize/sidecarize/patterns/tracing"
	"github.com/sidecarize/sidecarize/transform"
)

// All returns every pattern, in application order.
func All() []transform.Pattern {
	return []transform.Pattern{
		monitor.Pattern{},
		logs.Pattern{},
		ambassador.Pattern{},
		exporter.Pattern{},
		// tracing before tls: TLS is terminated outermost and Envoy sees
		// plain HTTP (Service → tls-proxy → Envoy → monitor → app).
		tracing.Pattern{},
		tls.Pattern{},
	}
}
