package transform

import (
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
