package fuzz

import (
	"bytes"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// mutator reads a mutation program: every decision (which node, which
// mutation, which value) takes the program's next byte; an exhausted
// program stops mutating.
type mutator struct {
	prog []byte
	pos  int
}

func newMutator(prog []byte) *mutator { return &mutator{prog: prog} }

func (m *mutator) next() int {
	if m.pos >= len(m.prog) {
		return -1
	}
	b := m.prog[m.pos]
	m.pos++
	return int(b)
}

// index picks 0..n-1 from two bytes (trees have more than 256 nodes).
func (m *mutator) index(n int) int {
	hi, lo := m.next(), m.next()
	if hi < 0 || n == 0 {
		return 0
	}
	if lo < 0 {
		lo = 0
	}
	return (hi<<8 | lo) % n
}

func (m *mutator) chance(n int) bool {
	b := m.next()
	return b >= 0 && b%n == 0
}

func (m *mutator) pickString(list []string) string {
	return list[m.index(len(list))]
}

// some picks a non-empty subset.
func (m *mutator) some(names []string) []string {
	mask := m.next()
	var out []string
	for i, n := range names {
		if mask >= 0 && mask&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = names[:1]
	}
	return out
}

// oddStrings are values no option should let through unchecked.
var oddStrings = []string{
	"", " ", "x y", "a\nb", "#", "/m#x", "/m x", "${HOME}", "$(VAR)", "'", "\"", "\\", "{}", "[]",
	"---", "null", "~", "*x", "&x", "é", "\t", "\x00", strings.Repeat("a", 300), "1e400", "-1", "0",
	"true", "http://u:p@h:1/x", "/metrics?x=1", "..", "sidecarize.dev/inject", "disable&host=evil",
	"5 minutes", "2m30s", "0s", "99999999999999999999", "-5", "65536", "haproxy:3.4\nkind: Pod",
	"monitor", "monitor,logs", "{name: x}", "[a, b]", "{a: [", "x: y", "%", "@", "a/b",
}

var numbers = []string{"0", "-5", "65536", "99999999999999999999", "1e400", "-0", "0x10", ".inf", "NaN", "2147483648", "-2147483649", "1.5"}

var kinds = []string{"Deployment", "Pod", "List", "Service", "CronJob", "StatefulSet", "DaemonSet", "Job",
	"ConfigMap", "ResourceList", "ReplicaSet", "ServiceMonitor", "", "DeploymentList", "Rollout"}

// annotations are every option annotation of every pattern, and the
// engine's own.
var annotations = func() []string {
	out := []string{transform.AnnotationInject, transform.AnnotationStatus, "sidecarize.dev/config-hash"}
	for _, p := range patterns.All() {
		for _, o := range transform.DescribeOptions(p) {
			if o.Annotation != "" {
				out = append(out, strings.ReplaceAll(o.Annotation, "<name>", "api"))
			}
		}
	}
	return out
}()

// setFlag is a --set with an odd value, now and then.
func (m *mutator) setFlag() []string {
	if !m.chance(2) {
		return nil
	}
	a := strings.TrimPrefix(m.pickString(annotations), "sidecarize.dev/")
	return []string{a + "=" + m.pickString(oddStrings)}
}

// numOps is the number of mutations apply knows.
const numOps = 16

// stream decodes a YAML stream, applies up to 16 mutations and encodes it
// again; false when the mutated tree cannot be written as YAML.
func (m *mutator) stream(data []byte) ([]byte, bool) {
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		n := &yaml.Node{}
		if err := dec.Decode(n); err == io.EOF {
			break
		} else if err != nil {
			return data, true // malformed: run as it is
		}
		docs = append(docs, n)
	}
	if len(docs) == 0 {
		return data, true
	}
	for i := 0; i < 16; i++ {
		op := m.next()
		if op < 0 {
			break
		}
		m.apply(op%numOps, docs)
	}
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		var one bytes.Buffer
		enc := yaml.NewEncoder(&one)
		enc.SetIndent(2)
		if err := enc.Encode(d); err != nil {
			return nil, false
		}
		if err := enc.Close(); err != nil {
			return nil, false
		}
		buf.Write(one.Bytes())
	}
	return buf.Bytes(), true
}

