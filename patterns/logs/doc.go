// Package logs is the logging adapter pattern: the app keeps writing its log files;
// an adapter container (fluent-bit or a tail relay) follows them through a
// shared emptyDir and writes one JSON object per line to stdout.
//
// Its decisions (ports, images, users, protocols, limits) are recorded in
// docs/patterns/logs.md; its options are listed by `sidecarize patterns`.
package logs
