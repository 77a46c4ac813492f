package transform

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestUserKeys: userKeys answers as kyaml's lookup on every shape of
// metadata and of the field.
func TestUserKeys(t *testing.T) {
	docs := []string{
		"kind: A\n",
		"metadata: null\n",
		"metadata: x\n",
		"metadata: [a]\n",
		"metadata: {}\n",
		"metadata: {annotations: null}\n",
		"metadata: {annotations: ~}\n",
		"metadata: {annotations: x}\n",
		"metadata: {annotations: [a]}\n",
		"metadata: {annotations: {}}\n",
		"metadata: {annotations: {a: b}}\n",
		"metadata: {annotations: {config.kubernetes.io/index: '0'}}\n",
		"metadata: {annotations: {config.kubernetes.io/index: '0', internal.config.kubernetes.io/path: p, kustomize.config.k8s.io/id: i, config.k8s.io/x: y}}\n",
		"metadata: {annotations: {sidecarize.dev/status: s, sidecarize.dev/config-hash: h}}\n",
		"metadata: {annotations: {sidecarize.dev/status: s, a: b}}\n",
		"metadata: {labels: {a: b}}\n",
		"metadata: !!null {annotations: {a: b}}\n",
		"metadata: {annotations: !!map {a: b}}\n",
		"metadata: {annotations: {}}\nmetadata: {annotations: {a: b}}\n",
		"metadata: {annotations: {a: b}}\nmetadata: {annotations: {}}\n",
		"metadata: {annotations: {}, annotations: {a: b}}\n",
	}
	for _, d := range docs {
		n, err := yaml.Parse(d)
		if err != nil {
			// kyaml refuses duplicate keys; build the tree with yaml.v3.
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(d), &doc); err != nil {
				t.Fatalf("%q: %v", d, err)
			}
			n = yaml.NewRNode(&doc)
		}
		for _, field := range []string{"annotations", "labels"} {
			if got, want := userKeys(n.YNode(), field), hasUserKeysSlow(n, field); got != want {
				t.Errorf("%q %s: %v, kyaml's lookup says %v", d, field, got, want)
			}
		}
	}
}

// TestUserKeysSabotaged: under verify a wrong answer is an internal error.
func TestUserKeysSabotaged(t *testing.T) {
	n := yaml.MustParse("metadata: {annotations: {a: b}}\n")
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "internal error") {
			t.Fatalf("a wrong answer went unnoticed: %v", r)
		}
	}()
	checkUserKeys(n, "annotations", false)
}

// TestFieldNode: fieldNode finds what kyaml's Field finds.
func TestFieldNode(t *testing.T) {
	for _, d := range []string{"a: 1\n", "metadata: x\n", "metadata: null\n", "metadata: {a: b}\n", "metadata: {}\nmetadata: {b: c}\n", "- a\n", "x\n"} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(d), &doc); err != nil {
			t.Fatal(err)
		}
		n := yaml.NewRNode(&doc) // a document node: both unwrap it
		var want *yaml.Node
		if f := n.Field("metadata"); f != nil {
			want = f.Value.YNode()
		}
		if got := fieldNode(n, "metadata"); got != want {
			t.Errorf("%q: %v, kyaml's Field %v", d, got, want)
		}
	}
}
