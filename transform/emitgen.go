package transform

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Generated objects (the ConfigMaps, ServiceMonitors and rules that follow
// a workload) are trees read from JSON: block mappings and sequences of
// plain scalars tagged !!str, !!int, !!float, !!bool or !!null, no
// comments, no anchors. writeTree writes such a tree without the YAML
// emitter, byte for byte as the emitter would (2-space indentation, the
// document's compact or wide sequences, long values as "|" blocks), into
// one buffer. It checks every node as it goes and gives up on the whole
// tree at the first one outside that shape (Encode then uses the
// emitter). A string is written plain only where the emitter certainly
// writes it plain (plainString); where unsure, the emitter renders that one
// scalar (emitterScalar). Every golden case runs both ways and compares
// the bytes (internal/golden); TestWriteTreeProperty and FuzzWriteTree
// compare random trees of hostile strings with the emitter's output.

// emitterOnly turns writeTree off; treesDirect and treesEmitter count the
// trees written each way (DirectWrite, TreeWrites: the golden suite
// compares the two ways on every case).
var (
	emitterOnly               atomic.Bool
	treesDirect, treesEmitter atomic.Int64
)

// DirectWrite turns the direct writing of generated objects on (the
// default) or off, leaving them to the YAML emitter, and returns the
// previous setting. For tests, which compare the two outputs.
func DirectWrite(on bool) bool { return !emitterOnly.Swap(!on) }

// TreeWrites counts the YAML trees written so far: directly, and by the
// emitter (documents and generated objects writeTree could not write, or
// all of them when DirectWrite is off). JSON documents are not counted.
func TreeWrites() (direct, emitter int64) { return treesDirect.Load(), treesEmitter.Load() }

type treeWriter struct {
	buf     *bytes.Buffer
	compact bool // "- " under the key (compact) or indented by two (wide)
}

// writeTree appends the document holding the mapping n to buf and reports
// whether it could; when not, buf is as it was.
func writeTree(buf *bytes.Buffer, n *yaml.Node, style yaml.SequenceIndentStyle) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	mark := buf.Len()
	w := treeWriter{buf: buf, compact: style != yaml.WideSequenceStyle}
	ok := false
	if w.collection(n) {
		if len(n.Content) == 0 {
			buf.WriteString("{}\n")
			ok = true
		} else {
			ok = w.mapping(n, 0, false)
		}
	}
	if !ok {
		buf.Truncate(mark)
	}
	return ok
}

// collection checks a mapping or sequence node's own attributes: no tag
// but its own, no anchor or comment, block style (or flow when empty: the
// emitter writes an empty one as {} or [] either way).
func (w *treeWriter) collection(n *yaml.Node) bool {
	tag := yaml.NodeTagMap
	if n.Kind == yaml.SequenceNode {
		tag = yaml.NodeTagSeq
	}
	return (n.Tag == tag || n.Tag == "") && n.Anchor == "" && noComments(n) &&
		(n.Style == 0 || n.Style == yaml.FlowStyle && len(n.Content) == 0)
}

func noComments(n *yaml.Node) bool {
	return n.HeadComment == "" && n.LineComment == "" && n.FootComment == ""
}

func (w *treeWriter) indent(col int) { writeSpaces(w.buf, col) }

