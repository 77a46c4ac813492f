package transform

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// FieldSpec says where a kind keeps its pod template, as data (the way
// kustomize's FieldSpecs do), so CRDs are configuration, not code.
// Path is slash-separated; "" means the object itself is the pod (kind Pod).
type FieldSpec struct {
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind"`
	Path  string `json:"path"`
}

// BuiltinPodTemplates are the built-in workload kinds (docs/contract.md#input).
var BuiltinPodTemplates = []FieldSpec{
	{Group: "", Kind: "Pod", Path: ""},
	{Group: "apps", Kind: "Deployment", Path: "spec/template"},
	{Group: "apps", Kind: "StatefulSet", Path: "spec/template"},
	{Group: "apps", Kind: "DaemonSet", Path: "spec/template"},
	{Group: "apps", Kind: "ReplicaSet", Path: "spec/template"},
	{Group: "", Kind: "ReplicationController", Path: "spec/template"},
	{Group: "batch", Kind: "Job", Path: "spec/template"},
	// CronJob is one level deeper than the rest.
	{Group: "batch", Kind: "CronJob", Path: "spec/jobTemplate/spec/template"},
}

// groupOf returns the API group of an apiVersion ("apps/v1" → "apps").
func groupOf(apiVersion string) string {
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

// findSpec returns the FieldSpec for an object, or nil for a kind without a
// pod template.
func findSpec(specs []FieldSpec, apiVersion, kind string) *FieldSpec {
	g := groupOf(apiVersion)
	for i := range specs {
		if specs[i].Kind == kind && specs[i].Group == g {
			return &specs[i]
		}
	}
	return nil
}

func isWorkloadKind(specs []FieldSpec, kind string) bool {
	for _, s := range specs {
		if s.Kind == kind {
			return true
		}
	}
	return false
}

// podTemplate returns the pod template node (metadata + spec) at the spec's
// path, or nil when the object does not have one yet. The workload has a
// name (generated objects are named after it); every node on the
// way must be a mapping, and the template's metadata of the right shape
// (see shape.go); otherwise the error names the field and its line.
func podTemplate(obj *yaml.RNode, fs *FieldSpec) (*yaml.RNode, error) {
	if scalarField(field(obj.YNode(), "metadata"), "name") == "" {
		return nil, fmt.Errorf("metadata.name: required: the objects sidecarize adds are named after the workload")
	}
	if fs.Path == "" {
		return obj, nil
	}
	n, path := obj.YNode(), ""
	for _, seg := range strings.Split(fs.Path, "/") {
		path = join(path, seg)
		n = field(n, seg)
		if n == nil || isNull(n) {
			return nil, nil
		}
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: expected a mapping, got %s (line %d)", path, nodeKind(n), n.Line)
		}
	}
	if err := templateShape(n, path); err != nil {
		return nil, err
	}
	return yaml.NewRNode(n), nil
}
