package transform

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Long block scalars are written without the emitter. The YAML emitter
// analyses and writes a scalar a byte at a time; generated objects carry
// large ones (an haproxy.cfg, a Grafana dashboard of 10 KB), which made
// writing them a tenth of a run. Encode hands the emitter a placeholder in
// their place and writes each "|" block where the placeholder landed. Only
// values the emitter itself writes as a plain "|" block are taken (printable
// ASCII, no space before a line break or at the end, no leading space or
// break, exactly one final newline; no comment, style "" or literal) and
// only after a simple key: anything else is left to the emitter.
// TestLiteralBlocks compares the result with the emitter's.

const literalMin = 256 // bytes: shorter values cost the emitter little

// literalToken marks a placeholder; a value holding it is not taken.
const literalToken = "sidecarize-literal-block-"

type literalSub struct {
	node  *yaml.Node
	value string
	style yaml.Style
	token string
}

// restore puts the values back.
func restore(subs []literalSub) {
	for _, s := range subs {
		s.node.Value, s.node.Style = s.value, s.style
	}
}

// takeLiterals puts placeholders in the tree for the values it writes.
func takeLiterals(n *yaml.Node, subs *[]literalSub) {
	if n.Kind == yaml.ScalarNode {
		if literalBlock(n) {
			tok := fmt.Sprintf("%s%d", literalToken, len(*subs))
			*subs = append(*subs, literalSub{n, n.Value, n.Style, tok})
			n.Value, n.Style = tok, 0
		}
		return
	}
	for _, c := range n.Content {
		takeLiterals(c, subs)
	}
}

func literalBlock(n *yaml.Node) bool {
	v := n.Value
	return len(v) >= literalMin && n.Style&^yaml.LiteralStyle == 0 && n.ShortTag() == "!!str" &&
		n.Anchor == "" && n.HeadComment == "" && n.LineComment == "" && n.FootComment == "" &&
		!strings.Contains(v, literalToken) && literalValue(v)
}

// literalValue reports a string the emitter writes as a plain "|" block:
// printable ASCII lines, no space before a line break, no leading space or
// break, exactly one final newline.
func literalValue(v string) bool {
	if len(v) < 2 || v[0] == ' ' || v[0] == '\n' || v[len(v)-1] != '\n' || v[len(v)-2] == '\n' ||
		strings.Contains(v, " \n") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '\n' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return true
}

// putLiterals writes the blocks in place of their placeholders; false if a
// placeholder is not where a block can go (the caller encodes again with
// the values restored).
func putLiterals(out []byte, subs []literalSub) ([]byte, bool) {
	for _, s := range subs {
		tok := []byte(s.token + "\n")
		at := bytes.Index(out, tok)
		if at < 0 || bytes.Count(out, []byte(s.token)) != 1 {
			return nil, false
		}
		line := out[bytes.LastIndexByte(out[:at], '\n')+1 : at]
		key := bytes.TrimLeft(line, " ")
		col := len(line) - len(key)
		if bytes.HasPrefix(key, []byte("- ")) {
			key, col = key[2:], col+2
		}
		k, ok := bytes.CutSuffix(key, []byte(": "))
		if !ok || len(k) == 0 || bytes.ContainsAny(k, " :#'\"{}[],&*!|>%@`") {
			return nil, false
		}
		var b bytes.Buffer
		b.Grow(len(s.value) + len(s.value)/8)
		b.WriteString("|\n")
		ind := strings.Repeat(" ", col+2)
		for _, l := range strings.SplitAfter(s.value[:len(s.value)-1], "\n") {
			if l != "\n" {
				b.WriteString(ind)
			}
			b.WriteString(l)
		}
		b.WriteByte('\n')
		out = append(out[:at:at], append(b.Bytes(), out[at+len(tok):]...)...)
	}
	return out, true
}
