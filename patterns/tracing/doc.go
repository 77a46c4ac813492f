// Package tracing is the tracing sidecar pattern (SPEC §5.5, seed 2 demo 3):
// an Envoy proxy in front of one app port (inbound) and in front of the
// app's named upstreams (outbound listeners on 127.0.0.1, the app's env var
// pointed at them, like an ambassador). Envoy generates x-request-id at the
// edge, reports spans to Jaeger's Zipkin endpoint or to an OpenTelemetry
// collector over OTLP/gRPC, and its statistics are scraped from a
// /stats/prometheus listener, as in §5.1.
//
// The Envoy bootstrap (v3 API only, no deprecated field) is built as typed
// Go values and marshalled to YAML, so names and addresses can never break
// its syntax; the e2e module decodes every generated bootstrap with Envoy's
// own Go types (go-control-plane, protojson, unknown fields rejected), runs
// their ValidateAll on it and on every typed_config, and rejects deprecated
// fields.
//
// Decisions where the SPEC is silent:
//
//   - Image envoyproxy/envoy (Ubuntu based: its CA bundle verifies https
//     upstreams), run as its envoy user (uid 101) with a read-only root
//     filesystem: no admin access log, --disable-hot-restart (no shared
//     memory), --concurrency 2 (the default is one worker per node CPU).
//     Zipkin goes through collector_service, which needs Envoy 1.36 or later
//     when the image is overridden.
//   - Ports: inbound 10000 (trace-proxy), admin 9901 on 127.0.0.1 only,
//     metrics 9902 (trace-metrics) exposing only /stats/prometheus and /ready
//     of the admin interface (the probes use /ready). The ServiceMonitor's
//     Service port is tracing-metrics, so tracing composes with monitor.
//   - Request ids: every listener generates x-request-id when a request has
//     none and keeps the one it has (trace correlation across services);
//     edge: true makes the inbound listener the edge (use_remote_address), so
//     ids and X-Forwarded-For from outside clients are not trusted — what
//     seed 2's front proxy did.
//   - Spans: the inbound listener is INBOUND (server spans), outbound ones
//     OUTBOUND (client spans); Zipkin spans use 128-bit trace ids and separate
//     client/server span ids (shared_span_context false, as in seed 2), B3
//     headers. The service name is the workload's name (serviceName
//     overrides): Zipkin takes it from the node's cluster, OTLP from
//     service_name.
//   - Upstreams: `upstream` (http or https URL, or host:port) or, when absent,
//     the env var's current value says where the upstream is. Every app
//     container that sets the env var gets it rewritten to 127.0.0.1:<localPort>
//     keeping user info, path, query and fragment; https becomes http (the
//     app talks plain HTTP to Envoy, which originates TLS with SNI and checks
//     the certificate's chain against the CA bundle and its name against the
//     upstream's host). An env var no container sets is added to the proxied
//     container, with a warning; one set from valueFrom is an error. The
//     Host header is rewritten to the upstream's authority, names are
//     re-resolved (STRICT_DNS, IPv4 first), protocol http2 speaks h2c (or h2
//     over TLS) to the upstream.
//   - Composition: when an earlier pattern's proxy (monitor) already fronts
//     the app port, Envoy chains in front of it (Service → Envoy → HAProxy →
//     app) instead of being bypassed. A TLS listener of the tls pattern
//     cannot be fronted (Envoy would receive TLS): that is an error, as is a
//     lone unnamed Service port in a chain (the engine records the original
//     targetPort under the port's name, which the earlier pattern may
//     change).
//   - Route timeout 60s on every listener (0s: none; long-lived gRPC
//     streams need it).
package tracing
