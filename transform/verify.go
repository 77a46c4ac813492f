package transform

import (
	"os"
	"testing"
)

// verify: every fast path also takes its slow path and compares the two —
// typed values built into nodes (typedNode) and pod specs read as JSON
// (nodeJSON) against encoding/json, metadata edited on the nodes against
// kyaml's filters, spliced documents read back against the edited tree,
// generated objects written by writeTree against the emitter, and
// dashboards filled in from their cache against the SDK's build. A
// difference is an internal error (a splice falls back to the emitter and
// is reported). It is on in every test binary, so every golden case and
// fuzz input checks them, and in the binary with SIDECARIZE_VERIFY=1: the
// e2e corpus runs the shipped binary so on real-world manifests. Off in
// normal runs, where the slow paths are most of the cost (README
// "Benchmark").
var verify = testing.Testing() || os.Getenv("SIDECARIZE_VERIFY") != ""

// Verify reports whether fast paths outside this package (the dashboard
// cache) should compare with their slow path too.
func Verify() bool { return verify }
