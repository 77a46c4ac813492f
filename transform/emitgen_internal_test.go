package transform

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// hostile are the pieces strings are made of: what the YAML resolver reads
// as something else than a string, indicators, quotes, spaces and breaks
// in every place, unicode, control characters and invalid UTF-8.
var hostile = []string{
	"a", "Z", "x", "name", "0", "9", "42", "007", "1e3", "1E3", "0x1F", "0o17", "0b101", "1_000", "-1", "+1", "1.5", ".5", "5.",
	".inf", "-.Inf", ".nan", "~", "yes", "no", "on", "off", "y", "n", "Y", "N", "true", "True", "FALSE", "null", "Null", "<<",
	" ", "  ", "\t", "\r", "\n", "\r\n", "\n\n", " \n", ":", ": ", " :", " #", "#", "-", "- ", "--- ", "---", "...", "?", "? ",
	"*", "&", "!", "!!str", "%", "@", "`", "'", "''", "\"", "\\", "|", ">", "{", "}", "[", "]", ",", "=", "/", "_", "$", "(", ")",
	"é", "日本", "\u00a0", "\u0085", "\u2028", "\u2029", "\ufeff", "\U0001F600", "\x00", "\x07", "\x1b", "\x7f", "\xff",
	"2024-01-02", "2024-01-02T03:04:05Z", "2024-1-2 3:4:5", "1234-", "5m", "30s", "1Gi", "100Mi", "8080", "12345678901234567890",
	"inf", "nan", "Infinity", "0.0.0.0", "http://a.b/c?d=e#f", "a: b", "a #b", "a#b", "key:value", `{"a": 1}`, "${x}", "1:2",
}

// genTree builds a JSON-like tree from the source: mostly what writeTree
// handles (plain !!str/!!int/!!float/!!bool/!!null scalars, block
// collections, single-quoted strings), now and then what it must leave to
// the emitter (other styles and tags, anchors, comments).
type treeGen struct {
	next func(n int) int // a number in [0, n)
}

func (g *treeGen) str() string {
	var b strings.Builder
	switch g.next(12) {
	case 0:
		return ""
	case 1: // long, one line or a block
		line := strings.Repeat("abc def ", 1+g.next(40))
		if g.next(2) == 0 {
			return line
		}
		for i := g.next(40); i >= 0; i-- {
			b.WriteString(line[:g.next(len(line))])
			if g.next(6) == 0 {
				b.WriteString(hostile[g.next(len(hostile))])
			}
			b.WriteByte('\n')
		}
		return b.String()
	case 2: // lines
		for i := g.next(5); i >= 0; i-- {
			b.WriteString(hostile[g.next(len(hostile))])
			b.WriteString(hostile[g.next(4)])
			b.WriteByte('\n')
		}
		if g.next(3) == 0 {
			b.WriteString(hostile[g.next(len(hostile))])
		}
		return b.String()
	}
	for i := g.next(4); i >= 0; i-- {
		b.WriteString(hostile[g.next(len(hostile))])
	}
	return b.String()
}

func (g *treeGen) scalar(key bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: g.str()}
	if key {
		if g.next(5) == 0 {
			n.Tag = ""
		}
		if g.next(60) == 0 {
			n.Style = yaml.DoubleQuotedStyle
		}
		return n
	}
	switch g.next(14) {
	case 0:
		n.Tag, n.Value = yaml.NodeTagInt, []string{"0", "-0", "7", "-42", "123456789012345678", "12345678901234567890", "007", "1e3", "x"}[g.next(9)]
	case 1:
		n.Tag, n.Value = yaml.NodeTagFloat, []string{"1.5", "-0.25", "1e3", "1E-7", "1e+21", "1e400", "0.1", "15", ".5", "NaN"}[g.next(10)]
	case 2:
		n.Tag, n.Value = yaml.NodeTagBool, []string{"true", "false", "True", "yes"}[g.next(4)]
	case 3:
		n.Tag, n.Value = yaml.NodeTagNull, []string{"null", "", "~"}[g.next(3)]
	case 4:
		n.Style = yaml.SingleQuotedStyle
	case 5:
		n.Tag = ""
	case 6: // now and then
		switch g.next(40) {
		case 0:
			n.Style = yaml.DoubleQuotedStyle
		case 1:
			n.Style = yaml.LiteralStyle
		case 2:
			n.Style = yaml.FoldedStyle
		case 3:
			n.Style = yaml.TaggedStyle
		case 4:
			n.LineComment = "# c"
		case 5:
			n.Anchor = "a"
		case 6:
			n.Tag = "!!timestamp"
		case 7:
			n.Style = yaml.FlowStyle
		}
	}
	return n
}

