// Package transform is sidecarize's engine. It knows no pattern: it reads a
// document stream keeping every document's original bytes, locates pod
// templates, matches Services, layers configuration (flags, config file,
// annotations), records provenance (sidecarize.dev/status) so that re-running
// and uninject are exact, and writes the stream back. Patterns plug in through
// the Pattern interface and mutate a Workload through its methods only.
package transform
