package transform

import (
	"encoding/json"
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// toRNode turns a typed value (k8s.io/api types, or a pattern's own struct
// for CRDs) into a block-style RNode in the type's field order, dropping
// nulls such as creationTimestamp: null — structure, not text
// (ARCHITECTURE style 1).
func toRNode(v any) (*yaml.RNode, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", v, err)
	}
	// JSON is YAML: parsing it keeps the struct's field order.
	n, err := yaml.Parse(string(b))
	if err != nil {
		return nil, err
	}
	blockStyle(n.YNode())
	typeMetaFirst(n.YNode())
	return n, nil
}

// ToRNode is toRNode for patterns and tests.
func ToRNode(v any) (*yaml.RNode, error) { return toRNode(v) }

// blockStyle resets the flow and quoting styles JSON parsing leaves, and
// drops null-valued keys; the encoder quotes strings that need it (a string
// "80" stays a string, tagged !!str).
func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.MappingNode {
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i+1].Tag == yaml.NodeTagNull {
				continue
			}
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		n.Content = kept
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

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