// mapping writes a non-empty mapping whose keys stand at column col; the
// first key goes on the current line when inline (after "- ").
func (w *treeWriter) mapping(n *yaml.Node, col int, inline bool) bool {
	if len(n.Content)%2 != 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if i > 0 || !inline {
			w.indent(col)
		}
		if !w.key(n.Content[i]) {
			return false
		}
		v := n.Content[i+1]
		switch v.Kind {
		case yaml.ScalarNode:
			if strings.IndexByte(v.Value, '\n') >= 0 {
				if !w.block(v, col+2) {
					return false
				}
				continue
			}
			w.buf.WriteByte(' ')
			if !w.scalar(v) {
				return false
			}
			w.buf.WriteByte('\n')
		case yaml.MappingNode, yaml.SequenceNode:
			if !w.child(v, col) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// child writes the mapping or sequence value of a key at column col.
func (w *treeWriter) child(v *yaml.Node, col int) bool {
	if !w.collection(v) {
		return false
	}
	switch {
	case len(v.Content) == 0 && v.Kind == yaml.MappingNode:
		w.buf.WriteString(" {}\n")
		return true
	case len(v.Content) == 0:
		w.buf.WriteString(" []\n")
		return true
	}
	w.buf.WriteByte('\n')
	if v.Kind == yaml.MappingNode {
		return w.mapping(v, col+2, false)
	}
	if w.compact {
		return w.sequence(v, col, false)
	}
	return w.sequence(v, col+2, false)
}

// sequence writes a non-empty sequence whose "- " stand at column col.
func (w *treeWriter) sequence(n *yaml.Node, col int, inline bool) bool {
	for i, v := range n.Content {
		if i > 0 || !inline {
			w.indent(col)
		}
		w.buf.WriteString("- ")
		switch v.Kind {
		case yaml.ScalarNode:
			if strings.IndexByte(v.Value, '\n') >= 0 || !w.scalar(v) {
				return false
			}
			w.buf.WriteByte('\n')
		case yaml.MappingNode, yaml.SequenceNode:
			if !w.collection(v) {
				return false
			}
			switch {
			case len(v.Content) == 0 && v.Kind == yaml.MappingNode:
				w.buf.WriteString("{}\n")
			case len(v.Content) == 0:
				w.buf.WriteString("[]\n")
			case v.Kind == yaml.MappingNode:
				if !w.mapping(v, col+2, true) {
					return false
				}
			default:
				if !w.sequence(v, col+2, true) {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// key writes a mapping key and its ":".
func (w *treeWriter) key(k *yaml.Node) bool {
	if k.Kind != yaml.ScalarNode || k.Tag != yaml.NodeTagString && k.Tag != "" || k.Style&^yaml.DoubleQuotedStyle != 0 ||
		k.Anchor != "" || !noComments(k) {
		return false
	}
	// The emitter writes a key longer than 128 bytes as "? key". A
	// double-quoted key (quoteYAML11: a label "on") is the emitter's.
	switch v := k.Value; {
	case len(v) > 128:
		return false
	case k.Style == 0 && plainString(v):
		w.buf.WriteString(v)
	case k.Style == 0 && k.Tag != "" && quotedString(v):
		w.buf.WriteByte('"')
		w.buf.WriteString(v)
		w.buf.WriteByte('"')
	default:
		r, ok := emitterScalar(k, true)
		if !ok {
			return false
		}
		w.buf.WriteString(r)
	}
	w.buf.WriteByte(':')
	return true
}

// scalar writes a one-line scalar value.
func (w *treeWriter) scalar(n *yaml.Node) bool {
	if n.Anchor != "" || !noComments(n) {
		return false
	}
	v := n.Value
	switch {
	case n.Style == yaml.SingleQuotedStyle && n.Tag == yaml.NodeTagString && singleQuotable(v):
		w.buf.WriteByte('\'')
		for i := 0; i < len(v); i++ {
			if v[i] == '\'' {
				w.buf.WriteByte('\'')
			}
			w.buf.WriteByte(v[i])
		}
		w.buf.WriteByte('\'')
		return true
	case n.Style == yaml.DoubleQuotedStyle && n.Tag == yaml.NodeTagString && singleQuotable(v) && !strings.ContainsAny(v, `"\\`):
		// Printable ASCII without a quote or a backslash: nothing to escape
		// (and the emitter never folds a line).
		w.buf.WriteByte('"')
		w.buf.WriteString(v)
		w.buf.WriteByte('"')
		return true
	case n.Style != 0:
	case (n.Tag == yaml.NodeTagString || n.Tag == "") && plainString(v):
		w.buf.WriteString(v)
		return true
	case n.Tag == yaml.NodeTagString && quotedString(v):
		w.buf.WriteByte('"')
		w.buf.WriteString(v)
		w.buf.WriteByte('"')
		return true
	case n.Tag == yaml.NodeTagInt && plainInt(v),
		n.Tag == yaml.NodeTagFloat && plainFloat(v),
		n.Tag == yaml.NodeTagBool && (v == "true" || v == "false"),
		n.Tag == yaml.NodeTagNull && v == "null":
		w.buf.WriteString(v)
		return true
	}
	r, ok := emitterScalar(n, false)
	if ok {
		w.buf.WriteString(r)
	}
	return ok
}

// block writes a multi-line string value as a "|" block whose lines stand
// at column col, where the emitter writes it so (literalValue).
//
// literalValue's test is made on the way: its line by line " \n" scan is
// the writing's (a dashboard is kilobytes of lines).
func (w *treeWriter) block(n *yaml.Node, col int) bool {
	v := n.Value
	if n.Tag != yaml.NodeTagString && n.Tag != "" || n.Style&^yaml.LiteralStyle != 0 || n.Anchor != "" || !noComments(n) ||
		!literalEnds(v) || !printableLines(v) {
		return false
	}
	mark := w.buf.Len()
	w.buf.WriteString(" |\n")
	for len(v) > 0 {
		i := strings.IndexByte(v, '\n')
		if i > 0 {
			if v[i-1] == ' ' { // " \n": the emitter quotes the value
				w.buf.Truncate(mark)
				return false
			}
			w.indent(col)
			w.buf.WriteString(v[:i])
		}
		w.buf.WriteByte('\n')
		v = v[i+1:]
	}
	return true
}

// plainString reports a string the emitter certainly writes plain (and
// that the YAML resolver reads back as a string, else the emitter quotes
// it): printable ASCII that opens with a letter, "/", "_", "$" or "(" (or
// a digit with a letter no number has), holds no ": ", " #", tab or line
// break, does not end in ":" or a space, and is not true/false/null.
func plainString(v string) bool {
	if v == "" {
		return false
	}
	c := v[0]
	switch {
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		if _, ok := resolvedWords[v]; ok {
			return false
		}
	case c >= '0' && c <= '9':
		if !digitString(v) {
			return false
		}
	case c == '/' || c == '_' || c == '$' || c == '(':
	default:
		return false
	}
	if v[len(v)-1] == ' ' || v[len(v)-1] == ':' {
		return false
	}
	// (A ':' or ' ' is not last: v[i+1] exists.)
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c < ' ' || c > '~':
			return false
		case c == ':' && v[i+1] == ' ', c == ' ' && v[i+1] == '#':
			return false
		}
	}
	return true
}

// resolvedWords are the strings opening with a letter that the resolver
// reads as something else than a string.
var resolvedWords = map[string]struct{}{
	"true": {}, "True": {}, "TRUE": {}, "false": {}, "False": {}, "FALSE": {},
	"null": {}, "Null": {}, "NULL": {},
}

// digitString reports a string opening with a digit that is no number,
// date or time to the resolver: it holds a letter that no number syntax
// has (not a-f, o, x, e) and does not open like a date (YYYY-).
func digitString(v string) bool {
	if len(v) >= 5 && v[4] == '-' && allDigits(v[:4]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i] | 0x20 // lower case, for letters
		if c >= 'g' && c <= 'z' && c != 'o' && c != 'x' {
			return true
		}
	}
	return false
}

func allDigits(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return v != ""
}

// quotedString reports a string the emitter writes as "v": one the
// resolver reads as a number or true/false/null (digits only, or one of
// resolvedWords), or the empty string.
func quotedString(v string) bool {
	if _, ok := resolvedWords[v]; ok || v == "" {
		return true
	}
	return allDigits(v)
}

// singleQuotable reports a string the emitter writes in single quotes,
// only doubling the quotes, when its style asks for them: printable ASCII
// (spaces included, anywhere).
func singleQuotable(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			return false
		}
	}
	return true
}

// plainInt reports a decimal integer the resolver reads as one.
func plainInt(v string) bool {
	s := strings.TrimPrefix(v, "-")
	if !allDigits(s) || len(s) > 1 && s[0] == '0' || len(s) > 18 {
		return false
	}
	return true
}

// plainFloat reports a JSON number with a fraction or an exponent that
// the resolver reads as a float.
func plainFloat(v string) bool {
	s := strings.TrimPrefix(v, "-")
	if s == "" || s[0] < '0' || s[0] > '9' || len(s) > 1 && s[0] == '0' && s[1] != '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			return false
		}
	}
	if !yamlFloat(s) {
		return false
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

// yamlFloat: digits, an optional fraction with digits, an optional
// exponent with digits; a "." or an exponent present.
func yamlFloat(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return false
	}
	frac := false
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return false
		}
		i, frac = j, true
	}
	if i == len(s) {
		return frac
	}
	if s[i] != 'e' && s[i] != 'E' {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	return allDigits(s[i:])
}

