package transform

import (
	"fmt"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestServiceIndexFilesUnderTheRarestPair: Services that share a pair
// (one release's instance label, sorted first) are filed under the pair
// that tells them apart, so a pod's candidates are the Services that may
// select it, not every Service of the release; and the index finds a
// Service whatever pair it is filed under.
func TestServiceIndexFilesUnderTheRarestPair(t *testing.T) {
	var svcs []*service
	for i := 0; i < 100; i++ {
		svcs = append(svcs, &service{order: i, info: ServiceInfo{Namespace: "shop"}, selector: map[string]string{
			"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": fmt.Sprint("svc-", i),
		}})
	}
	// Filed under a key no other Service has but its pod lacks a label.
	svcs = append(svcs, &service{order: 100, info: ServiceInfo{Namespace: "shop"}, selector: map[string]string{
		"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": "svc-7", "canary": "",
	}})
	ix := newServiceIndex(svcs)
	pod := map[string]string{"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": "svc-7", "pod-template-hash": "x"}
	var selected []int
	for _, s := range ix.candidates("shop", pod) {
		if s.selects("shop", pod) {
			selected = append(selected, s.order)
		}
	}
	if got := len(ix.candidates("shop", pod)); got > 2 {
		t.Errorf("%d candidates for one pod of 101 Services, want at most 2", got)
	}
	if fmt.Sprint(selected) != "[7]" {
		t.Errorf("selected %v, want [7]", selected)
	}
	pod["canary"] = ""
	selected = nil
	for _, s := range ix.candidates("shop", pod) {
		if s.selects("shop", pod) {
			selected = append(selected, s.order)
		}
	}
	if fmt.Sprint(selected) != "[7 100]" {
		t.Errorf("with canary: selected %v, want [7 100]", selected)
	}
	if got := ix.candidates("other", pod); len(got) != 0 {
		t.Errorf("another namespace: %d candidates", len(got))
	}
}

// TestServiceIndexElsewhere: across a missing namespace, a pod without one
// may meet the Services of any namespace, a pod with one those without.
func TestServiceIndexElsewhere(t *testing.T) {
	sel := map[string]string{"app": "web"}
	svcs := []*service{
		{order: 0, info: ServiceInfo{Name: "bare"}, selector: sel},
		{order: 1, info: ServiceInfo{Name: "shop", Namespace: "shop"}, selector: sel},
		{order: 2, info: ServiceInfo{Name: "store", Namespace: "store"}, selector: sel},
		{order: 3, info: ServiceInfo{Name: "other", Namespace: "store"}, selector: map[string]string{"app": "other"}},
	}
	ix := newServiceIndex(svcs)
	names := func(ss []*service) string {
		var out []string
		for _, s := range ss {
			out = append(out, s.info.Name)
		}
		return fmt.Sprint(out)
	}
	pod := map[string]string{"app": "web"}
	for _, c := range []struct{ ns, here, elsewhere string }{
		{"", "[bare]", "[shop store]"},
		{"shop", "[shop]", "[bare]"},
		{"default", "[]", "[bare]"},
	} {
		if got := names(ix.candidates(c.ns, pod)); got != c.here {
			t.Errorf("namespace %q: candidates %s, want %s", c.ns, got, c.here)
		}
		if got := names(ix.elsewhere(c.ns, pod)); got != c.elsewhere {
			t.Errorf("namespace %q: elsewhere %s, want %s", c.ns, got, c.elsewhere)
		}
	}
	var none *serviceIndex
	if none.candidates("", pod) != nil || none.elsewhere("", pod) != nil {
		t.Error("a nil index found Services")
	}
}

// TestMayHoldValue: a bystander is read when its bytes may spell a label
// value of an injected workload, however YAML spells it, and not when the
// value is only part of a longer word.
func TestMayHoldValue(t *testing.T) {
	values := map[string]bool{"web": true, "v1.2_x": true}
	for raw, want := range map[string]bool{
		"labels: {app: web}":                  true,
		"labels:\n  app: 'web'\n":             true,
		"labels: {app: \"web\"}":              true,
		"app: &a web\nx: *a":                  true,
		"app: |-\n  web\n":                    true,
		"version: v1.2_x # pinned":            true,
		"labels: {app: \"w\\x65b\"}":          true, // an escape
		"labels: {app: !!binary d2Vi}":        true,
		"%TAG !b! tag:yaml.org,2002:\n---\nx": true,
		"labels: {app: web-b, tier: webs}":    false,
		"labels: {app: v1.2_xy}":              false,
		"image: nginx:1.27":                   false,
	} {
		if got := mayHoldValue([]byte(raw), values); got != want {
			t.Errorf("%q: %v, want %v", raw, got, want)
		}
	}
}

func TestJoinRefs(t *testing.T) {
	refs := []string{"a", "b", "c", "d", "e", "f", "g"}
	if got := joinRefs(refs[:6]); got != "a, b, c, d, e, f" {
		t.Errorf("six: %q", got)
	}
	if got := joinRefs(refs); got != "a, b, c, d, e and 2 more" {
		t.Errorf("seven: %q", got)
	}
}

// TestMetaString: a workload's name and namespace are what kubectl
// decodes, not the text of a tagged scalar.
func TestMetaString(t *testing.T) {
	for doc, want := range map[string]string{
		"metadata: {namespace: prod}":              "prod",
		"metadata: {namespace: !!binary cHJvZA==}": "prod",
		"metadata: {namespace: \"pr\\x6fd\"}":      "prod",
		"metadata: {namespace: ~}":                 "",
		"metadata: {namespace: 42}":                "42",
		"metadata: {name: x}":                      "",
		"metadata: [namespace]":                    "",
		"metadata: {namespace: {a: b}}":            "",
		"metadata: {namespace: !!str '!!binary'}":  "!!binary",
	} {
		n, err := yaml.Parse(doc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if got := metaString(n, "namespace"); got != want {
			t.Errorf("%s: %q, want %q", doc, got, want)
		}
	}
}
