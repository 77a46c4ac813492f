// Package tracing is the tracing sidecar pattern (SPEC §5.5, seed 2 demo 3):
// an Envoy proxy in front of one app port (inbound) and in front of the
// app's named upstreams (outbound listeners on 127.0.0.1, the app's env var
// pointed at them, like an ambassador). Envoy generates x-request-id at the
// edge, reports spans to Jaeger's Zipkin endpoint or to an OpenTelemetry
// collector over OTLP/gRPC, and its statistics are scraped from a
// /stats/prometheus listener, as in §5.1.
//
// The Envoy bootstrap (v3 API only) is built as typed Go values and
// marshalled to YAML, so names and addresses can never break its syntax; the
// e2e module decodes every generated bootstrap with Envoy's own Go types
// (go-control-plane, protojson, unknown fields rejected) and runs their
// ValidateAll.
package tracing
