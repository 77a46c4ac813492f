// Package tls is the TLS-termination sidecar pattern: an HAProxy in front of one
// app port terminates TLS with the certificate of a kubernetes.io/tls
// Secret, with an optional HTTP→HTTPS redirect and cert-manager
// Certificate.
//
// Its decisions (ports, images, users, protocols, limits) are recorded in
// docs/patterns/tls.md; its options are listed by `sidecarize patterns`.
package tls
