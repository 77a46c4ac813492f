package transform

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/randfill"
)

// TestTypedNodeProperty: typedNode builds the same nodes as the JSON
// encoding (toRNodeSlow) for random values of the types sidecarize
// generates and reads, strings with characters encoding/json escapes or
// replaces included; where it declines (ok=false), toRNode takes the slow
// path. The fast path must be taken for most of them, or it proves nothing.
func TestTypedNodeProperty(t *testing.T) {
	f := valueFiller(1)
	types := []any{
		&corev1.Container{}, &corev1.Volume{}, &corev1.VolumeMount{}, &corev1.ConfigMap{}, &corev1.ServicePort{},
		&corev1.EnvVar{}, &corev1.Probe{}, &corev1.ObjectReference{}, &metav1.ObjectMeta{}, &corev1.Service{},
	}
	fast := map[string]int{}
	for i := 0; i < 300; i++ {
		for _, p := range types {
			v := reflect.New(reflect.TypeOf(p).Elem())
			f.Fill(v.Interface())
			val := v.Elem().Interface()
			n, ok := typedNode(reflect.ValueOf(val))
			if !ok {
				continue
			}
			fast[reflect.TypeOf(val).String()]++
			slow, err := toRNodeSlow(val)
			if err != nil {
				t.Fatalf("%T: the slow path fails (%v), the typed one does not", val, err)
			}
			if n != nil {
				typeMetaFirst(n)
			}
			if !sameNode(n, slow.YNode()) {
				a, _ := yamlString(n)
				b, _ := yamlString(slow.YNode())
				t.Fatalf("%T: typedNode differs from the JSON encoding:\n%s\nwant:\n%s", val, a, b)
			}
		}
	}
	for _, p := range types {
		name := reflect.TypeOf(p).Elem().String()
		t.Logf("%s: fast path %d of 300", name, fast[name])
		if fast[name] < 50 {
			t.Errorf("%s: the fast path was taken %d times in 300", name, fast[name])
		}
	}
}

// valueFiller fills values with random content: strings with characters
// encoding/json escapes or replaces, quantities, ints-or-strings and times
// as the API types hold them.
func valueFiller(seed int64) *randfill.Filler {
	strs := []string{"", "a", "<&>", "\u2028\u2029", "\"q\"\\", "line\nnext\t", "é😀", "bad \xff utf-8", "null", "true", "0", "-"}
	return randfill.NewWithSeed(seed).NilChance(0.3).NumElements(0, 3).MaxDepth(6).Funcs(
		func(s *string, c randfill.Continue) {
			if c.Intn(3) == 0 {
				*s = strs[c.Intn(len(strs))]
			} else {
				*s = c.String(12)
			}
		},
		func(q *resource.Quantity, c randfill.Continue) {
			*q = resource.MustParse([]string{"0", "10m", "1.5", "128Mi", "2G", "1e3"}[c.Intn(6)])
		},
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Bool() {
				*v = intstr.FromInt32(c.Int31())
			} else {
				var s string
				c.Fill(&s)
				*v = intstr.FromString(s)
			}
		},
		func(tm *metav1.Time, c randfill.Continue) {
			if c.Bool() {
				*tm = metav1.Unix(c.Int63n(1<<33), 0)
			}
		},
	)
}

// TestTypedNodeDeclines: the shapes typedNode leaves to encoding/json.
func TestTypedNodeDeclines(t *testing.T) {
	type withString struct {
		N int `json:"n,string"`
	}
	type withFloat struct{ F float64 }
	type withBytes struct{ B []byte }
	type withAny struct{ A any }
	type inner struct{ X string }
	type dup struct {
		inner
		X string
	}
	type badTag struct {
		X string `json:"a b"`
	}
	for _, v := range []any{withString{N: 1}, withFloat{F: 1}, withBytes{B: []byte("x")}, withAny{A: 1}, dup{X: "y"},
		badTag{X: "z"}, map[string]string{"k": "\xff"}, []string{"\xfe"}, [2]int{1, 2}} {
		if _, ok := typedNode(reflect.ValueOf(v)); ok {
			t.Errorf("%T: typedNode took it", v)
		}
		if _, err := toRNode(v); err != nil {
			t.Errorf("%T: %v", v, err)
		}
	}
	if _, ok := typedNode(reflect.ValueOf(nil)); ok {
		t.Error("nil: typedNode took it")
	}
}

func yamlString(n *yaml.Node) (string, error) {
	if n == nil {
		return "<nil>", nil
	}
	return yaml.NewRNode(n).String()
}

// zeroer has IsZero on its pointer, as metav1.Time does.
type zeroer struct{ V int }

func (z *zeroer) IsZero() bool { return z == nil || z.V == 7 }

// TestTypedNodeOmitZero: omitzero as encoding/json reads it: a type's own
// IsZero (on a value, a pointer, or a pointer receiver), else the zero value.
func TestTypedNodeOmitZero(t *testing.T) {
	type inner struct{ X string }
	type s struct {
		A inner   `json:"a,omitzero"`
		B int     `json:"b,omitzero"`
		C zeroer  `json:"c,omitzero"`
		D *zeroer `json:"d,omitzero"`
		E []int   `json:"e,omitzero"`
		F zeroer  `json:"f,omitempty,omitzero"`
	}
	for _, v := range []any{s{}, s{A: inner{X: "x"}, B: 1, C: zeroer{V: 1}, D: &zeroer{V: 1}, E: []int{}},
		s{C: zeroer{V: 7}, D: &zeroer{V: 7}, F: zeroer{V: 7}}, &s{C: zeroer{V: 7}, F: zeroer{V: 2}}} {
		n, ok := typedNode(reflect.ValueOf(v))
		if !ok {
			t.Fatalf("%+v: declined", v)
		}
		slow, err := toRNodeSlow(v)
		if err != nil {
			t.Fatal(err)
		}
		if !sameNode(n, slow.YNode()) {
			a, _ := yamlString(n)
			b, _ := yamlString(slow.YNode())
			t.Errorf("%+v:\n%s\nwant:\n%s", v, a, b)
		}
	}
}
