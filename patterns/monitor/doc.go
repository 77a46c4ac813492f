// Package monitor is the monitoring sidecar pattern: an HAProxy reverse proxy in
// front of one app port that exports Prometheus metrics, the Services moved
// to it, and scraping through a ServiceMonitor, a PodMonitor or annotations,
// with optional recording and alerting rules.
//
// Its decisions (ports, images, users, protocols, limits) are recorded in
// docs/patterns/monitor.md; its options are listed by `sidecarize patterns`.
package monitor
