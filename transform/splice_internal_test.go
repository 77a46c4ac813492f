package transform

import (
	"errors"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// spliceEdit parses src, applies edit to its tree and splices the result.
func spliceEdit(t *testing.T, src string, edit func(root *yaml.RNode)) (string, error) {
	t.Helper()
	n, err := yaml.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	orig := copyTree(n.YNode())
	edit(n)
	out, err := splice([]byte(src), 1, orig, n.YNode())
	return string(out), err
}

func setField(path ...string) func(value string) func(*yaml.RNode) {
	return func(value string) func(*yaml.RNode) {
		return func(r *yaml.RNode) {
			parent, err := r.Pipe(yaml.LookupCreate(yaml.MappingNode, path[:len(path)-1]...))
			if err != nil {
				panic(err)
			}
			if err := parent.PipeE(yaml.SetField(path[len(path)-1], yaml.MustParse(value))); err != nil {
				panic(err)
			}
		}
	}
}

func TestSplice(t *testing.T) {
	for _, c := range []struct {
		name, src string
		edit      func(*yaml.RNode)
		want      string
	}{
		{
			name: "four spaces, a comment and a blank line kept",
			src:  "a:\n    b: 1   # one\n\n    c :\n        - x\n",
			edit: setField("a", "d")("{e: [1, 2]}"),
			want: "a:\n    b: 1   # one\n\n    c :\n        - x\n    d: {e: [1, 2]}\n",
		},
		{
			name: "block content in the document's style",
			src:  "a:\n    b: 1\n    c:\n        -   x: 1\n            y: 2\n",
			edit: setField("a", "d")("e:\n  - f: 1\n    g: [h]\n"),
			want: "a:\n    b: 1\n    c:\n        -   x: 1\n            y: 2\n    d:\n        e:\n            -   f: 1\n                g: [h]\n",
		},
		{
			name: "no final newline",
			src:  "a: 1\nb: {c: 2}",
			edit: setField("d")("3"),
			want: "a: 1\nb: {c: 2}\nd: 3",
		},
		{
			name: "CRLF",
			src:  "a: 1\r\nb:\r\n  c: 2\r\n",
			edit: setField("b", "d")("x: [1]\ny: z\n"),
			want: "a: 1\r\nb:\r\n  c: 2\r\n  d:\r\n    x: [1]\r\n    y: z\r\n",
		},
		{
			name: "flow mapping: entry added in flow",
			src:  "m: { a: 1 }   # kept\n",
			edit: setField("m", "b")("x"),
			want: "m: { a: 1, b: x }   # kept\n",
		},
		{
			name: "scalar replaced in its quoting",
			src:  "a: \"x\"   # c\nb: 'y'\n",
			edit: func(r *yaml.RNode) {
				r.Field("a").Value.YNode().Value = "z"
				r.Field("b").Value.YNode().Value = "w"
			},
			want: "a: \"z\"   # c\nb: 'w'\n",
		},
		{
			name: "multi-line plain scalar kept beside an edit",
			src:  "a: one\n  two\nb: 1\n",
			edit: setField("b")("2"),
			want: "a: one\n  two\nb: 2\n",
		},
		{
			name: "scalars with an explicit tag keep it",
			src:  "a: !!str false   # c\nb: !!int 80\nc: !!str \"x\"\n",
			edit: func(r *yaml.RNode) {
				r.Field("a").Value.YNode().Value = "true"
				setField("b")("9080")(r)
				r.Field("c").Value.YNode().Value = "y"
			},
			want: "a: !!str true   # c\nb: !!int 9080\nc: !!str \"y\"\n",
		},
		{
			name: "block collections with an explicit tag grow",
			src:  "a: !!seq\n    - 1\nb: !!map\n  x: 1\nc: 1\n",
			edit: func(r *yaml.RNode) {
				a := r.YNode().Content[1]
				a.Content = append(a.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "2"})
				setField("b", "y")("2")(r)
			},
			want: "a: !!seq\n    - 1\n    - 2\nb: !!map\n  x: 1\n  y: 2\nc: 1\n",
		},
		{
			name: "empty flow on the key's line opens",
			src:  "a: {}\nb: 1\n",
			edit: func(r *yaml.RNode) { r.YNode().Content[1] = yaml.MustParse("c: 1\n").YNode() },
			want: "a:\n  c: 1\nb: 1\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := spliceEdit(t, c.src, c.edit)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got\n%q\nwant\n%q", got, c.want)
			}
			// Back: splicing the original tree into the output gives the
			// source byte for byte.
			back, err := yaml.Parse(c.src)
			if err != nil {
				t.Fatal(err)
			}
			cur, err := yaml.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := splice([]byte(got), 1, copyTree(cur.YNode()), back.YNode())
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != c.src {
				t.Errorf("back: got\n%q\nwant\n%q", again, c.src)
			}
		})
	}
}

