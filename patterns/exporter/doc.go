// Package exporter is the exporter sidecar pattern: a Prometheus exporter beside a
// stateful app (PostgreSQL, MySQL/MariaDB, Redis, MongoDB, nginx, or any
// exporter image), reaching it over the pod's loopback, with credentials from
// a Secret by reference.
//
// Its decisions (ports, images, users, protocols, limits) are recorded in
// docs/patterns/exporter.md; its options are listed by `sidecarize patterns`.
package exporter
