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
	if !literalEnds(v) {
		return false
	}
	// No " \n": line by line (faster than strings.Contains over the
	// spaces of indented JSON).
	for r := v; ; {
		i := strings.IndexByte(r, '\n')
		if i < 0 {
			break
		}
		if i > 0 && r[i-1] == ' ' {
			return false
		}
		r = r[i+1:]
	}
	return printableLines(v)
}

// literalEnds: literalValue's test of a value's first and last bytes (no
// leading space or break, exactly one final newline).
func literalEnds(v string) bool {
	return len(v) >= 2 && v[0] != ' ' && v[0] != '\n' && v[len(v)-1] == '\n' && v[len(v)-2] != '\n'
}

// printableLines: every byte of v is printable ASCII (0x20 to 0x7e) or a
// line feed. Eight bytes at a time (a dashboard is kilobytes of them):
// no byte of a word has its high bit set, and with its line feeds made
// printable (0x0a | 0x20) none is below 0x20 or is 0x7f. Each test looks
// at one byte at a time (no carry crosses into the next byte), so the
// word's answer is its bytes' (TestPrintableLines tries every byte value
// in every lane).
func printableLines(v string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// zeros has the high bit of each zero byte of x set (x without high bits).
	zeros := func(x uint64) uint64 { return ^((x&^highs + ^uint64(highs)) | x) & highs }
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := v[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if x&highs != 0 {
			return false
		}
		x |= zeros(x^ones*'\n') >> 2
		if ^(x+ones*0x60)&highs != 0 || zeros(x^ones*0x7f) != 0 {
			return false
		}
	}
	for ; i < len(v); i++ {
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
