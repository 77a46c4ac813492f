package transform

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The metadata edits of every workload and generated object (the status,
// config-hash, owner and managed-by keys, the namespace) are done on the
// nodes directly where the shape is the plain one — a mapping whose
// metadata and labels/annotations are mappings, each key found at most once
// — and by kyaml's filters (the slow path, which walks paths, copies them
// and parses every plain value with a YAML 1.1 parser) otherwise. Test
// binaries run both on copies and fail on a difference (verifyMeta).

// setMetaKeyFast is setMetaKeySlow on the plain shape; false (nothing
// changed) for any other.
func setMetaKeyFast(n *yaml.RNode, field, key, value string) bool {
	md := plainMap(n.YNode(), "metadata")
	if md == nil {
		return false
	}
	var m *yaml.Node
	switch count(md, field) {
	case 0: // created below
	case 1:
		if m = plainMap(md, field); m == nil {
			return false
		}
	default:
		return false
	}
	if m != nil && (key == AnnotationStatus || key == AnnotationConfigHash) {
		// The first one removed first, in place, as setMetaKeySlow does.
		if i := keyIndex(m, key); i >= 0 {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
		}
	}
	if m != nil {
		if i := keyIndex(m, key); i >= 0 {
			if v := m.Content[i+1]; v.Kind == yaml.ScalarNode {
				v.Value, v.Tag = value, yaml.NodeTagString
				return true
			}
			return false // a non-scalar value: kyaml's replacement rules
		}
	}
	v := yaml.NewStringRNode(value).YNode()
	if field == "annotations" {
		v.Style = yaml.SingleQuotedStyle
	} else if v.Style == 0 && v.Tag == yaml.NodeTagString && yaml1_1NonString(value) {
		v.Style = yaml.DoubleQuotedStyle // as kyaml's FieldSetter
	}
	if m == nil {
		m = &yaml.Node{Kind: yaml.MappingNode}
		md.Content = append(md.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: field}, m)
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	return true
}

// setNamespaceFast is kyaml's SetNamespace (ns not empty) on the plain
// shape; false (nothing changed) for any other.
func setNamespaceFast(n *yaml.RNode, ns string) bool {
	md := plainMap(n.YNode(), "metadata")
	if md == nil || ns == "" || count(md, "namespace") > 1 {
		return false
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Value: ns}
	if yaml1_1NonString(ns) {
		v.Style = yaml.DoubleQuotedStyle
	}
	if i := keyIndex(md, "namespace"); i >= 0 {
		// kyaml replaces the value node's content, keeping its style.
		v.Style = md.Content[i+1].Style
		*md.Content[i+1] = *v
		return true
	}
	md.Content = append(md.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "namespace"}, v)
	return true
}

// plainMap is the mapping under key in the mapping n: nil when n is not a
// plain mapping, the key is absent or there more than once, or its value is
// not a plain mapping (tagged null, say).
func plainMap(n *yaml.Node, key string) *yaml.Node {
	if !plainMapping(n) || count(n, key) != 1 {
		return nil
	}
	if v := n.Content[keyIndex(n, key)+1]; plainMapping(v) {
		return v
	}
	return nil
}

func plainMapping(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode && n.Tag != yaml.NodeTagNull && len(n.Content)%2 == 0
}

func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func count(m *yaml.Node, key string) int {
	c := 0
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			c++
		}
	}
	return c
}

// yaml1_1NonString is kyaml's IsValueNonString (a YAML 1.1 parse of the
// value), remembered for the few values sidecarize sets many times.
func yaml1_1NonString(s string) bool {
	if b, ok := plainWord(s); ok {
		if verify && b != yaml.IsValueNonString(s) { // transform/verify.go
			panic("internal error: plainWord(" + strconv.Quote(s) + ") differs from kyaml's IsValueNonString")
		}
		return b
	}
	if b, ok := nonStringCache.Load(s); ok {
		return b.(bool)
	}
	b := yaml.IsValueNonString(s)
	if nonStringSize.Add(1) <= maxCached {
		nonStringCache.Store(s, b)
	}
	return b
}

// plainWord answers yaml1_1NonString without a YAML 1.1 parse for a
// name-like value (a lower-case letter, then lower-case letters, digits,
// '-' and '.', as most names and namespaces are): the YAML 1.1 resolver
// reads such a plain scalar as a string unless it is one of its boolean
// or null words. ok=false: not such a value, ask the parser.
func plainWord(s string) (nonString, ok bool) {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false, false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false, false
		}
	}
	switch s {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null":
		return true, true
	}
	return false, true
}

var (
	nonStringCache sync.Map
	nonStringSize  atomic.Int64
)

// verifyMeta: test binaries run the slow path on a copy beside every fast
// edit and fail on a difference.
var verifyMeta = verifyTyped

// checkMetaEdit runs fast on n and slow on a copy of n taken before; an
// error when they differ. ok=false: fast declined, n is unchanged.
func checkMetaEdit(n *yaml.RNode, fast func(*yaml.RNode) bool, slow func(*yaml.RNode) error) (ok bool, err error) {
	if !verifyMeta {
		return fast(n), nil
	}
	c := yaml.NewRNode(yaml.CopyYNode(n.YNode()))
	slowErr := slow(c)
	if !fast(n) {
		return false, nil
	}
	if slowErr != nil || !sameNode(n.YNode(), c.YNode()) {
		a, _ := n.String()
		b, _ := c.String()
		return true, fmt.Errorf("internal error: a metadata edit differs from kyaml's (%v):\n%s\nkyaml:\n%s", slowErr, a, b)
	}
	return true, nil
}
