package tracing

import (
	"fmt"

	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// inboundStatPrefix is the stat_prefix of the inbound listener's HTTP
// connection manager: Envoy's Prometheus output tags its http.<prefix>.*
// statistics with envoy_http_conn_manager_prefix, and the downstream_rq_Nxx
// counters with envoy_response_code_class (Envoy's default tag extractors).
const inboundStatPrefix = "inbound"

// rules are the recorded 5xx ratio of the requests Envoy's inbound listener
// answered (the app's and Envoy's own 5xx: no upstream, timeouts) and the
// alert above the threshold. The series are selected by the scrape job.
// A gRPC error travels in grpc-status with HTTP 200: not counted here.
func rules(w *transform.Workload, o *Options, job string) scrape.PrometheusRule {
	sc := scrape.Scope(w, job)
	in := fmt.Sprintf(`%s,envoy_http_conn_manager_prefix=%q`, sc.Selector, inboundStatPrefix)
	return scrape.NewPrometheusRule(w,
		scrape.Rule{Record: "sidecarize:envoy_http_errors:ratio_rate5m", Labels: sc.Labels,
			Expr: fmt.Sprintf(`sum(rate(envoy_http_downstream_rq_xx{%s,envoy_response_code_class="5"}[5m])) / sum(rate(envoy_http_downstream_rq_total{%s}[5m]))`, in, in)},
		scrape.Rule{Alert: "SidecarizeTracingHighErrorRate",
			Expr:   fmt.Sprintf(`sidecarize:envoy_http_errors:ratio_rate5m{%s} > %g`, sc.Ref, o.ErrorRatio),
			For:    o.AlertFor,
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s: more than %g%% of responses are 5xx", w.Ref(), o.ErrorRatio*100),
				"description": "The 5xx ratio measured by the sidecarize tracing proxy (Envoy) is {{ $value | humanizePercentage }} over 5 minutes.",
			}},
	)
}