// emitterScalar renders one scalar, as a mapping key or a value, with the
// emitter; false when the rendering is not one line (a line break in the
// value, or a key the emitter writes as "? key"). On one line the
// emitter's rendering does not depend on where the scalar stands.
func emitterScalar(n *yaml.Node, key bool) (string, bool) {
	if strings.ContainsAny(n.Value, "\r\n\u0085\u2028\u2029") {
		return "", false
	}
	other := &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: "k"}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: []*yaml.Node{other, n}}
	if key {
		m.Content[0], m.Content[1] = n, other
	}
	out, err := (&Doc{seqStyle: yaml.CompactSequenceStyle}).emit(yaml.NewRNode(m))
	if err != nil || bytes.Count(out, []byte("\n")) != 1 || bytes.IndexByte(out, '\r') >= 0 {
		return "", false
	}
	s := string(out[:len(out)-1])
	if key {
		r, ok := strings.CutSuffix(s, ": k")
		return r, ok && !strings.HasPrefix(r, "? ") && r != "?"
	}
	return strings.CutPrefix(s, "k: ")
}

// treeSize is about the size of n written by writeTree with its content
// (a block's lines, a mapping's keys, a sequence's items) at column col.
func treeSize(n *yaml.Node, col int) int {
	size := len(n.Value) + 3 // a quoted scalar and its line break
	if n.Kind == yaml.ScalarNode && len(n.Value) > 80 {
		size += col * strings.Count(n.Value, "\n") // a block
	}
	for i, c := range n.Content {
		switch {
		case n.Kind == yaml.SequenceNode:
			size += col + 4 + treeSize(c, col+2)
		case i%2 == 0:
			size += col + 2 + treeSize(c, col)
		default:
			size += treeSize(c, col+2)
		}
	}
	return size
}

