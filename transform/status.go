package transform

import (
	"encoding/json"
	"fmt"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Annotation and label keys.
const (
	AnnotationStatus = "sidecarize.dev/status"
	// AnnotationOwner on a generated object names the workload it was
	// generated for, as Kind/name (the namespace is the object's own).
	AnnotationOwner      = "sidecarize.dev/owner"
	AnnotationConfigHash = "sidecarize.dev/config-hash"
	AnnotationInject     = "sidecarize.dev/inject"
	AnnotationPrefix     = "sidecarize.dev/"
	LabelManagedBy       = "app.kubernetes.io/managed-by"
	ManagedByValue       = "sidecarize"
)

// Status is the provenance record of an injected workload
// (sidecarize.dev/status). It lists every change made to the workload, so
// that re-running replaces the injection exactly and uninject restores the
// original.
//
// It lives in the workload's own metadata.annotations, not on the pod
// template: it carries sidecarize's version, and a pod template that changed
// with every upgrade of the tool would drift in GitOps and roll every
// workload. Only sidecarize.dev/config-hash (which changes exactly when the
// generated configuration does) stays on the pod template. Outputs of
// earlier versions, with the status on the pod template, are still read;
// re-injecting moves the status.
type Status struct {
	Version string `json:"version"`
	// Workload is Kind/name of the workload when it was injected (the
	// sidecarize.dev/owner of its generated objects, by which they are
	// found even when a tool such as kustomize's namePrefix/nameSuffix has
	// renamed the workload and them since: trust.go's claimObjects).
	Workload       string        `json:"workload,omitempty"`
	Patterns       []string      `json:"patterns"`
	Containers     []string      `json:"containers,omitempty"`
	InitContainers []string      `json:"initContainers,omitempty"`
	Volumes        []string      `json:"volumes,omitempty"`
	Objects        []ObjectRef   `json:"objects,omitempty"`
	Services       []ServiceEdit `json:"services,omitempty"`
	Edits          []Edit        `json:"edits,omitempty"`
	// Created lists fields that did not exist before injection and are
	// removed by uninject when they end up empty: pod-level initContainers,
	// volumes, and the pod template's annotations and metadata; and
	// objectAnnotations, the workload's own metadata.annotations (which holds
	// the status). A field that was null or {} is recorded as
	// "annotations=null" / "annotations={}" and restored so (shapes.go).
	Created []string `json:"created,omitempty"`
	// Allocated lists defaults that were taken and moved (ports, names);
	// a re-run keeps them.
	Allocated []Allocation `json:"allocated,omitempty"`

	// owner is the sidecarize.dev/owner the workload's generated objects
	// carry, and recorded the workload's name then (set on a trusted
	// status: from Workload, or the current Kind/name).
	owner, recorded string
}

// ObjectRef names a generated object.
type ObjectRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Edit is one reversible change to the app's own containers or pod.
type Edit struct {
	// Op is EditMount, EditEnv, EditArg or EditAnnotation.
	Op        EditOp `json:"op"`
	Container string `json:"container,omitempty"`
	Name      string `json:"name,omitempty"`
	Index     int    `json:"index,omitempty"`
	// Old is the previous value; nil when the field was absent.
	Old *string `json:"old,omitempty"`
	// Set is the value sidecarize wrote (env, arg, annotation): the edit is
	// undone only where that value is still in place. Statuses of earlier
	// versions do not record it.
	Set *string `json:"set,omitempty"`
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
	// NamedFrom holds the blank name ("" or null) a port named here had,
	// by the name given: uninject puts it back.
	NamedFrom map[string]string `json:"namedFrom,omitempty"`
	Created   []string          `json:"created,omitempty"`
}

type portOrig struct {
	Port       string  `json:"port"` // the Service port's name, or its number
	TargetPort *string `json:"targetPort,omitempty"`
}

// parseStatus decodes a status. Fields this version does not know (a
// status written by a later version, or edited by hand) are returned, not
// an error: what they record is left alone and reported.
func parseStatus(s string) (st *Status, unknown []string, err error) {
	st = &Status{}
	if err := decodeStatus(s, st); err != nil {
		return nil, nil, fmt.Errorf("annotation %s: not a sidecarize status (%v); remove the annotation, or restore it from the output sidecarize wrote", AnnotationStatus, cleanJSONError(err))
	}
	strict, err := kjson.UnmarshalStrict([]byte(s), &Status{}, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, nil, fmt.Errorf("annotation %s: not a sidecarize status (%v)", AnnotationStatus, cleanJSONError(err))
	}
	for _, e := range strict {
		unknown = append(unknown, cleanJSONError(e).Error())
	}
	return st, unknown, nil
}

// maxStatus is the most the API server stores in all of an object's
// annotations together (256 KiB): a larger status was never on a live
// object, so it is not one sidecarize wrote. It is refused before it is
// read, so a forged status cannot make a run's time grow with its size.
const maxStatus = 256 << 10

// decodeStatus decodes a status annotation (a workload's, a Service's or a
// NetworkPolicy's) into v.
func decodeStatus(raw string, v any) error {
	if len(raw) > maxStatus {
		return fmt.Errorf("%d bytes, more than the 256 KiB the API server allows for all of an object's annotations", len(raw))
	}
	return json.Unmarshal([]byte(raw), v)
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

// createdObjectAnnotations in Status.Created: the workload's own
// metadata.annotations were created to hold the status.
const createdObjectAnnotations = "objectAnnotations"

// readStatus returns the status annotation of a workload: from its own
// metadata, or (outputs of earlier versions) from its pod template. legacy
// reports the latter.
func readStatus(obj, tmpl *yaml.RNode) (raw string, legacy, ok bool) {
	if raw, ok := obj.GetAnnotations()[AnnotationStatus]; ok {
		return raw, false, true
	}
	if tmpl != nil && tmpl != obj {
		if raw, ok := tmpl.GetAnnotations()[AnnotationStatus]; ok {
			return raw, true, true
		}
	}
	return "", false, false
}

// writeStatus records the status in the workload's own metadata (for a Pod,
// the pod template is the object itself).
func (w *Workload) writeStatus() error {
	obj := w.obj.node
	if obj == w.tmpl {
		if err := w.prepareAnnotations(); err != nil {
			return err
		}
	} else if !w.createdMeta(createdObjectAnnotations) {
		// Its shape (absent, null, {}) is recorded to be restored.
		for _, rec := range metaShape(obj, "annotations") {
			w.status.Created = append(w.status.Created, createdObjectAnnotations+strings.TrimPrefix(rec, "annotations"))
		}
	}
	b, err := json.Marshal(w.status)
	if err != nil {
		return err
	}
	return setMetaKey(obj, "annotations", AnnotationStatus, string(b))
}

// removeStatus removes the status and config-hash annotations (from both
// places: current and earlier outputs), and the annotation maps sidecarize
// created.
func (w *Workload) removeStatus(st *Status) error {
	if err := restoreMeta(w.tmpl, "annotations", []string{AnnotationStatus, AnnotationConfigHash}, st.Created); err != nil {
		return err
	}
	if obj := w.obj.node; obj != w.tmpl {
		var created []string
		for _, c := range st.Created {
			if rest, ok := strings.CutPrefix(c, createdObjectAnnotations); ok {
				created = append(created, "annotations"+rest)
			}
		}
		return restoreMeta(obj, "annotations", []string{AnnotationStatus}, created)
	}
	return nil
}
