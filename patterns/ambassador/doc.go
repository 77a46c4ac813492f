// Package ambassador is the ambassador pattern (SPEC §5.3, seed 1 "v3"): an
// HAProxy container in the app's pod that carries its outbound traffic to
// named upstreams. Each upstream gets a listener on 127.0.0.1, the app's env
// vars (and args) that point at the upstream are rewritten to it, and
// HAProxy adds timeouts, retries of idempotent requests, a connection limit
// and a circuit breaker: after N failed responses in a row the upstream is
// taken out, a canned response is served instead, and health checks put it
// back once it recovers. Upstream names are re-resolved through the pod's
// DNS; metrics are scraped as in §5.1.
//
// Decisions where the SPEC is silent:
//
//   - Options are a list of named upstreams (config key `ambassadors`);
//     flags and annotations address an entry by name
//     (sidecarize.dev/ambassador.api.upstream). An entry without a name takes
//     the first label of its host. Entries with the same name from several
//     layers merge. The settings of the container as a whole (metricsPort,
//     metricsPath, scrape, interval, clusterDomain, resources) may be set on
//     any entry; two entries setting different values is an error.
//   - One HAProxy container ("ambassador") serves all upstreams of a
//     workload; its local ports are declared as container ports (though bound
//     to 127.0.0.1) so that the engine catches collisions. Automatic local
//     ports start at 9001 and skip declared ports. Metrics default to 9102,
//     beside the monitor pattern's 9101, and the Service port added for a
//     ServiceMonitor is named amb-metrics.
//   - Rewriting keeps scheme, user info, path, query and fragment; only the
//     host[:port] changes. When the ambassador originates TLS (https://,
//     grpcs:// or tls: true) the app's scheme becomes http:// or grpc://.
//     A bare Service name also matches its longer forms in the workload's
//     namespace (api.shop, api.shop.svc, api.shop.svc.cluster.local). A
//     name in a URL path is never taken for the host. An env var from
//     valueFrom cannot be rewritten and is an error.
//   - HAProxy's resolver does not apply resolv.conf's search list, so a
//     Service name becomes api.${POD_NAMESPACE}.svc.<clusterDomain>, the
//     namespace coming from the downward API at run time (kustomize may set
//     it after sidecarize); <service>.<own namespace> and *.svc are completed
//     too. Other two-label names (example.com, or api.billing) are resolved
//     as written, with a warning: write api.billing.svc for a Service of
//     another namespace. `init-addr last,libc,none` lets HAProxy start
//     while DNS is down; the canned response answers until it resolves.
//   - A DNS name is balanced over up to `addresses` (default 4) of its
//     addresses (HAProxy server-template): a ClusterIP fills one slot, a
//     headless Service or a scaled external endpoint more, each with its own
//     health checks and breaker; the canned response answers when none is
//     left. maxConnections applies per address.
//   - The Host header the upstream sees is the one the app sent before
//     (virtual hosting of external APIs keeps working); SNI defaults to the
//     upstream host and the certificate is verified against the system CAs
//     or a CA from a Secret, mounted at /etc/sidecarize/ambassador/<name>.
//   - Health checks are a TCP connect unless circuitBreaker.healthCheck.path
//     is set: an API whose "/" answers 404 must not stay out forever. The
//     upstream comes back after recoverAfter of passing checks (HAProxy's
//     rise = recoverAfter / interval).
//   - Retries cover connection failures (always safe) and empty, 502, 503
//     and 504 responses of idempotent methods; a response timeout is not
//     retried, so `timeout` bounds the wait. 500 is not retried either: it
//     counts towards the breaker.
//   - The canned response is for http upstreams; gRPC and tcp upstreams fail
//     fast while the circuit is open (gRPC clients see UNAVAILABLE).
package ambassador