// wideSequences is kyaml's DeriveSeqIndentStyle(string(raw)) == "wide"
// (a document's generated objects are written in its list style) without
// copying the document and splitting it into lines: the first "- " line
// whose key line (the line above, past comment lines, without its own
// comment) is "key:" decides — compact at the key's column, wide two
// columns in; none, compact. Under verify (verify.go) compared with
// kyaml's.
func wideSequences(raw []byte) bool {
	wide := wideSequencesFast(raw)
	if verify {
		checkWideSequences(raw, wide)
	}
	return wide
}

// checkWideSequences panics (an internal error, reported as such by Run)
// when wide is not kyaml's answer.
func checkWideSequences(raw []byte, wide bool) {
	if slow := yaml.DeriveSeqIndentStyle(string(raw)) == string(yaml.WideSequenceStyle); slow != wide {
		panic(fmt.Sprintf("internal error: wideSequences is %v, kyaml's DeriveSeqIndentStyle says %v", wide, slow))
	}
}

func wideSequencesFast(raw []byte) bool {
	for start := 0; ; {
		end := bytes.IndexByte(raw[start:], '\n')
		if end < 0 {
			end = len(raw)
		} else {
			end += start
		}
		line := raw[start:end]
		if dash := bytes.Index(line, []byte("- ")); dash >= 0 && len(bytes.Trim(line[:dash], " ")) == 0 {
			if key := keyLineAbove(raw, start); len(key) > 0 {
				indent := len(key) - len(bytes.TrimLeft(key, " "))
				if k := bytes.Trim(key, " "); bytes.Count(k, []byte(":")) == 1 && bytes.HasSuffix(k, []byte(":")) {
					switch dash - indent {
					case 0:
						return false
					case 2:
						return true
					}
				}
			}
		}
		if end == len(raw) {
			return false
		}
		start = end + 1
	}
}

// keyLineAbove is the first line above the one at start that is not a
// comment, up to its own comment ("" at the top).
func keyLineAbove(raw []byte, start int) []byte {
	for end := start - 1; end >= 0; {
		begin := bytes.LastIndexByte(raw[:end], '\n') + 1
		line := raw[begin:end]
		if !bytes.HasPrefix(bytes.Trim(line, " "), []byte("#")) {
			if i := bytes.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			return line
		}
		end = begin - 1
	}
	return nil
}
