// Package exporter is the exporter sidecar pattern (SPEC §5.4, seed 2 demo
// 2): a Prometheus exporter container beside a stateful app (PostgreSQL,
// MySQL/MariaDB, Redis, MongoDB, nginx, or any exporter image), talking to
// the app over the pod's loopback, with credentials taken from a Secret by
// reference (there is no option for an inline password), and scraped like
// every sidecarize metrics endpoint (§5.1: ServiceMonitor, PodMonitor or
// prometheus.io annotations).
package exporter
