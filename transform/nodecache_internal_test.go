package transform

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func resetShared() {
	shared.Lock()
	defer shared.Unlock()
	shared.nodes, shared.count = map[reflect.Type]map[string]*keptNode{}, 0
}

// TestSharedNodes: for random containers and volumes (hostile strings,
// quantities, nil and empty lists), the nodes from the cache are the ones
// toRNode builds, the first time (a miss) and the next (a hit), and a copy
// edited afterwards (as the splice and later patterns may) changes neither
// the cache nor the next copy.
func TestSharedNodes(t *testing.T) {
	f := valueFiller(2)
	hits := 0
	for i := 0; i < 300; i++ {
		resetShared()
		for _, p := range []any{&corev1.Container{}, &corev1.Volume{}} {
			v := reflect.New(reflect.TypeOf(p).Elem())
			f.Fill(v.Interface())
			val := v.Elem().Interface()
			want, err := toRNode(val)
			if err != nil {
				t.Fatal(err)
			}
			for round := 0; round < 3; round++ {
				got, err := toRNodeShared(val)
				if err != nil {
					t.Fatalf("%T round %d: %v", val, round, err)
				}
				if !sameNode(got.YNode(), want.YNode()) {
					a, _ := yamlString(got.YNode())
					b, _ := yamlString(want.YNode())
					t.Fatalf("%T round %d: from the cache:\n%s\nbuilt:\n%s", val, round, a, b)
				}
				if round > 0 {
					hits++
				}
				vandalize(got.YNode())
			}
		}
	}
	if hits < 300 {
		t.Fatalf("only %d copies from the cache", hits)
	}
	resetShared()
	for i := 0; i < 2*maxShared; i++ {
		if _, err := toRNodeShared(corev1.Container{Name: strings.Repeat("c", i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	if shared.count > maxShared {
		t.Fatalf("%d values kept, at most %d", shared.count, maxShared)
	}
}

// vandalize edits every node of a tree and appends to every collection.
func vandalize(n *yaml.Node) {
	for _, c := range n.Content {
		vandalize(c)
	}
	n.Value += "!"
	n.Style = yaml.FoldedStyle
	if n.Kind != yaml.ScalarNode {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "x"}, &yaml.Node{Kind: yaml.ScalarNode, Value: "y"})
	}
}

// TestValueKey: values valueKey does not tell apart are equal; the cases
// an encoding without lengths or nil marks would confuse are told apart.
func TestValueKey(t *testing.T) {
	f := valueFiller(3).NilChance(0.5).NumElements(0, 2)
	seen := map[string]corev1.Container{}
	for i := 0; i < 3000; i++ {
		var c corev1.Container
		f.Fill(&c)
		key, ok := valueKey(nil, reflect.ValueOf(c), 0)
		if !ok {
			t.Fatalf("no key for %+v", c)
		}
		if o, dup := seen[string(key)]; dup && !reflect.DeepEqual(o, c) {
			t.Fatalf("one key for\n%+v\nand\n%+v", o, c)
		}
		seen[string(key)] = c
	}
	q1, q2 := resource.MustParse("1"), resource.MustParse("1000m")
	pairs := [][2]any{
		{corev1.Container{Name: "ab", Image: "c"}, corev1.Container{Name: "a", Image: "bc"}},
		{corev1.Container{Command: []string{"a", "b"}}, corev1.Container{Command: []string{"ab"}}},
		{corev1.Container{Command: nil}, corev1.Container{Command: []string{}}},
		{corev1.Container{Command: []string{""}}, corev1.Container{Command: []string{}}},
		{corev1.Container{SecurityContext: nil}, corev1.Container{SecurityContext: &corev1.SecurityContext{}}},
		{corev1.Container{Resources: corev1.ResourceRequirements{Limits: nil}}, corev1.Container{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{}}}},
		{corev1.Container{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q1}}}, corev1.Container{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q2}}}},
		{corev1.Container{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"a": q1}}}, corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"a": q1}}}},
		{corev1.ContainerPort{ContainerPort: 1}, corev1.ContainerPort{HostPort: 1}},
		{corev1.ContainerPort{ContainerPort: -1}, corev1.ContainerPort{ContainerPort: 1}},
	}
	for _, p := range pairs {
		a, okA := valueKey(nil, reflect.ValueOf(p[0]), 0)
		b, okB := valueKey(nil, reflect.ValueOf(p[1]), 0)
		if !okA || !okB || string(a) == string(b) {
			t.Errorf("one key (%v %v) for\n%+v\nand\n%+v", okA, okB, p[0], p[1])
		}
	}
	type withAny struct{ A any }
	if _, ok := valueKey(nil, reflect.ValueOf(withAny{A: 1}), 0); ok {
		t.Error("a key for an interface")
	}
	if _, ok := valueKey(nil, reflect.ValueOf(corev1.Container{Name: strings.Repeat("x", maxSharedKey+1)}), 0); ok {
		t.Error("a key past maxSharedKey")
	}
}

