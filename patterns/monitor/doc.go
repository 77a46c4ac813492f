// Package monitor is the monitoring sidecar pattern (SPEC §5.1, seed 1
// "v1"): an HAProxy reverse proxy in front of one app port that exports
// Prometheus metrics, the Services moved to it, and scraping through a
// ServiceMonitor, a PodMonitor or annotations, with optional recording and
// alerting rules.
//
// Decisions the SPEC leaves open:
//
//   - The container is monitor-proxy (image haproxy:3.4-alpine, the current
//     LTS branch, run as the image's haproxy user, UID 99). It listens on
//     port 9080 ("mon-proxy") and serves /metrics on 9101 ("mon-metrics"),
//     both options; the proxied app port is the `port` option (name or
//     number), else the first port the pod declares. A pod without ports is
//     skipped (no_ports) unless a port is given.
//   - The generated haproxy.cfg uses only directives HAProxy 2.6 has
//     (Debian 12's, which the tests run) and names no files, so
//     `haproxy -c -f <dir>/haproxy.cfg` validates it anywhere. Metrics come
//     from HAProxy's built-in Prometheus exporter (a separate frontend, so
//     the app port never serves /metrics); grpc and http2 speak h2 on both
//     sides; tcp proxies bytes and still exports connection metrics.
//   - Services: every Service selecting the pods has its ports that target
//     the app port moved to the proxy; the first one gets a `metrics` port
//     and, if it has no labels, the label app.kubernetes.io/name=<service>
//     for the ServiceMonitor to select it by. No Service: a PodMonitor is
//     generated instead, with a warning.
//   - Rules (rules: true): request rate, 5xx ratio and average response
//     time recorded per workload from the "app" proxy's series, selected by
//     the scrape job (the Service's name for a ServiceMonitor,
//     <namespace>/<name> for a PodMonitor), and an alert when the 5xx ratio
//     stays above errorRatio for 5 minutes. Rules need a ServiceMonitor or a
//     PodMonitor (annotation scraping leaves the job to the Prometheus
//     config) and an HTTP protocol.
package monitor
