package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// decodeJSON is the JSON of a mapping's nodes for decoding into a typed
// value (a pod spec, a Service): nodeJSON's, or where it declines the slow
// path's (decode to generic values, json.Marshal), which also gives the
// errors. Test binaries take both and fail on a difference.
func decodeJSON(n *yaml.Node) ([]byte, error) {
	b, ok := nodeJSON(make([]byte, 0, 1024), n) // a pod spec's size
	ok = ok && n.Kind == yaml.MappingNode
	if ok && !verifyTyped {
		return b, nil
	}
	var generic map[string]any
	err := n.Decode(&generic)
	var slow []byte
	if err == nil {
		if slow, err = json.Marshal(generic); err != nil {
			err = unsupportedJSON(n, err)
		}
	}
	if ok && (err != nil || !bytes.Equal(b, slow)) {
		return nil, fmt.Errorf("internal error: nodeJSON gives %s, the decoder %s (%v)", b, slow, err)
	}
	return slow, err
}

// unsupportedJSON names the field json.Marshal refused: a YAML float that
// is infinite or not a number (.inf, -.Inf, .nan), which JSON cannot hold,
// so the API server never receives it either (kubectl fails the same way).
func unsupportedJSON(n *yaml.Node, err error) error {
	var walk func(n *yaml.Node, path string) (string, string)
	walk = func(n *yaml.Node, path string) (string, string) {
		switch n.Kind {
		case yaml.ScalarNode:
			var f float64
			if n.ShortTag() == yaml.NodeTagFloat && n.Decode(&f) == nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
				return path, n.Value
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				if at, v := walk(n.Content[i+1], p); at != "" {
					return at, v
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if at, v := walk(c, fmt.Sprintf("%s[%d]", path, i)); at != "" {
					return at, v
				}
			}
		}
		return "", ""
	}
	if at, v := walk(n, ""); at != "" {
		return fmt.Errorf("%s: %s is a YAML float that is infinite or not a number, which JSON cannot hold; quote it for a string", at, v)
	}
	return err
}

// sortKeys sorts the indices of a mapping's keys by key: in place for a
// few (no allocation), else by slices.SortFunc.
func sortKeys(content []*yaml.Node, idx []int) {
	if len(idx) > 16 {
		slices.SortFunc(idx, func(a, c int) int { return strings.Compare(content[a].Value, content[c].Value) })
		return
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && content[idx[j]].Value < content[idx[j-1]].Value; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

// nodeJSON writes the JSON that decoding n into generic values and
// json.Marshal would write (the slow path of pod()), without the generic
// values: keys sorted, strings escaped as encoding/json escapes them. It
// answers ok=false for anything outside the plain shapes — aliases, merge
// keys, duplicate keys, explicit or unusual tags, floats, numbers other than
// plain decimals, booleans other than true/false — and the caller decodes
// the slow way, which also reports the errors. Test binaries compare the two
// on every pod spec (verifyTyped).
func nodeJSON(b []byte, n *yaml.Node) ([]byte, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		if n.ShortTag() != yaml.NodeTagMap || len(n.Content)%2 != 0 {
			return nil, false
		}
		var small [16]int
		idx := small[:0]
		for i := 0; i < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != yaml.NodeTagString {
				return nil, false
			}
			idx = append(idx, i)
		}
		sortKeys(n.Content, idx)
		b = append(b, '{')
		for j, i := range idx {
			if j > 0 {
				if n.Content[idx[j-1]].Value == n.Content[i].Value {
					return nil, false // a duplicate key: the decoder's error
				}
				b = append(b, ',')
			}
			b = jsonQuote(b, n.Content[i].Value)
			b = append(b, ':')
			var ok bool
			if b, ok = nodeJSON(b, n.Content[i+1]); !ok {
				return nil, false
			}
		}
		return append(b, '}'), true
	case yaml.SequenceNode:
		if n.ShortTag() != yaml.NodeTagSeq {
			return nil, false
		}
		b = append(b, '[')
		for j, c := range n.Content {
			if j > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = nodeJSON(b, c); !ok {
				return nil, false
			}
		}
		return append(b, ']'), true
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case yaml.NodeTagString:
			return jsonQuote(b, n.Value), true
		case yaml.NodeTagBool:
			if n.Value == "true" || n.Value == "false" {
				return append(b, n.Value...), true
			}
		case yaml.NodeTagNull:
			switch n.Value {
			case "", "~", "null", "Null", "NULL":
				return append(b, "null"...), true
			}
		case yaml.NodeTagInt:
			if plainDecimal(n.Value) {
				return append(b, n.Value...), true
			}
		}
	}
	return nil, false
}

// plainDecimal: an integer written as encoding/json writes it (no sign but
// minus, no leading zero, no -0) that fits an int64.
func plainDecimal(s string) bool {
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		return false
	}
	d := strings.TrimPrefix(s, "-")
	return d[0] >= '1' && d[0] <= '9' || s == "0"
}

// jsonQuote appends s as encoding/json writes a string.
func jsonQuote(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // escapes, invalid UTF-8 replaced
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
