package transform

import (
	"fmt"
	"sort"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// configMapNode is typedNode for a generated ConfigMap — most injected
// workloads get two, a proxy's config and a dashboard — without
// reflection: kind, apiVersion, metadata with a name, labels and
// annotations, and data; ok=false when anything else is set (or a string
// is not UTF-8), and typedNode builds it. Under verify (verify.go) toRNode
// compares the two (TestConfigMapNode: the fields it knows are the
// types' fields).
func configMapNode(v any) (*yaml.Node, bool) {
	var cm corev1.ConfigMap
	switch c := v.(type) {
	case corev1.ConfigMap:
		cm = c
	case *corev1.ConfigMap:
		if c == nil {
			return nil, false
		}
		cm = *c
	default:
		return nil, false
	}
	om := &cm.ObjectMeta
	if cm.Immutable != nil || cm.BinaryData != nil || om.GenerateName != "" || om.Namespace != "" || om.SelfLink != "" ||
		om.UID != "" || om.ResourceVersion != "" || om.Generation != 0 || !om.CreationTimestamp.IsZero() ||
		om.DeletionTimestamp != nil || om.DeletionGracePeriodSeconds != nil || om.OwnerReferences != nil ||
		om.Finalizers != nil || om.ManagedFields != nil {
		return nil, false
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: make([]*yaml.Node, 0, 8)}
	ok := true
	str := func(s string) *yaml.Node {
		ok = ok && utf8.ValidString(s)
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: s}
	}
	pair := func(m *yaml.Node, k string, v *yaml.Node) { m.Content = append(m.Content, str(k), v) }
	strMap := func(m map[string]string) *yaml.Node {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: make([]*yaml.Node, 0, 2*len(keys))}
		for _, k := range keys {
			pair(n, k, str(m[k]))
		}
		return n
	}
	if cm.Kind != "" {
		pair(root, "kind", str(cm.Kind))
	}
	if cm.APIVersion != "" {
		pair(root, "apiVersion", str(cm.APIVersion))
	}
	md := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
	if om.Name != "" {
		pair(md, "name", str(om.Name))
	}
	if len(om.Labels) > 0 {
		pair(md, "labels", strMap(om.Labels))
	}
	if len(om.Annotations) > 0 {
		pair(md, "annotations", strMap(om.Annotations))
	}
	pair(root, "metadata", md)
	if len(cm.Data) > 0 {
		pair(root, "data", strMap(cm.Data))
	}
	return root, ok
}

// checkConfigMapNode compares configMapNode's nodes with typedNode's.
func checkConfigMapNode(v any, fast *yaml.Node, typed *yaml.Node) error {
	if !sameNode(fast, typed) {
		return fmt.Errorf("internal error: %T: configMapNode differs from typedNode", v)
	}
	return nil
}
