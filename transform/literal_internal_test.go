package transform

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestLiteralBlocks: Encode writes long block scalars as the emitter does,
// in every place one can stand, and leaves what it does not take to the
// emitter.
func TestLiteralBlocks(t *testing.T) {
	long := func(lines ...string) string {
		var b strings.Builder
		for b.Len() < literalMin {
			for _, l := range lines {
				b.WriteString(l + "\n")
			}
		}
		return b.String()
	}
	block := long("global", "  daemon # a comment", "", "frontend app", "    bind :9080")
	for _, c := range []struct {
		name  string
		tree  func(v string) *yaml.Node
		value string
		taken bool // by takeLiterals
	}{
		{"top-level key", func(v string) *yaml.Node { return mapping("a", scalar(v), "b", scalar("x")) }, block, true},
		{"nested, last key", func(v string) *yaml.Node { return mapping("data", mapping("haproxy.cfg", scalar(v))) }, block, true},
		{"first key of a list item", func(v string) *yaml.Node {
			return mapping("items", seq(mapping("cfg", scalar(v), "name", scalar("n"))))
		}, block, true},
		{"second key of a list item", func(v string) *yaml.Node {
			return mapping("items", seq(mapping("name", scalar("n"), "cfg", scalar(v))))
		}, block, true},
		// Taken, then left to the emitter: not after a simple key.
		{"a list item itself", func(v string) *yaml.Node { return mapping("items", seq(scalar(v))) }, block, true},
		{"a key that is quoted", func(v string) *yaml.Node { return mapping("a: b", scalar(v)) }, block, true},
		{"no final newline", func(v string) *yaml.Node { return mapping("a", scalar(v)) }, strings.TrimSuffix(block, "\n"), false},
		{"two final newlines", func(v string) *yaml.Node { return mapping("a", scalar(v)) }, block + "\n", false},
		{"a trailing space on a line", func(v string) *yaml.Node { return mapping("a", scalar(v)) }, "x \n" + block, false},
		{"a tab", func(v string) *yaml.Node { return mapping("a", scalar(v)) }, "x\ty\n" + block, false},
		{"leading spaces", func(v string) *yaml.Node { return mapping("a", scalar(v)) }, "  " + block, false},
		{"short", func(v string) *yaml.Node { return mapping("a", scalar(v)) }, "a\nb\n", false},
	} {
		for _, style := range []yaml.SequenceIndentStyle{yaml.CompactSequenceStyle, yaml.WideSequenceStyle} {
			t.Run(c.name+"/"+string(style), func(t *testing.T) {
				d := &Doc{seqStyle: style}
				n := yaml.NewRNode(c.tree(c.value))
				want, err := d.emit(n)
				if err != nil {
					t.Fatal(err)
				}
				var subs []literalSub
				takeLiterals(n.YNode(), &subs)
				restore(subs)
				if taken := len(subs) > 0; taken != c.taken {
					t.Errorf("taken: %v, want %v", taken, c.taken)
				}
				got, err := d.Encode(n)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Errorf("Encode differs from the emitter:\n%s\nwant:\n%s", got, want)
				}
				if again, _ := d.emit(n); string(again) != string(want) {
					t.Errorf("the tree was not restored:\n%s", again)
				}
			})
		}
	}
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i < len(kv); i += 2 {
		m.Content = append(m.Content, scalar(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}

// TestPrintableLines: the word-at-a-time test agrees with the byte loop
// for every byte value in every lane, beside printable bytes and line
// feeds.
func TestPrintableLines(t *testing.T) {
	slow := func(v string) bool {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c != '\n' && (c < 0x20 || c > 0x7e) {
				return false
			}
		}
		return true
	}
	for _, fill := range []byte{'a', '\n', ' ', '~'} {
		for n := 1; n <= 17; n++ {
			for pos := 0; pos < n; pos++ {
				for c := 0; c < 256; c++ {
					b := bytes.Repeat([]byte{fill}, n)
					b[pos] = byte(c)
					if got, want := printableLines(string(b)), slow(string(b)); got != want {
						t.Fatalf("%q: %v, the byte loop says %v", b, got, want)
					}
				}
			}
		}
	}
	// Several edge bytes in one word.
	edge := []byte{0, '\t', '\n', '\r', 0x1f, ' ', '~', 0x7f, 0x80, 0xff, 'a'}
	likely := []byte{'a', 'a', 'a', 'a', ' ', '\n'} // valid blocks too
	r := rand.New(rand.NewSource(1))
	valid := 0
	for i := 0; i < 200000; i++ {
		alphabet := edge
		if i%2 == 0 {
			alphabet = likely
		}
		b := make([]byte, 1+r.Intn(24))
		for j := range b {
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		if i%2 == 0 && r.Intn(2) == 0 {
			b = append(b, '\n')
		}
		if got, want := printableLines(string(b)), slow(string(b)); got != want {
			t.Fatalf("%q: %v, the byte loop says %v", b, got, want)
		}
		// literalValue as first written.
		v := string(b)
		want := len(v) >= 2 && v[0] != ' ' && v[0] != '\n' && v[len(v)-1] == '\n' && v[len(v)-2] != '\n' &&
			!strings.Contains(v, " \n") && slow(v)
		if got := literalValue(v); got != want {
			t.Fatalf("literalValue(%q): %v, want %v", v, got, want)
		}
		// The direct writer's block makes the same test on the way.
		var buf bytes.Buffer
		w := &treeWriter{buf: &buf}
		wrote := w.block(&yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: v}, 2)
		if wrote != want || !wrote && buf.Len() > 0 {
			t.Fatalf("block(%q): %v (%q), literalValue says %v", v, wrote, buf.String(), want)
		}
		if wrote {
			lines := " |\n"
			for _, l := range strings.SplitAfter(v[:len(v)-1], "\n") {
				if l != "\n" {
					lines += "  "
				}
				lines += l
			}
			if lines += "\n"; buf.String() != lines {
				t.Fatalf("block(%q) wrote %q, want %q", v, buf.String(), lines)
			}
		}
		if want {
			valid++
		}
	}
	if valid < 1000 {
		t.Fatalf("only %d strings were blocks", valid)
	}
}
