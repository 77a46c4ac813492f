// Package tls is the TLS-termination sidecar pattern (SPEC §5.6, the TLS
// termination of seed 1's abstract): an HAProxy in front of one app port that
// terminates TLS with the certificate and key of a kubernetes.io/tls Secret
// (mounted read-only, tls.crt and tls.key as the Secret has them), modern
// defaults (TLS 1.2+, forward-secret AEAD ciphers), an optional HTTP→HTTPS
// redirect port and an optional cert-manager Certificate that issues the
// Secret. The Services' targetPort moves to the TLS port; the proxy's metrics
// are scraped as in §5.1.
package tls
