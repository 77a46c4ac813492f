package transform

import (
	"fmt"
	"maps"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Fields sidecarize adds to or creates are restored to the shape they had,
// which a status records in its Created list:
//
//	"annotations"         the field was absent (or held only a KRM host's keys)
//	"annotations={}"      an empty map ({}, flow or block)
//	"annotations=null"    a null value, as written: "annotations=" for an
//	                      empty value, "annotations=~", "annotations=null"
//
// Helm renders all of these ("annotations:" with nothing under it when a
// values map is empty); each comes back as it was, so the output of a run is
// stable (--check passes on it) and uninject gives back the input.

// shapeOf records the shape of a mapping's field before it is written: it
// returns the Created entry ("" when the field holds the user's keys) and
// makes a null value an empty mapping the caller can add to.
func shapeOf(parent *yaml.RNode, field string, hostKeysOnly bool) string {
	f := parent.Field(field)
	if f == nil {
		return field
	}
	v := f.Value.YNode()
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == yaml.NodeTagNull:
		rec := field + "=" + v.Value
		*v = yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
		return rec
	case v.Kind == yaml.SequenceNode && len(v.Content) == 0 && v.Style == yaml.FlowStyle:
		return field + "=[]"
	case v.Kind == yaml.MappingNode && len(v.Content) == 0:
		return field + "={}"
	case hostKeysOnly:
		return field
	}
	return ""
}

// metaShape records the shape of metadata.<field> of an object sidecarize
// is about to write into (see shapeOf): the Created entries for its status.
func metaShape(n *yaml.RNode, field string) []string {
	md := fieldNode(n, "metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		return []string{field}
	}
	if rec := shapeOf(yaml.NewRNode(md), field, !hasUserKeys(n, field)); rec != "" {
		return []string{rec}
	}
	return nil
}

// fieldNode is kyaml's n.Field(name).Value (the value of a mapping's first
// key of that name; nil for none, or for a node that is no mapping)
// without the three values Field allocates.
func fieldNode(n *yaml.RNode, name string) *yaml.Node { return field(n.YNode(), name) }

// nullToList makes a null list field an empty block sequence, returning the
// Created entry for it ("" when it was not null).
func nullToList(parent *yaml.RNode, field string) string {
	f := parent.Field(field)
	if f == nil {
		return ""
	}
	v := f.Value.YNode()
	if v.Kind == yaml.ScalarNode && v.Tag == yaml.NodeTagNull {
		rec := field + "=" + v.Value
		*v = yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq}
		return rec
	}
	return ""
}

// restoreShape puts an emptied field back the way Created says it was:
// removed when sidecarize created it, {} or [] when it was empty, null when
// it was null. A field that still holds something is left alone.
func restoreShape(parent *yaml.RNode, field string, created []string) error {
	f := parent.Field(field)
	if f == nil {
		return nil
	}
	v := f.Value.YNode()
	if (v.Kind != yaml.MappingNode && v.Kind != yaml.SequenceNode) || len(v.Content) > 0 {
		return nil
	}
	for _, c := range created {
		switch {
		case c == field:
			_, err := parent.Pipe(yaml.Clear(field))
			return err
		case c == field+"={}" || c == field+"=[]":
			v.Style = yaml.FlowStyle
			return nil
		case strings.HasPrefix(c, field+"="):
			*v = yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagNull, Value: strings.TrimPrefix(c, field+"=")}
			return nil
		}
	}
	return nil
}

// restoreMeta removes keys from metadata.<field> and restores the field's
// shape (see restoreShape).
func restoreMeta(n *yaml.RNode, field string, keys []string, created []string) error {
	md := n.Field("metadata")
	if md == nil || md.Value.YNode().Kind != yaml.MappingNode {
		return nil
	}
	m := md.Value.Field(field)
	if m == nil || m.Value.YNode().Kind != yaml.MappingNode {
		return nil
	}
	for _, k := range keys {
		if _, err := m.Value.Pipe(yaml.Clear(k)); err != nil {
			return err
		}
	}
	return restoreShape(md.Value, field, created)
}

// metaMap reads metadata.<field> (labels, annotations) resolving YAML
// aliases and merge keys, which kyaml's getters do not follow.
// metaString is metadata.<field> (name, namespace) as a string, decoded
// as kubectl decodes it: a scalar with a tag other than !!str (!!binary)
// is its decoded value, not its text.
func metaString(n *yaml.RNode, name string) string {
	md := fieldNode(n, "metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		return ""
	}
	v := field(md, name)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	if v.ShortTag() != yaml.NodeTagString {
		var s string
		if err := v.Decode(&s); err == nil {
			return s
		}
	}
	return v.Value
}

func metaMap(n *yaml.RNode, field string) map[string]string {
	md := fieldNode(n, "metadata")
	if md == nil {
		return map[string]string{}
	}
	if m, ok := plainStringMap(md, field); ok {
		if verifyMeta {
			if slow := metaMapSlow(md, field, n); !maps.Equal(m, slow) {
				panic(fmt.Sprintf("internal error: metaMap %s: %v, decoded %v", field, m, slow))
			}
		}
		return m
	}
	return metaMapSlow(md, field, n)
}

// plainStringMap is metadata.<field> when the metadata is a plain mapping
// holding field at most once, as a plain mapping of strings to strings (no
// tags but !!str, no aliases or merge keys, no duplicate keys): what
// decoding gives, without the decoder. ok=false for any other shape.
func plainStringMap(md *yaml.Node, field string) (map[string]string, bool) {
	if !plainMapping(md) {
		return nil, false
	}
	for i := 0; i < len(md.Content); i += 2 {
		if k := md.Content[i]; k.Kind != yaml.ScalarNode || k.ShortTag() != yaml.NodeTagString {
			return nil, false // a merge key (<<) may bring the field
		}
	}
	switch count(md, field) {
	case 0:
		return map[string]string{}, true
	case 1:
	default:
		return nil, false
	}
	m := md.Content[keyIndex(md, field)+1]
	if !plainMapping(m) || m.ShortTag() != yaml.NodeTagMap {
		return nil, false
	}
	out := make(map[string]string, len(m.Content)/2)
	for i := 0; i < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != yaml.NodeTagString || v.Kind != yaml.ScalarNode || v.ShortTag() != yaml.NodeTagString {
			return nil, false
		}
		if _, dup := out[k.Value]; dup {
			return nil, false
		}
		out[k.Value] = v.Value
	}
	return out, true
}

// metaMapSlow is metaMap by the decoder.
func metaMapSlow(md *yaml.Node, field string, n *yaml.RNode) map[string]string {
	var m struct {
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	if err := md.Decode(&m); err != nil {
		if field == "labels" {
			return n.GetLabels()
		}
		return n.GetAnnotations()
	}
	out := m.Labels
	if field == "annotations" {
		out = m.Annotations
	}
	if out == nil {
		out = map[string]string{}
	}
	return out
}
