package transform

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestConfigMapNodeFields: configMapNode checks every field of a
// ConfigMap; a field added to the types must be added there (and here).
func TestConfigMapNodeFields(t *testing.T) {
	for typ, want := range map[reflect.Type][]string{
		reflect.TypeOf(corev1.ConfigMap{}): {"TypeMeta", "ObjectMeta", "Immutable", "Data", "BinaryData"},
		reflect.TypeOf(metav1.TypeMeta{}):  {"Kind", "APIVersion"},
		reflect.TypeOf(metav1.ObjectMeta{}): {"Name", "GenerateName", "Namespace", "SelfLink", "UID", "ResourceVersion", "Generation",
			"CreationTimestamp", "DeletionTimestamp", "DeletionGracePeriodSeconds", "Labels", "Annotations", "OwnerReferences", "Finalizers", "ManagedFields"},
	} {
		var got []string
		for i := 0; i < typ.NumField(); i++ {
			got = append(got, typ.Field(i).Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s has fields %v; configMapNode knows %v", typ, got, want)
		}
	}
}

// TestConfigMapNode: configMapNode builds typedNode's nodes, or declines.
func TestConfigMapNode(t *testing.T) {
	yes, one, now := true, int64(1), metav1.Now()
	base := func() corev1.ConfigMap {
		cm := corev1.ConfigMap{Data: map[string]string{"b": "2\n", "a": "yes", "c": ""}}
		cm.APIVersion, cm.Kind, cm.Name = "v1", "ConfigMap", "web-monitor"
		cm.Labels = map[string]string{"z": "1", "a": "on"}
		cm.Annotations = map[string]string{"k": "v"}
		return cm
	}
	built, declined := 0, 0
	for name, edit := range map[string]func(*corev1.ConfigMap){
		"plain":           func(*corev1.ConfigMap) {},
		"no type":         func(c *corev1.ConfigMap) { c.APIVersion, c.Kind = "", "" },
		"no name":         func(c *corev1.ConfigMap) { c.Name = "" },
		"no labels":       func(c *corev1.ConfigMap) { c.Labels = nil },
		"empty labels":    func(c *corev1.ConfigMap) { c.Labels = map[string]string{} },
		"no annotations":  func(c *corev1.ConfigMap) { c.Annotations = nil },
		"no data":         func(c *corev1.ConfigMap) { c.Data = nil },
		"empty data":      func(c *corev1.ConfigMap) { c.Data = map[string]string{} },
		"generateName":    func(c *corev1.ConfigMap) { c.GenerateName = "g" },
		"namespace":       func(c *corev1.ConfigMap) { c.Namespace = "ns" },
		"selfLink":        func(c *corev1.ConfigMap) { c.SelfLink = "s" },
		"uid":             func(c *corev1.ConfigMap) { c.UID = types.UID("u") },
		"resourceVersion": func(c *corev1.ConfigMap) { c.ResourceVersion = "1" },
		"generation":      func(c *corev1.ConfigMap) { c.Generation = 1 },
		"created":         func(c *corev1.ConfigMap) { c.CreationTimestamp = now },
		"deleted":         func(c *corev1.ConfigMap) { c.DeletionTimestamp = &now },
		"grace":           func(c *corev1.ConfigMap) { c.DeletionGracePeriodSeconds = &one },
		"owners":          func(c *corev1.ConfigMap) { c.OwnerReferences = []metav1.OwnerReference{{Name: "o"}} },
		"finalizers":      func(c *corev1.ConfigMap) { c.Finalizers = []string{"f"} },
		"managedFields":   func(c *corev1.ConfigMap) { c.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "m"}} },
		"immutable":       func(c *corev1.ConfigMap) { c.Immutable = &yes },
		"binaryData":      func(c *corev1.ConfigMap) { c.BinaryData = map[string][]byte{"b": {1}} },
		"not UTF-8 value": func(c *corev1.ConfigMap) { c.Data["bad"] = "\xff" },
		"not UTF-8 key":   func(c *corev1.ConfigMap) { c.Labels["\xff"] = "x" },
	} {
		cm := base()
		edit(&cm)
		for _, v := range []any{cm, &cm} {
			n, ok := configMapNode(v)
			typed, typedOK := typedNode(reflect.ValueOf(v))
			switch {
			case !ok:
				declined++
			case !typedOK:
				t.Errorf("%s: built what typedNode declines", name)
			case !sameNode(n, typed):
				t.Errorf("%s: differs from typedNode", name)
			default:
				built++
			}
		}
	}
	if built != 2*8 || declined != 2*16 {
		t.Errorf("built %d, declined %d: want 16 and 32", built, declined)
	}
}

// TestConfigMapNodeSabotaged: a difference from typedNode is an internal
// error.
func TestConfigMapNodeSabotaged(t *testing.T) {
	cm := corev1.ConfigMap{Data: map[string]string{"a": "b"}}
	n, ok := configMapNode(cm)
	typed, _ := typedNode(reflect.ValueOf(cm))
	if !ok {
		t.Fatal("declined")
	}
	n.Content[len(n.Content)-1].Content[1].Value = "c"
	if err := checkConfigMapNode(cm, n, typed); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("a difference went unnoticed: %v", err)
	}
}
