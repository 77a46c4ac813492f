package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// toRNode turns a typed value (k8s.io/api types, or a pattern's own struct
// for CRDs) into a block-style RNode in the type's field order, dropping
// nulls such as creationTimestamp: null — objects are built as structure,
// never as text (docs/design.md#structure-not-text). The JSON encoding is read into
// yaml nodes: it keeps the struct's field order and honours every type's
// own MarshalJSON (quantities, int-or-string). typedNode builds the same
// nodes without the JSON text where it can (typednode.go), and
// configMapNode a generated ConfigMap's without reflection.
func toRNode(v any) (*yaml.RNode, error) {
	n, ok := configMapNode(v)
	if ok && verifyTyped {
		typed, _ := typedNode(reflect.ValueOf(v))
		if err := checkConfigMapNode(v, n, typed); err != nil {
			return nil, err
		}
	}
	if !ok {
		n, ok = typedNode(reflect.ValueOf(v))
	}
	if ok && n != nil {
		typeMetaFirst(n)
		if verifyTyped {
			if err := sameAsSlow(v, n); err != nil {
				return nil, err
			}
		}
		quoteYAML11(n)
		return yaml.NewRNode(n), nil
	}
	r, err := toRNodeSlow(v)
	if err == nil && r != nil {
		quoteYAML11(r.YNode())
	}
	return r, err
}

// quoteYAML11 double-quotes the strings (keys and values) that kubectl's
// YAML 1.1 reader would take for something else written plain, where the
// YAML 1.2 emitter writes them plain: a workload named yes, a namespace on,
// a pod label n: y copied into a PodMonitor's selector. kubectl would read
// booleans (the API server refuses them as label values; a key "on"
// becomes "true"). The golden suite reads every output with kubectl's
// reader (golden.KubectlReads).
func quoteYAML11(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		if n.Style == 0 && n.Tag == yaml.NodeTagString && yaml11NonString(n.Value) {
			n.Style = yaml.DoubleQuotedStyle
		}
		return
	}
	for _, c := range n.Content {
		quoteYAML11(c)
	}
}

// yaml11NonString: a YAML 1.1 parse of s written plain is no string. Only
// values opening with a sign, a dot or a digit can be numbers, and of
// those opening with a letter only the boolean words are booleans (the
// emitter quotes true, false and null itself).
func yaml11NonString(s string) bool {
	if s == "" {
		return false
	}
	switch c := s[0]; {
	case c == '+' || c == '-' || c == '.' || c >= '0' && c <= '9':
		return yaml1_1NonString(s)
	case len(s) <= 3:
		switch s {
		case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF":
			return true
		}
	}
	return false
}

// verifyTyped: build every value both ways (typedNode and the JSON
// encoding) and fail on a difference (verify.go).
var verifyTyped = verify

// sameAsSlow compares the fast path's nodes with the slow path's.
func sameAsSlow(v any, n *yaml.Node) error {
	slow, err := toRNodeSlow(v)
	if err != nil {
		return fmt.Errorf("internal error: %T: the slow path fails (%v), the typed one does not", v, err)
	}
	if !sameNode(n, slow.YNode()) {
		return fmt.Errorf("internal error: %T: typedNode differs from its JSON encoding", v)
	}
	return nil
}

