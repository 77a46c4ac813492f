// Package cli is sidecarize's command line: the filter, files and in-place
// front ends, the KRM function (`fn`, or a ResourceList on stdin) and the
// Helm post-renderer (stdin to stdout) all run transform.Engine.
package cli
