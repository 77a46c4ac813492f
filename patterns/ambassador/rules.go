package ambassador

import (
	"fmt"

	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// rules are the ambassador's recording rules and alert, over HAProxy's
// exporter metrics selected by the scrape job, per upstream: the rate of
// canned responses (requests the frontend named after the upstream answered
// itself while the circuit was open), and SidecarizeCircuitOpen while the
// upstream's backend ("be_" + its name) has no server up, which is when the
// frontend serves the canned response (nbsrv eq 0) or HAProxy fails fast.
func rules(w *transform.Workload, d cfgData, px Proxy, job string) scrape.PrometheusRule {
	sc := scrape.Scope(w, job)
	var rs []scrape.Rule
	for _, u := range d.Upstreams {
		labels := sc.With(map[string]string{"upstream": u.Name})
		if u.Fallback {
			rs = append(rs, scrape.Rule{Record: "sidecarize:upstream_canned_responses:rate5m", Labels: labels,
				Expr: fmt.Sprintf(`sum(rate(haproxy_frontend_intercepted_requests_total{%s,proxy=%q}[5m]))`, sc.Selector, u.Name)})
		}
		answer := "fails fast with a 503"
		if u.Fallback {
			answer = "gets the canned response"
		}
		alertLabels := map[string]string{"severity": "warning", "upstream": u.Name}
		rs = append(rs, scrape.Rule{Alert: "SidecarizeCircuitOpen",
			Expr:   fmt.Sprintf(`haproxy_backend_active_servers{%s,proxy="be_%s"} == 0`, sc.Selector, u.Name),
			For:    px.AlertFor,
			Labels: sc.With(alertLabels),
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s: upstream %s has no server up (circuit open)", w.Ref(), u.Name),
				"description": fmt.Sprintf("The sidecarize ambassador of {{ $labels.instance }} has taken every server of upstream %s (%s) out: the app %s until the upstream passes its health checks again.", u.Name, u.Upstream, answer),
			}})
	}
	return scrape.NewPrometheusRule(w, rs...)
}
