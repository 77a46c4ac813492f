package cli

import (
	"bytes"
	"strings"
	"testing"
)

// An error about a workload exits 1 whatever its text: errors are told by
// type (the command's exitErr, a transform.WorkloadError), never by their
// text, so a value that reads like a flag error is not taken for a usage
// error (exit 2).
func TestWorkloadErrorIsNotAUsageError(t *testing.T) {
	const in = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    sidecarize.dev/inject: monitor
    sidecarize.dev/monitor.protocol: "flag provided but not defined: invalid value"
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "example.com/api:1.0", ports: [{containerPort: 8080}]}]
`
	var out, errb bytes.Buffer
	code := Run([]string{"sidecarize", "-"}, strings.NewReader(in), &out, &errb)
	if code != exitError {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitError, errb.String())
	}
	if !strings.Contains(errb.String(), "Deployment api: monitor: protocol: ") {
		t.Errorf("stderr does not name the workload and field:\n%s", errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q", out.String())
	}
}
