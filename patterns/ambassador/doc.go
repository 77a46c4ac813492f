// Package ambassador is the ambassador pattern (SPEC §5.3, seed 1 "v3"): an
// HAProxy container in the app's pod that carries its outbound traffic to
// named upstreams. Each upstream gets a listener on 127.0.0.1, the app's env
// vars (and args) that point at the upstream are rewritten to it, and
// HAProxy adds timeouts, retries of idempotent requests, a connection limit
// and a circuit breaker: after N failed responses in a row the upstream is
// taken out, a canned response is served instead, and health checks put it
// back once it recovers. Upstream names are re-resolved through the pod's
// DNS; metrics are scraped as in §5.1.
package ambassador