func (g *treeGen) node(depth int) *yaml.Node {
	k := g.next(10)
	if depth > 4 {
		k = 9
	}
	var n *yaml.Node
	switch {
	case k < 3:
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
		for i := g.next(5); i > 0; i-- {
			n.Content = append(n.Content, g.scalar(true), g.node(depth+1))
		}
	case k < 5:
		n = &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq}
		for i := g.next(4); i > 0; i-- {
			n.Content = append(n.Content, g.node(depth+1))
		}
	default:
		return g.scalar(false)
	}
	switch g.next(30) {
	case 0, 1, 2:
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
	case 3:
		n.Tag = ""
	case 4:
		n.Style = yaml.FlowStyle
	case 5:
		n.HeadComment = "# head"
	}
	return n
}

func (g *treeGen) root() *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
	for i := g.next(6); i >= 0; i-- {
		n.Content = append(n.Content, g.scalar(true), g.node(0))
	}
	if g.next(40) == 0 {
		n.Content = nil
	}
	return n
}

// checkTree compares writeTree with the emitter on n in both sequence
// styles; it reports whether writeTree wrote it.
func checkTree(t *testing.T, n *yaml.Node) bool {
	t.Helper()
	written := false
	for _, style := range []yaml.SequenceIndentStyle{yaml.CompactSequenceStyle, yaml.WideSequenceStyle} {
		want, err := (&Doc{seqStyle: style}).emit(yaml.NewRNode(n))
		var buf bytes.Buffer
		ok := writeTree(&buf, n, style)
		got := buf.Bytes()
		if !ok {
			if len(got) != 0 {
				t.Fatalf("writeTree gave up but wrote %q", got)
			}
			continue
		}
		written = true
		if err != nil {
			t.Fatalf("%s: writeTree wrote what the emitter fails on (%v):\n%s", style, err, got)
		}
		if string(got) != string(want) {
			t.Fatalf("%s: writeTree differs from the emitter\ngot:\n%s\nwant:\n%s\nquoted:\n%q\n%q", style, got, want, got, want)
		}
	}
	return written
}

// TestWriteTreeProperty: random trees of hostile strings come out of
// writeTree as out of the emitter, in compact and wide sequence style, or
// writeTree leaves them to it; most are written directly.
func TestWriteTreeProperty(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	g := &treeGen{next: r.Intn}
	written, trees := 0, 20000
	if testing.Short() {
		trees = 2000
	}
	for i := 0; i < trees; i++ {
		if checkTree(t, g.root()) {
			written++
		}
	}
	t.Logf("%d of %d trees written directly", written, trees)
	if written < trees/10 {
		t.Errorf("only %d of %d trees written directly: the property says little", written, trees)
	}
	// Scalars one by one: each hostile piece, and pairs of them, as a
	// key and as a value.
	for _, a := range hostile {
		for _, b := range append([]string{""}, hostile...) {
			v := a + b
			for _, tag := range []string{yaml.NodeTagString, ""} {
				checkTree(t, mapping("k", &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}))
				checkTree(t, mapping("k", &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v, Style: yaml.SingleQuotedStyle}))
				checkTree(t, mapping("k", &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v, Style: yaml.DoubleQuotedStyle}))
				checkTree(t, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: tag, Value: v}, scalar("x")}})
				checkTree(t, mapping("k", seq(&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v})))
			}
		}
	}
}

// FuzzWriteTree: trees built from the fuzzer's bytes (as the property
// test builds them from random numbers).
func FuzzWriteTree(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte("sidecarize"))
	f.Add([]byte{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7, 9, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		i := 0
		g := &treeGen{next: func(n int) int {
			if i >= len(data) {
				return 0
			}
			i++
			return int(data[i-1]) % n
		}}
		checkTree(t, g.root())
	})
}

// TestWideSequences: wideSequences answers as kyaml's
// DeriveSeqIndentStyle on random documents of lines that matter to it.
func TestWideSequences(t *testing.T) {
	lines := []string{"a:", "  b:", "    c:", "- x", "  - y", "    - z", "  - ", "# c", "  # c", "d: # c", "e: f", "a: b:", "", "  ", "x- y", "-", "  -  q", "k:\r", "  k: #- c", "\t- t"}
	r := rand.New(rand.NewSource(1))
	wide, compact := 0, 0
	for i := 0; i < 50000; i++ {
		var doc []string
		for j := r.Intn(8); j >= 0; j-- {
			doc = append(doc, lines[r.Intn(len(lines))])
		}
		raw := strings.Join(doc, "\n")
		if r.Intn(2) == 0 {
			raw += "\n"
		}
		got := wideSequencesFast([]byte(raw))
		want := yaml.DeriveSeqIndentStyle(raw) == string(yaml.WideSequenceStyle)
		if got != want {
			t.Fatalf("%q: %v, kyaml says %v", raw, got, want)
		}
		if got {
			wide++
		} else {
			compact++
		}
	}
	if wide < 1000 || compact < 1000 {
		t.Fatalf("%d wide, %d compact", wide, compact)
	}
}

// TestWideSequencesSabotaged: under verify a wrong answer is an internal
// error.
func TestWideSequencesSabotaged(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "internal error") {
			t.Fatalf("a wrong answer went unnoticed: %v", r)
		}
	}()
	checkWideSequences([]byte("a:\n  - b\n"), false)
}
