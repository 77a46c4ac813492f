// Package monitor is the monitoring sidecar pattern (SPEC §5.1, seed 1
// "v1"): an HAProxy reverse proxy in front of one app port that exports
// Prometheus metrics, the Services moved to it, and scraping through a
// ServiceMonitor, a PodMonitor or annotations, with optional recording and
// alerting rules.
package monitor