// Shapes splicing does not handle are refused (the document is then written
// by the emitter and reported).
func TestSpliceRefuses(t *testing.T) {
	for _, c := range []struct {
		name, src string
		edit      func(*yaml.RNode)
		reason    string
	}{
		{"anchors", "a: &x {b: 1}\nc: 2\n", setField("c")("3"), "anchors"},
		{"keys reordered", "a: 1\nb: 2\n", func(r *yaml.RNode) {
			n := r.YNode()
			n.Content[0], n.Content[1], n.Content[2], n.Content[3] = n.Content[2], n.Content[3], n.Content[0], n.Content[1]
		}, "order"},
		{"a block scalar keeping its blank lines, then an insertion", "b: 1\na: |+\n  x\n\n", setField("a2")("1"), "keeps"},
		// The tag stands before the value's span: it would stay, wrong,
		// before a value of another type or after the new block.
		{"a scalar whose explicit tag changes", "a: !!str 80\nb: 1\n", setField("a")("9080"), "explicit tag"},
		{"an empty value with an explicit tag that opens", "a: !!null\nb: 1\n", setField("a", "x")("1"), "explicit tag"},
		{"an empty block mapping with an explicit tag that grows", "a: !!map\nb: 1\n", func(r *yaml.RNode) {
			r.YNode().Content[1] = yaml.MustParse("x: 1\n").YNode()
		}, "explicit tag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := spliceEdit(t, c.src, c.edit)
			var es errSplice
			if !errors.As(err, &es) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("got %v, want a splice refusal mentioning %q", err, c.reason)
			}
		})
	}
}

// TestVerifySplice: in test binaries every splice is read back and compared
// with the edited tree, and a splice that would not read as it (here a
// value tagged !!int that is not a number) falls back to the emitter.
func TestVerifySplice(t *testing.T) {
	if !verifySplice {
		t.Fatal("verifySplice is off in a test binary: the golden cases and fuzz tests would not check the splice")
	}
	edit := func(r *yaml.RNode) {
		r.YNode().Content = append(r.YNode().Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "b"},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "x"})
	}
	_, err := spliceEdit(t, "a: 1\n", edit)
	var es errSplice
	if !errors.As(err, &es) || !strings.Contains(err.Error(), "does not read as the edited one") {
		t.Errorf("a splice that reads back otherwise: %v, want the fallback", err)
	}
	verifySplice = false
	defer func() { verifySplice = true }()
	if out, err := spliceEdit(t, "a: 1\n", edit); err != nil || out != "a: 1\nb: x\n" {
		t.Errorf("without the check: %q, %v", out, err)
	}
}

// TestOriginalArrays: an original copied into released arrays is the
// tree copyTree gives, in the same arrays; a released original no longer
// reads as the tree (under verify its nodes are overwritten), so a splice
// that used one would fail.
func TestOriginalArrays(t *testing.T) {
	src := "a:\n  b: [1, 2]\n  c: {d: e}\nf: g # h\n"
	n, err := yaml.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	d := &Doc{}
	orig := copyOriginal(n.YNode(), d)
	want := copyTree(n.YNode())
	if !sameNode(orig, want) || orig.Line != want.Line || orig.Content[1].Column != want.Content[1].Column {
		t.Fatal("copyOriginal differs from copyTree")
	}
	if len(d.arrays) != 1 {
		t.Fatalf("%d arrays kept for the document's finalize", len(d.arrays))
	}
	arr := d.arrays[0]
	arr.release()
	if sameNode(orig, want) {
		t.Fatal("a released original still reads as the tree (verify overwrites it)")
	}
	if _, err := splice([]byte(src), 1, orig, n.YNode()); err == nil {
		t.Fatal("a splice with a released original went unnoticed")
	}
	// The pool hands the arrays out again (not guaranteed by sync.Pool:
	// tried a few times).
	for i := 0; i < 10; i++ {
		d := &Doc{}
		again := copyOriginal(n.YNode(), d)
		if !sameNode(again, want) {
			t.Fatal("a copy into used arrays differs from copyTree")
		}
		if &d.arrays[0].nodes[0] == &arr.nodes[0] {
			return
		}
		d.arrays[0].release()
	}
	t.Log("the pool did not hand the arrays out again")
}

// TestMatchKeys: matchKeys pairs entries as a map of orig's keys (the
// last of a repeated key) does, in place for a few keys and by a map for
// many.
func TestMatchKeys(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	mapping := func(n, alphabet int) *yaml.Node {
		m := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < n; i++ {
			k := string(rune('a' + r.Intn(alphabet)))
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode})
		}
		return m
	}
	want := func(cur, orig *yaml.Node) ([]pair, bool) {
		idx := map[string]int{}
		for i := 0; i+1 < len(orig.Content); i += 2 {
			idx[orig.Content[i].Value] = i / 2
		}
		var ps []pair
		last := -1
		for i := 0; i+1 < len(cur.Content); i += 2 {
			j, ok := idx[cur.Content[i].Value]
			if !ok {
				continue
			}
			if j < last {
				return nil, false
			}
			last = j
			ps = append(ps, pair{i / 2, j})
		}
		return ps, true
	}
	for i := 0; i < 20000; i++ {
		n := r.Intn(8)
		alphabet := 3 + r.Intn(6)
		if i%10 == 0 {
			n, alphabet = 17+r.Intn(10), 26
		}
		cur, orig := mapping(r.Intn(n+1), alphabet), mapping(n, alphabet)
		got, err := matchKeys(cur, orig)
		ps, ok := want(cur, orig)
		if ok != (err == nil) || !slices.Equal(got, ps) {
			t.Fatalf("matchKeys: %v %v, want %v %v", got, err, ps, ok)
		}
	}
}
