// Package tls is the TLS-termination sidecar pattern (SPEC §5.6, the TLS
// termination of seed 1's abstract): an HAProxy in front of one app port that
// terminates TLS with the certificate and key of a kubernetes.io/tls Secret
// (mounted read-only, tls.crt and tls.key as the Secret has them), modern
// defaults (TLS 1.2+, forward-secret AEAD ciphers), an optional HTTP→HTTPS
// redirect port and an optional cert-manager Certificate that issues the
// Secret. The Services' targetPort moves to the TLS port; the proxy's metrics
// are scraped as in §5.1.
//
// Decisions where the SPEC is silent:
//
//   - HAProxy runs with `-C /etc/sidecarize/tls` (the Secret's mount) and the
//     config names the certificate relatively (`crt tls.crt`), with
//     `ssl-load-extra-del-ext` so HAProxy loads the key from tls.key beside it
//     (by default it would look for tls.crt.key). The config thus holds no
//     absolute path: `haproxy -c` validates it wherever the files are laid
//     out (the golden harness writes a throwaway certificate next to it, the
//     pod simulator rewrites -C into its container root).
//   - Only tls.crt and tls.key are projected from the Secret (a cert-manager
//     Secret also holds ca.crt).
//   - The Service ports that targeted the app port target the TLS port; their
//     numbers are the user's. The redirect listener is a container port only
//     (tls-redirect): it answers 301 to https://<Host without port>[:httpsPort]
//     with the same path and query; expose it in a Service if clients should
//     reach it.
//   - In http mode the proxy adds X-Forwarded-For and X-Forwarded-Proto: https
//     and offers h2 through ALPN; tcp mode terminates TLS for any protocol.
//   - The cert-manager Certificate (named <workload>-tls) issues
//     <workload>-tls-cert unless secretName is set, ECDSA P-256, rotated on
//     renewal; its dnsNames default to each selecting Service's short and
//     namespace-qualified names.
//   - Limitation: HAProxy reads the certificate at start, so a renewed Secret
//     takes effect when the pod restarts (kubectl rollout restart, or a
//     controller such as stakater Reloader watching the Secret).
package tls
