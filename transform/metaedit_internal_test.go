package transform

import (
	"maps"
	"math/rand"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestMetaEditFast: the direct metadata edits give the nodes kyaml's
// filters give, on every shape of metadata (missing, null, flow, aliased,
// duplicate keys, non-scalar values) and every kind of value (YAML 1.1
// booleans and numbers, multi-line, invalid UTF-8); where the fast path
// declines it changes nothing. The plain shapes must be taken.
func TestMetaEditFast(t *testing.T) {
	docs := []string{
		"kind: A\n",
		"metadata: {name: a}\n",
		"metadata:\n  name: a\n  namespace: ns # c\n",
		"metadata:\n  namespace: 'on'\n",
		"metadata:\n  namespace: x\n  namespace: y\n",
		"metadata: null\n",
		"metadata: !!null {}\n",
		"metadata: [a]\n",
		"m: &m {name: a}\nmetadata: *m\n",
		"metadata:\n  annotations: {}\n",
		"metadata:\n  annotations:\n    k: v\n    sidecarize.dev/status: old\n    z: 1\n",
		"metadata:\n  annotations:\n    sidecarize.dev/status: a\n    sidecarize.dev/status: b\n",
		"metadata:\n  annotations:\n    sidecarize.dev/config-hash: [x]\n",
		"metadata:\n  annotations:\n    k: [x]\n  labels:\n    k: {a: b}\n",
		"metadata:\n  annotations: null\n  labels: ~\n",
		"metadata:\n  annotations: x\n",
		"metadata:\n  labels:\n    k: \"q\" # kept\n  labels:\n    k: 2\n",
		"metadata:\n  labels: {k: 'v'}\n",
		"metadata:\n  metadata: {}\n",
	}
	values := []string{"v", "", "yes", "on", "y", "~", "null", "1e3", "0x1F", "12", "a\nb", "bad \xff", "'q'", "sidecarize"}
	keys := []string{"k", AnnotationStatus, AnnotationConfigHash, "new"}
	taken := 0
	for _, d := range docs {
		base, err := yaml.Parse(d)
		if err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		check := func(what string, fast func(*yaml.RNode) bool, slow func(*yaml.RNode) error) {
			a := yaml.NewRNode(yaml.CopyYNode(base.YNode()))
			b := yaml.NewRNode(yaml.CopyYNode(base.YNode()))
			if !fast(a) {
				if !sameNode(a.YNode(), base.YNode()) {
					t.Errorf("%q %s: declined but changed the node", d, what)
				}
				return
			}
			taken++
			if err := slow(b); err != nil {
				t.Errorf("%q %s: fast path taken, kyaml fails: %v", d, what, err)
				return
			}
			if !sameNode(a.YNode(), b.YNode()) {
				as, _ := a.String()
				bs, _ := b.String()
				t.Errorf("%q %s:\n%s\nkyaml:\n%s", d, what, as, bs)
			}
		}
		for _, field := range []string{"labels", "annotations"} {
			for _, k := range keys {
				for _, v := range values {
					check(field+" "+k+"="+v,
						func(n *yaml.RNode) bool { return setMetaKeyFast(n, field, k, v) },
						func(n *yaml.RNode) error { return setMetaKeySlow(n, field, k, v) })
				}
			}
		}
		for _, ns := range []string{"team-1", "on", "no", "y", "1", "null"} {
			check("namespace "+ns, func(n *yaml.RNode) bool { return setNamespaceFast(n, ns) },
				func(n *yaml.RNode) error { return n.SetNamespace(ns) })
		}
	}
	t.Logf("fast path taken %d times", taken)
	if taken < 500 {
		t.Errorf("fast path taken %d times", taken)
	}
}

// TestPlainMapIsLookupCreate: where plainMap finds a mapping, kyaml's
// LookupCreate finds the same node and changes nothing (prepareAnnotations
// skips it there).
func TestPlainMapIsLookupCreate(t *testing.T) {
	docs := []string{
		"metadata: {name: a}\n", "metadata:\n  annotations: {}\n", "metadata:\n  annotations:\n    a: b\n  labels: {}\n",
		"metadata: null\n", "metadata:\n  annotations: null\n", "metadata:\n  annotations: x\n", "metadata: {}\nmetadata: {}\n",
		"metadata:\n  annotations: {}\n  annotations: {a: b}\n", "m: &m {annotations: {}}\nmetadata: *m\n", "kind: A\n",
	}
	found := 0
	for _, d := range docs {
		n, err := yaml.Parse(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range [][]string{{"metadata"}, {"metadata", "annotations"}} {
			want := plainMap(n.YNode(), path[0])
			if len(path) == 2 {
				want = plainMap(want, path[1])
			}
			if want == nil {
				continue
			}
			found++
			before := yaml.CopyYNode(n.YNode())
			got, err := n.Pipe(yaml.LookupCreate(yaml.MappingNode, path...))
			if err != nil || got.YNode() != want || !sameNode(n.YNode(), before) {
				t.Errorf("%q %v: LookupCreate gave %v, %v, or changed the tree", d, path, got, err)
			}
		}
	}
	if found < 5 {
		t.Errorf("plainMap found %d", found)
	}
}

// TestMetaMapFast: metaMap's direct read gives the decoder's maps on every
// shape it takes (and declines aliases, merge keys, tags, duplicates).
func TestMetaMapFast(t *testing.T) {
	docs := []string{
		"kind: A\n", "metadata: {name: a}\n", "metadata:\n  labels: {app: a, 'n': '1'}\n  annotations:\n    x: \"y\\n\"\n    z: |\n      block\n",
		"metadata:\n  labels: {a: 1}\n", "metadata:\n  labels: {a: true}\n", "metadata:\n  labels: {a: null}\n", "metadata:\n  labels: {a: !!str 1}\n",
		"metadata:\n  labels: {a: b, a: c}\n", "metadata:\n  labels: {}\n  labels: {a: b}\n", "metadata:\n  labels: null\n",
		"m: &m {a: b}\nmetadata:\n  labels: *m\n", "m: &m {labels: {a: b}}\nmetadata:\n  <<: *m\n  name: x\n",
		"metadata:\n  labels:\n    <<: {a: b}\n", "metadata:\n  labels: [a]\n  annotations: {k: v}\n", "metadata:\n  annotations: {k: [v]}\n  labels: {a: b}\n",
		"metadata:\n  labels: !!map {a: b}\n", "metadata:\n  labels: !custom {a: b}\n", "metadata:\n  labels: {1: b}\n", "metadata: [a]\n",
	}
	taken := 0
	for _, d := range docs {
		n, err := yaml.Parse(d)
		if err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		md := n.Field("metadata")
		if md == nil {
			continue
		}
		for _, field := range []string{"labels", "annotations"} {
			m, ok := plainStringMap(md.Value.YNode(), field)
			if !ok {
				continue
			}
			taken++
			if slow := metaMapSlow(md.Value.YNode(), field, n); !maps.Equal(m, slow) {
				t.Errorf("%q %s: %v, decoded %v", d, field, m, slow)
			}
		}
	}
	if taken < 10 {
		t.Errorf("taken %d times", taken)
	}
}

// TestPlainWord: plainWord answers as kyaml's YAML 1.1 check on name-like
// values, the resolver's words included, and declines everything else.
func TestPlainWord(t *testing.T) {
	for _, s := range []string{"app-0", "team-12", "y", "yes", "n", "no", "true", "false", "on", "off", "null",
		"nul", "yess", "o", "t", "f", "a.b", "kube-system", "x1", "e5", "inf", "nan", "web.v2", "a-", "z.", "tilde"} {
		got, ok := plainWord(s)
		if !ok {
			t.Errorf("plainWord(%q) declined a name-like value", s)
			continue
		}
		if want := yaml.IsValueNonString(s); got != want {
			t.Errorf("plainWord(%q) = %v, kyaml says %v", s, got, want)
		}
	}
	for _, s := range []string{"", "Yes", "ON", "1", "-a", ".inf", "a b", "a:b", "a#b", "~", "<<", "App", "a_b", "é"} {
		if _, ok := plainWord(s); ok {
			t.Errorf("plainWord(%q) answered a value it must leave to the parser", s)
		}
	}
}

// TestPlainWordRandom: random name-like values, each compared with kyaml.
func TestPlainWordRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	const first, rest = "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz0123456789-.eE"
	for i := 0; i < 5000; i++ {
		b := []byte{first[r.Intn(len(first))]}
		for n := r.Intn(6); n > 0; n-- {
			b = append(b, rest[r.Intn(len(rest))])
		}
		s := string(b)
		if got, ok := plainWord(s); ok && got != yaml.IsValueNonString(s) {
			t.Errorf("plainWord(%q) = %v, kyaml says %v", s, got, !got)
		}
	}
}
