// Package manifest reads Kubernetes YAML streams the way the e2e checks need
// them: generic objects, pod templates and sidecarize's provenance annotation.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// Object is one decoded Kubernetes object.
type Object map[string]any

// StatusAnnotation is the provenance annotation sidecarize writes on the
// workload's own metadata (outputs of earlier versions: on its pod template).
const StatusAnnotation = "sidecarize.dev/status"

// Parse decodes a multi-document YAML (or JSON) stream; `kind: List`
// documents and typed lists (DeploymentList) are flattened into their
// items, as kubectl flattens them (a KRM ResourceList is kept whole, for
// the tests that read one), empty documents dropped.
func Parse(data []byte) ([]Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Object
	for i := 0; ; i++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if doc == nil {
			continue
		}
		o := Object(doc)
		if items, isList := doc["items"].([]any); isList && strings.HasSuffix(o.Kind(), "List") && o.Kind() != "ResourceList" {
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					out = append(out, Object(m))
				}
			}
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// Kind of the object.
func (o Object) Kind() string { s, _ := o["kind"].(string); return s }

// APIVersion of the object.
func (o Object) APIVersion() string { s, _ := o["apiVersion"].(string); return s }

// Name is metadata.name.
func (o Object) Name() string { return Str(o, "metadata", "name") }

// Namespace is metadata.namespace ("" if unset).
func (o Object) Namespace() string { return Str(o, "metadata", "namespace") }

// NamespaceOr returns the namespace or def.
func (o Object) NamespaceOr(def string) string {
	if ns := o.Namespace(); ns != "" {
		return ns
	}
	return def
}

// JSON encodes the object.
func (o Object) JSON() []byte {
	b, err := json.Marshal(map[string]any(o))
	if err != nil {
		panic(err)
	}
	return b
}

// Get walks nested maps.
func Get(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// Map returns a nested map or nil.
func Map(m map[string]any, path ...string) map[string]any {
	v, _ := Get(m, path...).(map[string]any)
	return v
}

// Slice returns a nested list or nil.
func Slice(m map[string]any, path ...string) []any {
	v, _ := Get(m, path...).([]any)
	return v
}

// Str returns a nested string or "".
func Str(m map[string]any, path ...string) string {
	v, _ := Get(m, path...).(string)
	return v
}

// Strings returns a nested list with each item printed (a command, args).
func Strings(m map[string]any, path ...string) []string {
	l := Slice(m, path...)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// Int returns a nested number as an int, or 0.
func Int(m map[string]any, path ...string) int {
	switch x := Get(m, path...).(type) {
	case float64:
		return int(x)
	case int:
		return x
	case int64:
		return int(x)
	}
	return 0
}

// PodTemplatePath is where a kind keeps its pod template (nil: none).
func PodTemplatePath(kind string) []string {
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "PodTemplate":
		if kind == "PodTemplate" {
			return []string{"template"}
		}
		return []string{"spec", "template"}
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template"}
	case "Pod":
		return []string{}
	}
	return nil
}

// PodTemplate returns the object's pod template ({metadata, spec}) or nil.
func (o Object) PodTemplate() map[string]any {
	path := PodTemplatePath(o.Kind())
	if path == nil {
		return nil
	}
	if len(path) == 0 {
		return o
	}
	return Map(o, path...)
}

// Status is sidecarize's provenance annotation.
type Status struct {
	Version        string            `json:"version"`
	Patterns       []string          `json:"patterns"`
	Containers     []string          `json:"containers"`
	InitContainers []string          `json:"initContainers"`
	Volumes        []string          `json:"volumes"`
	Services       []json.RawMessage `json:"services"`
	Objects        []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"objects"`
}

// StatusOf parses a workload's sidecarize.dev/status, from its metadata or
// (earlier versions) its pod template; nil, nil when it has none.
func StatusOf(o Object) (*Status, error) {
	if raw := Str(o, "metadata", "annotations", StatusAnnotation); raw != "" {
		return parseStatus(raw)
	}
	if tmpl := o.PodTemplate(); tmpl != nil {
		return TemplateStatus(tmpl)
	}
	return nil, nil
}

// TemplateStatus parses the pod template's sidecarize.dev/status, where
// earlier versions wrote it (nil, nil when the template has none). Use
// StatusOf for a workload.
func TemplateStatus(tmpl map[string]any) (*Status, error) {
	raw := Str(tmpl, "metadata", "annotations", StatusAnnotation)
	if raw == "" {
		return nil, nil
	}
	return parseStatus(raw)
}

func parseStatus(raw string) (*Status, error) {
	var st Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, fmt.Errorf("%s: %w", StatusAnnotation, err)
	}
	return &st, nil
}

// Injected reports whether a container name was added by sidecarize.
func (s *Status) Injected(name string) bool {
	if s == nil {
		return false
	}
	for _, n := range s.Containers {
		if n == name {
			return true
		}
	}
	for _, n := range s.InitContainers {
		if n == name {
			return true
		}
	}
	return false
}

// InjectedVolume reports whether a volume name was added by sidecarize.
func (s *Status) InjectedVolume(name string) bool {
	if s == nil {
		return false
	}
	for _, n := range s.Volumes {
		if n == name {
			return true
		}
	}
	return false
}

// Containers returns spec.containers and spec.initContainers of a pod
// template as maps, init containers first, with init=true.
func Containers(tmpl map[string]any) []Container {
	var out []Container
	for _, c := range Slice(tmpl, "spec", "initContainers") {
		if m, ok := c.(map[string]any); ok {
			out = append(out, Container{M: m, Init: true})
		}
	}
	for _, c := range Slice(tmpl, "spec", "containers") {
		if m, ok := c.(map[string]any); ok {
			out = append(out, Container{M: m})
		}
	}
	return out
}

// Container is one container of a pod template.
type Container struct {
	M    map[string]any
	Init bool
}

// Name of the container.
func (c Container) Name() string { return Str(c.M, "name") }

// Image of the container.
func (c Container) Image() string { return Str(c.M, "image") }
