package exporter

import (
	"fmt"

	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// rules alert while the exporter, scraped as job, reports that it cannot
// reach the app (its up gauge, e.g. pg_up, is 0): the database or server
// beside it is down or refuses the exporter's credentials. A pod whose
// exporter is not scraped at all is Prometheus' own `up == 0`, not this.
func rules(w *transform.Workload, o *Options, up, job string) scrape.PrometheusRule {
	sc := scrape.Scope(w, job)
	return scrape.NewPrometheusRule(w, scrape.Rule{Alert: "SidecarizeExporterTargetDown",
		Expr:   fmt.Sprintf(`%s{%s} == 0`, up, sc.Selector),
		For:    o.AlertFor,
		Labels: sc.With(map[string]string{"severity": "critical"}),
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("%s: the %s exporter cannot reach %s", w.Ref(), o.Type, o.Type),
			"description": fmt.Sprintf("%s is 0 on {{ $labels.instance }}: the %s server beside the exporter is down, or refuses the exporter's credentials.", up, o.Type),
		}})
}
