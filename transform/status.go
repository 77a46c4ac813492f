package transform

import (
	"encoding/json"
	"fmt"
)

// Annotation and label keys.
const (
	AnnotationStatus     = "sidecarize.dev/status"
	AnnotationConfigHash = "sidecarize.dev/config-hash"
	AnnotationInject     = "sidecarize.dev/inject"
	AnnotationPrefix     = "sidecarize.dev/"
	LabelManagedBy       = "app.kubernetes.io/managed-by"
	ManagedByValue       = "sidecarize"
)

// Status is the provenance record on an injected pod template
// (sidecarize.dev/status). It lists every change made to the workload, so
// that re-running replaces the injection exactly and uninject restores the
// original.
type Status struct {
	Version        string        `json:"version"`
	Patterns       []string      `json:"patterns"`
	Containers     []string      `json:"containers,omitempty"`
	InitContainers []string      `json:"initContainers,omitempty"`
	Volumes        []string      `json:"volumes,omitempty"`
	Objects        []ObjectRef   `json:"objects,omitempty"`
	Services       []ServiceEdit `json:"services,omitempty"`
	Edits          []Edit        `json:"edits,omitempty"`
	// Created lists pod-level fields that did not exist before injection
	// (initContainers, volumes, annotations, metadata) and are removed by
	// uninject when they end up empty.
	Created []string `json:"created,omitempty"`
}

// ObjectRef names a generated object.
type ObjectRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Edit is one reversible change to the app's own containers or pod.
type Edit struct {
	// Op is "mount" (a volumeMount added), "env" (an env var value set),
	// "arg" (an argument rewritten) or "annotation" (a pod annotation set).
	Op        string `json:"op"`
	Container string `json:"container,omitempty"`
	Name      string `json:"name,omitempty"`
	Index     int    `json:"index,omitempty"`
	// Old is the previous value; nil when the field was absent.
	Old *string `json:"old,omitempty"`
	// Created: the list holding the entry did not exist before.
	Created bool `json:"created,omitempty"`
}

// ServiceEdit is a change to the Services that select the workload's pods.
// Edits are data, applied by the engine after every workload is injected, so
// Services are derived from the workloads and re-running is exact.
type ServiceEdit struct {
	// Op is OpRetarget, OpPort or OpLabel; build edits with Retarget,
	// AddPort and AddLabel.
	Op      ServiceOp `json:"op"`
	Pattern string    `json:"pattern"`
	// Service limits the edit to one Service by name; "" means every match.
	Service string `json:"service,omitempty"`
	// retarget: the app port (name and number) and the proxy port.
	AppPort       int32  `json:"appPort,omitempty"`
	AppPortName   string `json:"appPortName,omitempty"`
	ProxyPort     int32  `json:"proxyPort,omitempty"`
	ProxyPortName string `json:"proxyPortName,omitempty"`
	// port: a Service port Name/Port targeting TargetPort (a name).
	Name       string `json:"name,omitempty"`
	Port       int32  `json:"port,omitempty"`
	TargetPort string `json:"targetPort,omitempty"`
	// label: Key=Value.
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
}

// serviceStatus is the record on a changed Service (sidecarize.dev/status)
// holding what it was before, for restore.
type serviceStatus struct {
	TargetPorts []portOrig `json:"targetPorts,omitempty"`
	Ports       []string   `json:"ports,omitempty"`
	Labels      []string   `json:"labels,omitempty"`
	Named       []string   `json:"named,omitempty"`
	Created     []string   `json:"created,omitempty"`
}

type portOrig struct {
	Port       string  `json:"port"` // the Service port's name, or its number
	TargetPort *string `json:"targetPort,omitempty"`
}

func parseStatus(s string) (*Status, error) {
	var st Status
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return nil, fmt.Errorf("annotation %s: not a sidecarize status: %w", AnnotationStatus, err)
	}
	return &st, nil
}

func (s *Status) has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func strPtr(s string) *string { return &s }