// TestSharedNodesSabotaged: a wrong tree in the cache is an internal error
// under verify (on in every test binary).
func TestSharedNodesSabotaged(t *testing.T) {
	resetShared()
	defer resetShared()
	c := corev1.Container{Name: "sab", Image: "example.com/x:1", Command: []string{"run"}}
	if _, err := toRNodeShared(c); err != nil {
		t.Fatal(err)
	}
	key, _ := valueKey(nil, reflect.ValueOf(c), 0)
	kept := shared.nodes[reflect.TypeOf(c)][string(key)]
	if kept == nil {
		t.Fatal("the container was not kept")
	}
	kept.root.Content[1].Value = "sabotaged"
	if _, err := toRNodeShared(c); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("a sabotaged cache went unnoticed: %v", err)
	}
}

// TestSharedNodesConcurrent: workloads run in parallel (syntax.go's
// parallel) share the cache; run with -race.
func TestSharedNodesConcurrent(t *testing.T) {
	resetShared()
	defer resetShared()
	var values []corev1.Container
	var wants []*yaml.Node
	for i := 0; i < 4; i++ {
		c := corev1.Container{Name: "c" + strings.Repeat("x", i), Image: "example.com/x:1", Ports: []corev1.ContainerPort{{ContainerPort: int32(9000 + i)}}}
		n, err := toRNode(c)
		if err != nil {
			t.Fatal(err)
		}
		values, wants = append(values, c), append(wants, n.YNode())
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				n, err := toRNodeShared(values[i%4])
				if err == nil && !sameNode(n.YNode(), wants[i%4]) {
					err = errors.New("a copy differs from the built nodes")
				}
				if err != nil {
					errs <- err
					return
				}
				vandalize(n.YNode())
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestSharedNodesPooled: a copy for a document comes in arrays the
// document's finalize gives back; it is the tree toRNode builds until
// then, and not after (under verify the arrays are overwritten).
func TestSharedNodesPooled(t *testing.T) {
	c := corev1.Container{Name: "pooled-helper", Image: "example.com/helper:1", Args: []string{"-v"}}
	want, err := toRNode(c)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // kept the first time, copied after
		d := &Doc{}
		n, err := toRNodeSharedIn(c, d)
		if err != nil {
			t.Fatal(err)
		}
		if !sameNode(n.YNode(), want.YNode()) {
			t.Fatal("the copy differs from toRNode's nodes")
		}
		if i == 0 {
			continue
		}
		if len(d.arrays) != 1 {
			t.Fatalf("%d arrays kept for the document's finalize", len(d.arrays))
		}
		d.arrays[0].release()
		if sameNode(n.YNode(), want.YNode()) {
			t.Fatal("a released copy still reads as the tree (verify overwrites it)")
		}
	}
}
