package dashboard

import (
	"fmt"
	"strings"

	"github.com/sidecarize/sidecarize/transform"
)

// HAProxy names proxies of a sidecar's HAProxy (the proxy label of its
// Prometheus exporter's series) for the panels below.
type HAProxy struct {
	// Frontends and Backends are proxy names; a panel over frontends or
	// backends shows them all.
	Frontends, Backends []string
	// PerProxy shows one series per proxy (legend: the proxy's name);
	// otherwise one series for all, with Legend.
	PerProxy bool
	Legend   string
}

// proxies is the proxy label matcher: proxy="x" for one, a regex for more.
func proxies(names []string) string {
	if len(names) == 1 {
		return fmt.Sprintf(`proxy=%q`, names[0])
	}
	return fmt.Sprintf(`proxy=~%q`, strings.Join(names, "|"))
}

// agg applies op (sum, avg) over the workload's pods, by proxy if PerProxy.
func (h HAProxy) agg(op, expr string) string {
	if h.PerProxy {
		return fmt.Sprintf("%s by (proxy) (%s)", op, expr)
	}
	return fmt.Sprintf("%s(%s)", op, expr)
}

// panel is one series (per proxy, or for all) of op over the metric: a
// counter's rate or a gauge, of the frontends or the backends.
func (h HAProxy) panel(w *transform.Workload, title, unit, what, op, metric string, backends, counter bool, extra ...string) Panel {
	names := h.Frontends
	if backends {
		names = h.Backends
	}
	sel := Selector(w, append([]string{proxies(names)}, extra...)...)
	expr := fmt.Sprintf("%s{%s}", metric, sel)
	if counter {
		expr = Rate(metric, sel)
	}
	legend := h.Legend
	if h.PerProxy {
		legend = "{{proxy}}"
	}
	return Panel{Title: title, Unit: unit, Description: fmt.Sprintf("%s (%s).", what, metric),
		Queries: []Query{{Expr: h.agg(op, expr), Legend: legend}}}
}

// RequestRate is the HTTP requests per second the frontends receive.
func (h HAProxy) RequestRate(w *transform.Workload) Panel {
	return h.panel(w, "Request rate", "reqps", "HTTP requests per second received by the proxy", "sum", "haproxy_frontend_http_requests_total", false, true)
}

// ErrorRatio is the share of the backends' responses that are 5xx; a
// threshold line at threshold when it is not nil (the alert's).
func (h HAProxy) ErrorRatio(w *transform.Workload, threshold *float64) Panel {
	const metric = "haproxy_backend_http_responses_total"
	p := h.panel(w, "5xx ratio", "percentunit", "Share of the responses from the app side that are 5xx", "sum", metric, true, true, `code="5xx"`)
	all := h.panel(w, "", "", "", "sum", metric, true, true)
	p.Queries[0].Expr += " / " + all.Queries[0].Expr
	if threshold != nil {
		p.Threshold = threshold
		p.Description += fmt.Sprintf(" The line is the alert's threshold, %g.", *threshold)
	}
	return p
}

// ResponseTime is the backends' average response time (HAProxy's average
// over its last 1024 responses).
func (h HAProxy) ResponseTime(w *transform.Workload) Panel {
	return h.panel(w, "Response time", "s", "Average response time over the last 1024 responses", "avg", "haproxy_backend_response_time_average_seconds", true, false)
}

// ConnectionRate is the connections per second the frontends accept (tcp
// mode, where there are no requests).
func (h HAProxy) ConnectionRate(w *transform.Workload) Panel {
	return h.panel(w, "Connection rate", "cps", "Connections per second accepted by the proxy", "sum", "haproxy_frontend_connections_total", false, true)
}

// ActiveConnections is the frontends' current sessions.
func (h HAProxy) ActiveConnections(w *transform.Workload) Panel {
	return h.panel(w, "Active connections", "short", "Connections open now on the proxy", "sum", "haproxy_frontend_current_sessions", false, false)
}

// ActiveServers is how many servers of each backend are up: 0 is an open
// circuit (no server passes its checks or all were taken out).
func (h HAProxy) ActiveServers(w *transform.Workload) Panel {
	return h.panel(w, "Circuit: servers up", "short", "Servers of each upstream that take traffic; 0: the circuit is open", "sum", "haproxy_backend_active_servers", true, false)
}

// Intercepted is the responses the frontends answer themselves: the canned
// response while a circuit is open.
func (h HAProxy) Intercepted(w *transform.Workload) Panel {
	return h.panel(w, "Canned responses", "reqps", "Requests answered with the canned response while the circuit is open", "sum", "haproxy_frontend_intercepted_requests_total", false, true)
}