// ref is a node with where it hangs.
type ref struct {
	n      *yaml.Node
	parent *yaml.Node
	i      int // index in parent.Content
	doc    int
	key    string // the key, for a mapping value
}

func collect(docs []*yaml.Node) []ref {
	var out []ref
	var walk func(n, parent *yaml.Node, i, doc int, key string)
	walk = func(n, parent *yaml.Node, i, doc int, key string) {
		out = append(out, ref{n, parent, i, doc, key})
		for j, c := range n.Content {
			k := ""
			if n.Kind == yaml.MappingNode && j%2 == 1 {
				k = n.Content[j-1].Value
			}
			walk(c, n, j, doc, k)
		}
	}
	for d, n := range docs {
		walk(n, nil, 0, d, "")
	}
	return out
}

// pick returns a node that satisfies ok, or false.
func (m *mutator) pick(docs []*yaml.Node, ok func(ref) bool) (ref, int, bool) {
	all := collect(docs)
	var cands []int
	for i, r := range all {
		if r.parent != nil && ok(r) {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		m.index(1)
		return ref{}, 0, false
	}
	i := cands[m.index(len(cands))]
	return all[i], i, true
}

func anyNode(ref) bool { return true }

func isKind(k yaml.Kind) func(ref) bool { return func(r ref) bool { return r.n.Kind == k } }

func replace(r ref, n *yaml.Node) { r.parent.Content[r.i] = n }

func (m *mutator) apply(op int, docs []*yaml.Node) {
	switch op {
	case 0: // mapping → sequence
		if r, _, ok := m.pick(docs, isKind(yaml.MappingNode)); ok {
			r.n.Kind, r.n.Style, r.n.Tag = yaml.SequenceNode, 0, ""
		}
	case 1: // sequence → mapping
		if r, _, ok := m.pick(docs, isKind(yaml.SequenceNode)); ok {
			r.n.Kind, r.n.Style, r.n.Tag = yaml.MappingNode, 0, ""
			if len(r.n.Content)%2 == 1 {
				r.n.Content = append(r.n.Content, scalar("null"))
			}
		}
	case 2: // anything → a scalar
		if r, _, ok := m.pick(docs, anyNode); ok && !(r.parent.Kind == yaml.MappingNode && r.i%2 == 0) {
			replace(r, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: m.pickString(oddStrings)})
		}
	case 3: // wrap in a mapping or a sequence
		if r, _, ok := m.pick(docs, anyNode); ok && !(r.parent.Kind == yaml.MappingNode && r.i%2 == 0) {
			if m.chance(2) {
				replace(r, &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{r.n}})
			} else {
				replace(r, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar("x"), r.n}})
			}
		}
	case 4: // null
		if r, _, ok := m.pick(docs, anyNode); ok && !(r.parent.Kind == yaml.MappingNode && r.i%2 == 0) {
			replace(r, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"})
		}
	case 5: // alias to an earlier node of the same document
		all := collect(docs)
		if len(all) < 3 {
			return
		}
		a, b := all[m.index(len(all))], all[m.index(len(all))]
		ai, bi := indexOf(all, a.n), indexOf(all, b.n)
		if ai > bi {
			a, b = b, a
		}
		if a.n == b.n || a.doc != b.doc || b.parent == nil || a.n.Kind == yaml.DocumentNode || b.parent.Kind == yaml.MappingNode && b.i%2 == 0 {
			return
		}
		if a.n.Anchor == "" {
			a.n.Anchor = "a" + string(rune('a'+ai%26))
		}
		replace(b, &yaml.Node{Kind: yaml.AliasNode, Value: a.n.Anchor, Alias: a.n})
	case 6: // a key twice
		if r, _, ok := m.pick(docs, func(r ref) bool { return r.n.Kind == yaml.MappingNode && len(r.n.Content) >= 2 }); ok {
			k := 2 * m.index(len(r.n.Content)/2)
			r.n.Content = append(r.n.Content, copyNode(r.n.Content[k]), copyNode(r.n.Content[k+1]))
		}
	case 7: // huge and odd numbers
		if r, _, ok := m.pick(docs, func(r ref) bool { return r.n.Kind == yaml.ScalarNode && r.key != "" }); ok {
			r.n.Value, r.n.Tag, r.n.Style = m.pickString(numbers), "", 0
		}
	case 8: // odd strings
		if r, _, ok := m.pick(docs, func(r ref) bool { return r.n.Kind == yaml.ScalarNode && r.key != "" }); ok {
			r.n.Value, r.n.Tag, r.n.Style = m.pickString(oddStrings), "!!str", 0
		}
	case 9: // another kind
		if r, _, ok := m.pick(docs, func(r ref) bool { return r.key == "kind" && r.n.Kind == yaml.ScalarNode }); ok {
			r.n.Value = m.pickString(kinds)
		}
	case 10: // an option annotation with an odd value
		root := docs[m.index(len(docs))]
		if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
			return
		}
		obj := root.Content[0]
		if m.chance(3) { // the pod template's
			if t := lookup(obj, "spec", "template"); t != nil {
				obj = t
			}
		}
		anns := ensure(ensure(obj, "metadata"), "annotations")
		if anns == nil {
			return
		}
		key := m.pickString(annotations)
		val := m.pickString(oddStrings)
		if key == transform.AnnotationInject && m.chance(2) {
			val = m.pickString([]string{"monitor", "logs", "ambassador", "exporter", "tracing", "tls", "monitor,tls", "disabled"})
		}
		anns.Content = append(anns.Content, scalar(key), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val})
	case 11: // remove
		if r, _, ok := m.pick(docs, anyNode); ok {
			if r.parent.Kind == yaml.MappingNode {
				k := r.i - r.i%2
				r.parent.Content = append(r.parent.Content[:k:k], r.parent.Content[k+2:]...)
			} else if r.parent.Kind == yaml.SequenceNode {
				r.parent.Content = append(r.parent.Content[:r.i:r.i], r.parent.Content[r.i+1:]...)
			}
		}
	case 12: // an item twice (two containers of one name)
		if r, _, ok := m.pick(docs, func(r ref) bool { return r.n.Kind == yaml.SequenceNode && len(r.n.Content) > 0 }); ok {
			r.n.Content = append(r.n.Content, copyNode(r.n.Content[m.index(len(r.n.Content))]))
		}
	case 13: // a copy of another node in its place
		all := collect(docs)
		src := all[m.index(len(all))].n
		if r, _, ok := m.pick(docs, anyNode); ok && src.Kind != yaml.DocumentNode && !(r.parent.Kind == yaml.MappingNode && r.i%2 == 0) && !contains(src, r.n) {
			replace(r, copyNode(src))
		}
	case 14: // ports out of range or by a name
		if r, _, ok := m.pick(docs, func(r ref) bool {
			return r.n.Kind == yaml.ScalarNode && (strings.HasSuffix(strings.ToLower(r.key), "port") || r.key == "port")
		}); ok {
			r.n.Value, r.n.Tag, r.n.Style = m.pickString([]string{"0", "-5", "65536", "http", "x y", "99999999999999999999", "", "65535", "1"}), "", 0
		}
	case 15: // an explicit tag (!!str false, annotations: !!null, labels: !!map {…})
		if r, _, ok := m.pick(docs, func(r ref) bool {
			return r.n.Kind != yaml.DocumentNode && r.n.Kind != yaml.AliasNode && r.parent != nil && !(r.parent.Kind == yaml.MappingNode && r.i%2 == 0)
		}); ok {
			r.n.Tag = r.n.ShortTag()
			r.n.Style |= yaml.TaggedStyle
			if r.n.Tag == "!!null" && m.chance(2) {
				r.n.Value = ""
			}
		}
	}
}

func indexOf(all []ref, n *yaml.Node) int {
	for i, r := range all {
		if r.n == n {
			return i
		}
	}
	return -1
}

// contains reports whether n is inside (or is) tree.
func contains(tree, n *yaml.Node) bool {
	if tree == n {
		return true
	}
	for _, c := range tree.Content {
		if contains(c, n) {
			return true
		}
	}
	return false
}

// copyNode copies a tree; aliases keep pointing at their anchors.
func copyNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = copyNode(x)
	}
	return &c
}

func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// ensure returns the mapping under key, adding it when absent; nil when
// something else is there.
func ensure(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if v := lookup(n, key); v != nil {
		if v.Kind != yaml.MappingNode {
			return nil
		}
		return v
	}
	v := &yaml.Node{Kind: yaml.MappingNode}
	n.Content = append(n.Content, scalar(key), v)
	return v
}
