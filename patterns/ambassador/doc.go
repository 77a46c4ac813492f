// Package ambassador is the ambassador pattern: an HAProxy container in the app's
// pod carries its outbound traffic to named upstreams, with timeouts,
// retries, a connection limit and a circuit breaker that serves a canned
// response while an upstream is out; the app's env vars and args are
// pointed at the local listeners.
//
// Its decisions (ports, images, users, protocols, limits) are recorded in
// docs/patterns/ambassador.md; its options are listed by `sidecarize patterns`.
package ambassador
