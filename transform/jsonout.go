package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// jsonStyle is how a JSON document is laid out, read from its bytes so that
// a changed document (and the generated objects after it) is written the
// same way: its keys in their order, its indentation unit ("" for one
// line), the spacing after ':' and ',', and how its strings escape: <, >
// and & as \u003c, \u003e and \u0026 (encoding/json's default: kubectl
// get -o json), and every character past ASCII as \u.... (Python's
// json.dumps). A document written in one such layout (compact, kubectl's
// four spaces, two spaces, Python's) comes back from uninject byte for
// byte.
type jsonStyle struct {
	indent, colon, comma string
	escapeHTML, ascii    bool
}

// readJSONStyle reads the layout of a JSON document: indented when it
// spans lines (by its first entry's indentation), else on one line.
func readJSONStyle(raw []byte) jsonStyle {
	t := bytes.TrimSpace(raw)
	st := jsonStyle{indent: "  ", colon: ": ", comma: ","}
	st.escapeHTML, st.ascii = readJSONEscapes(t)
	if c, ok := afterToken(t, ':'); ok && c != ' ' {
		st.colon = ":"
	}
	if bytes.IndexByte(t, '\n') < 0 {
		st.indent = ""
		if c, ok := afterToken(t, ','); ok && c == ' ' || !ok && st.colon == ": " {
			st.comma = ", "
		}
		return st
	}
	second, _, _ := bytes.Cut(t[bytes.IndexByte(t, '\n')+1:], []byte("\n"))
	if ind := second[:len(second)-len(bytes.TrimLeft(second, " \t"))]; len(ind) > 0 {
		st.indent = string(ind)
	}
	return st
}

// readJSONEscapes reads how a JSON document's strings escape: HTML
// characters escaped (one of them escaped), and only ASCII written (no byte
// past ASCII, and a character past ASCII escaped).
func readJSONEscapes(t []byte) (escapeHTML, ascii bool) {
	raw := false
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] >= utf8.RuneSelf:
			raw = true
		case t[i] == '\\' && i+1 < len(t):
			i++
			if t[i] != 'u' || i+4 >= len(t) {
				continue
			}
			r, err := strconv.ParseUint(string(t[i+1:i+5]), 16, 16)
			if err != nil {
				continue
			}
			i += 4
			switch {
			case r == '<' || r == '>' || r == '&':
				escapeHTML = true
			case r >= utf8.RuneSelf:
				ascii = true
			}
		}
	}
	return escapeHTML, ascii && !raw
}

// afterToken is the byte after the first c outside strings, and whether
// there is one (0 at the end).
func afterToken(t []byte, c byte) (byte, bool) {
	in := false
	for i := 0; i < len(t); i++ {
		switch {
		case in && t[i] == '\\':
			i++
		case t[i] == '"':
			in = !in
		case !in && t[i] == c:
			if i+1 < len(t) {
				return t[i+1], true
			}
			return 0, true
		}
	}
	return 0, false
}

// encodeJSON writes n as JSON in the layout st, keys in the tree's order,
// with a final newline. A value JSON has no plain form for (an alias, a
// YAML-only number) sends the whole object through encoding/json instead.
func encodeJSON(n *yaml.RNode, st jsonStyle) ([]byte, error) {
	var buf bytes.Buffer
	if !writeJSON(&buf, n.YNode(), st, 0) {
		return encodeJSONSorted(n, st)
	}
	if verify { // verify.go: the same object as encoding/json's
		slow, err := encodeJSONSorted(n, st)
		if err != nil {
			return nil, err
		}
		var a, b any
		if json.Unmarshal(buf.Bytes(), &a) != nil || json.Unmarshal(slow, &b) != nil || !reflect.DeepEqual(a, b) {
			return nil, fmt.Errorf("internal error: %s %s: the JSON writer differs from encoding/json:\n%s\n%s", n.GetKind(), n.GetName(), buf.Bytes(), slow)
		}
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// encodeJSONSorted is encoding/json's JSON of n (keys sorted), indented as
// st says.
func encodeJSONSorted(n *yaml.RNode, st jsonStyle) ([]byte, error) {
	b, err := n.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if st.indent == "" {
		err = json.Compact(&out, b)
	} else {
		err = json.Indent(&out, b, "", st.indent)
	}
	if err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// writeJSON appends n as JSON; false for a node it has no JSON form for.
func writeJSON(b *bytes.Buffer, n *yaml.Node, st jsonStyle, level int) bool {
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		open, close, step := byte('{'), byte('}'), 2
		if n.Kind == yaml.SequenceNode {
			open, close, step = '[', ']', 1
		}
		if len(n.Content)%step != 0 {
			return false
		}
		b.WriteByte(open)
		for i := 0; i < len(n.Content); i += step {
			if i > 0 {
				b.WriteString(st.comma)
			}
			newline(b, st, level+1)
			if step == 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode || k.ShortTag() != yaml.NodeTagString {
					return false
				}
				writeJSONString(b, k.Value, st)
				b.WriteString(st.colon)
			}
			if !writeJSON(b, n.Content[i+step-1], st, level+1) {
				return false
			}
		}
		if len(n.Content) > 0 {
			newline(b, st, level)
		}
		b.WriteByte(close)
		return true
	case yaml.ScalarNode:
		return writeJSONScalar(b, n, st)
	}
	return false
}

func newline(b *bytes.Buffer, st jsonStyle, level int) {
	if st.indent != "" {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(st.indent, level))
	}
}

// writeJSONScalar writes a string, a number written as JSON writes it, a
// boolean or null.
func writeJSONScalar(b *bytes.Buffer, n *yaml.Node, st jsonStyle) bool {
	switch n.ShortTag() {
	case yaml.NodeTagString:
		writeJSONString(b, n.Value, st)
		return true
	case yaml.NodeTagInt, yaml.NodeTagFloat:
		v := n.Value
		if v == "" || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') || !json.Valid([]byte(v)) {
			return false
		}
		b.WriteString(v)
		return true
	case yaml.NodeTagBool:
		if n.Value != "true" && n.Value != "false" {
			return false
		}
		b.WriteString(n.Value)
		return true
	case yaml.NodeTagNull:
		b.WriteString("null")
		return true
	}
	return false
}

// writeJSONString writes s as a JSON string escaped as st says. Characters
// past U+FFFF stay as they are in an ASCII document: their escape is a
// surrogate pair, which the YAML parser does not read.
func writeJSONString(b *bytes.Buffer, s string, st jsonStyle) {
	start := b.Len()
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(st.escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
	if !st.ascii || !hasNonASCII(b.Bytes()[start:]) {
		return
	}
	enc2 := string(b.Bytes()[start:])
	b.Truncate(start)
	for _, r := range enc2 {
		switch {
		case r < utf8.RuneSelf || r > 0xFFFF:
			b.WriteRune(r)
		default:
			fmt.Fprintf(b, "\\u%04x", r)
		}
	}
}

func hasNonASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
