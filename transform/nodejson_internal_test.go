package transform

import (
	"bytes"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/randfill"
)

// TestNodeJSON: nodeJSON writes the bytes of the slow path (decode to
// generic values, json.Marshal) on every document it takes, and declines
// the shapes it does not follow; plain pod specs are taken.
func TestNodeJSON(t *testing.T) {
	docs := []string{
		"containers:\n- name: app\n  image: x:1\n  ports:\n  - containerPort: 8080\n    name: http\n  args: [\"<&>\", \"a\\nb\", 'q\"', \"\\u2028\"]\n",
		"b: 1\na: -2\nc: 0\nd: true\ne: false\nf: null\ng: ~\nh:\ni: ''\nj: '12'\nk: !!str 3\nl: []\nm: {}\n",
		"Image: a\nimage: b\n",
		"a: 1.5\n", "a: 1e3\n", "a: .inf\n", "a: 0x1F\n", "a: 012\n", "a: -0\n", "a: +1\n", "a: 1_000\n",
		"a: 123456789012345678901234\n", "a: True\n", "a: !!bool yes\n", "a: 2001-12-14\n", "a: !!binary aGk=\n",
		"a: &x 1\nb: *x\n", "<<: {a: 1}\nb: 2\n", "a: 1\na: 2\n", "1: a\n", "true: a\n", "? [a]\n: b\n",
		"a: !custom x\n", "a: !!null x\n", "a: !!int x\n", "a: \"bad \\xff\"\n", "a: \"\\x7f\\x01\"\n",
		"[a, b]\n", "a\n", "a: [1, {b: null}, [c]]\n",
	}
	taken := 0
	for _, d := range docs {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(d), &n); err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		root := n.Content[0]
		fast, ok := nodeJSON(nil, root)
		var generic any
		err := root.Decode(&generic)
		var slow []byte
		if err == nil {
			slow, err = json.Marshal(generic)
		}
		if !ok {
			continue
		}
		t.Logf("taken: %q", d)
		taken++
		if err != nil {
			t.Errorf("%q: nodeJSON %s, the slow path fails: %v", d, fast, err)
		} else if !bytes.Equal(fast, slow) {
			t.Errorf("%q:\n%s\nwant:\n%s", d, fast, slow)
		}
	}
	if taken < 6 {
		t.Errorf("nodeJSON took %d documents", taken)
	}
}

// TestNodeJSONRandom: the same on random pod specs as sidecarize's own
// nodes carry them (typed values through toRNode).
func TestNodeJSONRandom(t *testing.T) {
	f := randfill.NewWithSeed(2).NilChance(0.4).NumElements(0, 2).MaxDepth(5).Funcs(
		func(q *resource.Quantity, c randfill.Continue) { *q = resource.MustParse("250m") },
		func(v *intstr.IntOrString, c randfill.Continue) { *v = intstr.FromString(c.String(5)) },
	)
	taken := 0
	for i := 0; i < 200; i++ {
		var ps corev1.PodSpec
		f.Fill(&ps)
		rn, err := toRNode(ps)
		if err != nil {
			t.Fatal(err)
		}
		fast, ok := nodeJSON(nil, rn.YNode())
		if !ok {
			continue
		}
		taken++
		var generic any
		if err := rn.YNode().Decode(&generic); err != nil {
			t.Fatalf("nodeJSON took a node the decoder refuses: %v", err)
		}
		slow, err := json.Marshal(generic)
		if err != nil || !bytes.Equal(fast, slow) {
			t.Fatalf("%v:\n%s\nwant:\n%s", err, fast, slow)
		}
	}
	t.Logf("nodeJSON took %d of 200", taken)
	if taken < 50 {
		t.Errorf("nodeJSON took %d of 200", taken)
	}
}