// sameNode: the same tree, as the emitter sees it.
func sameNode(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Style != b.Style || len(a.Content) != len(b.Content) ||
		a.HeadComment != b.HeadComment || a.LineComment != b.LineComment || a.FootComment != b.FootComment || a.Anchor != b.Anchor {
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// toRNodeSlow is toRNode by the JSON encoding.
func toRNodeSlow(v any) (*yaml.RNode, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", v, err)
	}
	// Many workloads get the very same container or object: reuse the
	// nodes of an identical encoding (copied, the tree is mutable).
	if n, ok := nodeCache.Load(string(b)); ok {
		return yaml.NewRNode(yaml.CopyYNode(n.(*yaml.Node))), nil
	}
	n, rest, err := jsonNode(b)
	if err == nil && len(bytes.TrimSpace(rest)) > 0 {
		err = fmt.Errorf("unexpected %.20q after the value", rest)
	}
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

// jsonNode reads one JSON value (as json.Marshal writes it) from the front
// of b as a yaml node and returns what follows; null-valued object keys are
// dropped (a null list item is kept as null).
func jsonNode(b []byte) (*yaml.Node, []byte, error) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return nil, nil, errors.New("unexpected end of JSON")
	}
	switch c := b[0]; {
	case c == '{':
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
		b = b[1:]
		for {
			b = bytes.TrimLeft(b, " \t\r\n,")
			if len(b) > 0 && b[0] == '}' {
				return m, b[1:], nil
			}
			key, rest, err := jsonString(b)
			if err != nil {
				return nil, nil, err
			}
			rest = bytes.TrimLeft(rest, " \t\r\n")
			if len(rest) == 0 || rest[0] != ':' {
				return nil, nil, errors.New("expected ':' after an object key")
			}
			val, rest, err := jsonNode(rest[1:])
			if err != nil {
				return nil, nil, err
			}
			b = rest
			if val != nil {
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: key}, val)
			}
		}
	case c == '[':
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq}
		b = b[1:]
		for {
			b = bytes.TrimLeft(b, " \t\r\n,")
			if len(b) > 0 && b[0] == ']' {
				return seq, b[1:], nil
			}
			val, rest, err := jsonNode(b)
			if err != nil {
				return nil, nil, err
			}
			if val == nil {
				val = &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagNull, Value: "null"}
			}
			seq.Content = append(seq.Content, val)
			b = rest
		}
	case c == '"':
		v, rest, err := jsonString(b)
		if err != nil {
			return nil, nil, err
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: v}, rest, nil
	case bytes.HasPrefix(b, []byte("true")):
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: "true"}, b[4:], nil
	case bytes.HasPrefix(b, []byte("false")):
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: "false"}, b[5:], nil
	case bytes.HasPrefix(b, []byte("null")):
		return nil, b[4:], nil
	case c == '-' || c >= '0' && c <= '9':
		i := 1
		for i < len(b) && strings.IndexByte("0123456789+-.eE", b[i]) >= 0 {
			i++
		}
		num := string(b[:i])
		if !json.Valid(b[:i]) {
			return nil, nil, fmt.Errorf("malformed number %q", num)
		}
		tag := yaml.NodeTagInt
		if strings.ContainsAny(num, ".eE") {
			tag = yaml.NodeTagFloat
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: num}, b[i:], nil
	}
	return nil, nil, fmt.Errorf("unexpected %.20q", b)
}

// jsonString reads a JSON string at the front of b. Escapes are decoded
// here (json.Marshal writes \n, \" and \u003c for every line, quote and
// "<" of a dashboard); a surrogate pair is left to encoding/json.
func jsonString(b []byte) (string, []byte, error) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, fmt.Errorf("expected a string at %.20q", b)
	}
	var buf []byte
	from := 1
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			if buf == nil {
				return string(b[1:i]), b[i+1:], nil
			}
			return string(append(buf, b[from:i]...)), b[i+1:], nil
		case '\\':
			if i+1 >= len(b) {
				return "", nil, errors.New("unterminated string")
			}
			buf = append(buf, b[from:i]...)
			r, n := rune(-1), 2
			switch c := b[i+1]; c {
			case '"', '\\', '/':
				r = rune(c)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				if i+6 <= len(b) {
					if v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16); err == nil && !utf16.IsSurrogate(rune(v)) {
						r, n = rune(v), 6
					}
				}
			}
			if r < 0 {
				return jsonStringSlow(b)
			}
			buf = utf8.AppendRune(buf, r)
			i += n - 1
			from = i + 1
		}
	}
	return "", nil, errors.New("unterminated string")
}

// jsonStringSlow decodes a string jsonString does not: with encoding/json.
func jsonStringSlow(b []byte) (string, []byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v string
	if err := dec.Decode(&v); err != nil {
		return "", nil, err
	}
	return v, b[dec.InputOffset():], nil
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
