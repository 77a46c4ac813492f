package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// toRNode turns a typed value (k8s.io/api types, or a pattern's own struct
// for CRDs) into a block-style RNode in the type's field order, dropping
// nulls such as creationTimestamp: null — objects are built as structure,
// never as text (docs/design.md#structure-not-text). The JSON encoding is walked token by token into
// yaml nodes: it keeps the struct's field order and honours every type's
// own MarshalJSON (quantities, int-or-string).
func toRNode(v any) (*yaml.RNode, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", v, err)
	}
	// Many workloads get the very same container or object: reuse the
	// nodes of an identical encoding (copied, the tree is mutable).
	if n, ok := nodeCache.Load(string(b)); ok {
		return yaml.NewRNode(yaml.CopyYNode(n.(*yaml.Node))), nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := jsonNode(dec)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", v, err)
	}
	typeMetaFirst(n)
	if cacheSize.Add(1) <= maxCached {
		nodeCache.Store(string(b), yaml.CopyYNode(n))
	}
	return yaml.NewRNode(n), nil
}

// nodeCache maps JSON encodings to their nodes, bounded so that a stream of
// all-different objects does not keep them all.
var (
	nodeCache sync.Map
	cacheSize atomic.Int64
)

const maxCached = 256

// jsonNode reads one JSON value from dec as a yaml node; null-valued object
// keys are dropped.
func jsonNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				val, err := jsonNode(dec)
				if err != nil {
					return nil, err
				}
				if val == nil {
					continue
				}
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: kt.(string)}, val)
			}
			_, err := dec.Token() // }
			return m, err
		case '[':
			seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq}
			for dec.More() {
				val, err := jsonNode(dec)
				if err != nil {
					return nil, err
				}
				if val == nil {
					val = &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagNull, Value: "null"}
				}
				seq.Content = append(seq.Content, val)
			}
			_, err := dec.Token() // ]
			return seq, err
		}
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: t}, nil
	case json.Number:
		tag := yaml.NodeTagInt
		if strings.ContainsAny(string(t), ".eE") {
			tag = yaml.NodeTagFloat
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(t)}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: strconv.FormatBool(t)}, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// ToRNode is toRNode for patterns and tests.
func ToRNode(v any) (*yaml.RNode, error) { return toRNode(v) }

// typeMetaFirst puts apiVersion before kind, as every manifest does
// (metav1.TypeMeta marshals kind first).
func typeMetaFirst(n *yaml.Node) {
	if n.Kind != yaml.MappingNode || len(n.Content) < 4 {
		return
	}
	if n.Content[0].Value == "kind" && n.Content[2].Value == "apiVersion" {
		n.Content[0], n.Content[1], n.Content[2], n.Content[3] = n.Content[2], n.Content[3], n.Content[0], n.Content[1]
	}
}
