// Package tracing is the tracing sidecar pattern: Envoy in front of one app port
// and of the app's named upstreams, generating request ids and reporting
// spans to Zipkin (Jaeger) or OpenTelemetry. The bootstrap is built as typed
// Go values (never as text) and checked against Envoy's own Go types in the
// e2e module.
//
// Its decisions (ports, images, users, protocols, limits) are recorded in
// docs/patterns/tracing.md; its options are listed by `sidecarize patterns`.
package tracing
