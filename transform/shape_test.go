package transform_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/transform"
)

// deployment is a workload with a Service; meta and tmplMeta are the flow
// YAML of the object's and the pod template's metadata.
func deployment(meta, tmplMeta string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: %s
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: %s
    spec:
      containers:
      - {name: app, image: nginx, ports: [{containerPort: 8080}]}
`, meta, tmplMeta)
}

const service = `apiVersion: v1
kind: Service
metadata: %s
spec: {selector: {app: a}, ports: [{port: 80, targetPort: 8080}]}
`

// TestWrongShapes: a sequence where a mapping belongs, in the metadata,
// labels or annotations of a workload, its pod template or a Service, or a
// List item that is not an object, is an error naming the document, the
// object, the field path and the line — with -p, a config rule and
// uninject. (kyaml's getters panicked on each.)
func TestWrongShapes(t *testing.T) {
	ok := "{name: a, labels: {app: a}}"
	okT := "{labels: {app: a}}"
	cases := map[string]struct{ in, want string }{
		"metadata":               {deployment("[x]", okT), "f.yaml[0]: Deployment: metadata: expected a mapping, got a list (line 3)"},
		"labels":                 {deployment("{name: a, labels: [x]}", okT), "f.yaml[0]: Deployment a: metadata.labels: expected a mapping, got a list (line 3)"},
		"annotations":            {deployment("{name: a, annotations: [x]}", okT), "f.yaml[0]: Deployment a: metadata.annotations: expected a mapping, got a list (line 3)"},
		"name":                   {deployment("{name: [a]}", okT), "f.yaml[0]: Deployment: metadata.name: expected a string, got a list (line 3)"},
		"label value":            {deployment("{name: a, labels: {app: [a]}}", okT), "f.yaml[0]: Deployment a: metadata.labels.app: expected a string, got a list (line 3)"},
		"template":               {strings.Replace(deployment(ok, okT), "  template:\n    metadata: {labels: {app: a}}\n    spec:\n      containers:\n      - {name: app, image: nginx, ports: [{containerPort: 8080}]}\n", "  template: [x]\n", 1), "f.yaml[0]: Deployment a: spec.template: expected a mapping, got a list (line 6)"},
		"template metadata":      {deployment(ok, "[x]"), "f.yaml[0]: Deployment a: spec.template.metadata: expected a mapping, got a list (line 7)"},
		"template labels":        {deployment(ok, "{labels: [x]}"), "f.yaml[0]: Deployment a: spec.template.metadata.labels: expected a mapping, got a list (line 7)"},
		"template annotations":   {deployment(ok, "{labels: {app: a}, annotations: [x]}"), "f.yaml[0]: Deployment a: spec.template.metadata.annotations: expected a mapping, got a list (line 7)"},
		"service metadata":       {deployment(ok, okT) + "---\n" + fmt.Sprintf(service, "[x]"), "f.yaml[1]: Service: metadata: expected a mapping, got a list (line 14)"},
		"service labels":         {deployment(ok, okT) + "---\n" + fmt.Sprintf(service, "{name: s, labels: [x]}"), "f.yaml[1]: Service s: metadata.labels: expected a mapping, got a list (line 14)"},
		"service annotations":    {deployment(ok, okT) + "---\n" + fmt.Sprintf(service, "{name: s, annotations: [x]}"), "f.yaml[1]: Service s: metadata.annotations: expected a mapping, got a list (line 14)"},
		"list item sequence":     {"apiVersion: v1\nkind: List\nitems:\n- [a]\n", "f.yaml[0]: List: items[0]: expected an object (a mapping), got a list (line 4)"},
		"list items scalar":      {"apiVersion: v1\nkind: List\nitems: 5\n", "f.yaml[0]: List: items: expected a sequence of objects, got a scalar (line 3)"},
		"list item metadata":     {"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: [x]}\n", "f.yaml[0].items[0]: Pod: metadata: expected a mapping, got a list (line 4)"},
		"item kind a mapping":    {"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: {a: b}}\n", "f.yaml[0].items[0]: kind: expected a string, got a mapping (line 4)"},
		"workload no apiVersion": {strings.TrimPrefix(deployment(ok, okT), "apiVersion: apps/v1\n"), "f.yaml[0]: Deployment a: apiVersion: required (kind Deployment without an apiVersion is not a Kubernetes object) (line 1)"},
		"duplicate name":         {deployment("{name: a, name: b}", okT), `f.yaml[0]: Deployment a: metadata: duplicate key "name" (lines 3 and 3)`},
		"duplicate spec":         {strings.Replace(deployment(ok, okT), "    spec:\n", "    spec: {}\n    spec:\n", 1), `f.yaml[0]: Deployment a: spec.template: duplicate key "spec" (lines 8 and 9)`},
		"duplicate deep":         {strings.Replace(deployment(ok, okT), "containerPort: 8080}", "containerPort: 8080, containerPort: 9090}", 1), `f.yaml[0]: Deployment a: spec.template.spec.containers[0].ports[0]: duplicate key "containerPort" (lines 10 and 10)`},
		"duplicate in a Service": {deployment(ok, okT) + "---\n" + strings.Replace(fmt.Sprintf(service, "{name: s}"), "spec:", "spec: {}\nspec:", 1), `f.yaml[1]: Service s: (top level): duplicate key "spec" (lines 15 and 16)`},
		"duplicate in an unread": {deployment(ok, okT) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: x, a: y}\n", `f.yaml[1]: ConfigMap c: data: duplicate key "a" (lines 15 and 15)`},
		"merge key after field":  {deployment(ok, "{labels: {app: b, <<: {app: a}}}"), `f.yaml[0]: Deployment a: spec.template.metadata.labels.app: set before the merge key on line 7, which merges it too: kubectl would apply the merged value, other YAML readers this one; write the merge key first (line 7)`},
		"merge key of a list":    {deployment(ok, "{labels: {<<: [a]}}"), `f.yaml[0]: Deployment a: spec.template.metadata.labels.<<: a merge key takes a mapping or a list of mappings, got a scalar (line 7)`},
	}
	engines := map[string]func() *transform.Engine{
		"-p": func() *transform.Engine {
			e := fakeEngine()
			e.Flags.Patterns = []string{"fake"}
			return e
		},
		"config": func() *transform.Engine {
			e := fakeEngine()
			cfg, err := transform.LoadConfig("c.yaml", []byte("apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarize\nspec: {rules: [{fake: {}}]}\n"), e.Patterns)
			if err != nil {
				t.Fatal(err)
			}
			e.Config = cfg
			return e
		},
		"uninject": func() *transform.Engine {
			e := fakeEngine()
			e.Uninject = true
			return e
		},
	}
	for name, tc := range cases {
		for mode, engine := range engines {
			t.Run(name+"/"+mode, func(t *testing.T) {
				out, _, err := engine().Process("f.yaml", []byte(tc.in))
				if err == nil {
					t.Fatalf("no error; output:\n%s", out)
				}
				if got := err.Error(); !strings.HasPrefix(got, tc.want) {
					t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
				}
			})
		}
	}
}

// TestAliasesExpanded: an alias shared by the object's labels and the pod
// template's is expanded, so the injection's annotations do not appear in
// the object's labels (an edit through one path would change the other).
func TestAliasesExpanded(t *testing.T) {
	in := deployment("{name: a, labels: &l {app: a}}", "{labels: *l}")
	e := fakeEngine()
	e.Flags.Patterns = []string{"fake"}
	out, _, err := e.Process("f.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "*l") || strings.Contains(string(out), "&l") {
		t.Errorf("alias left in a changed document:\n%s", out)
	}
	un := fakeEngine()
	un.Uninject = true
	back, _, err := un.Process("f.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(back), "metadata: {name: a, labels: {app: a}}") {
		t.Errorf("uninject:\n%s", back)
	}
}

// TestAliasBomb: aliases that expand to millions of nodes are refused.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nx0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("spec: {template: {spec: {containers: []}}}\n")
	e := fakeEngine()
	e.Flags.Patterns = []string{"fake"}
	_, _, err := e.Process("f.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("err = %v", err)
	}
}

// TestAnnotationValueTypes: a label or annotation value that kubectl's YAML
// reader (sigs.k8s.io/yaml, YAML 1.1) does not read as a string is an error
// naming the annotation — exactly the values kubectl refuses, checked
// against kubectl's own decoding into ObjectMeta.
func TestAnnotationValueTypes(t *testing.T) {
	values := []string{`9000`, `"9000"`, `'9000'`, `!!str 9000`, `1e23`, `0x1F`, `1.5`, `.inf`, `true`, `"true"`, `on`, `On`, `yes`, `y`, `n`, `off`, `NO`, `!!str on`, `null`, `~`, `""`, `plain text`, `2024-01-01`, `onward`, `|-
      9000`}
	for _, v := range values {
		meta := "name: a\n  annotations:\n    example.com/note: " + v
		doc := strings.Replace(deployment("{}", "{labels: {app: a}}"), "metadata: {}", "metadata:\n  "+meta, 1)
		var obj struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		js, err := sigyaml.YAMLToJSON([]byte(doc)) // .inf is not JSON
		kubectlRefuses := err != nil || json.Unmarshal(js, &obj) != nil
		e := &transform.Engine{Patterns: []transform.Pattern{fakePattern{}}, Version: "test", Flags: transform.Flags{Patterns: []string{"fake"}}}
		_, _, err = e.Process("f.yaml", []byte(doc))
		refused := err != nil && strings.Contains(err.Error(), `metadata.annotations["example.com/note"]: expected a string`)
		if refused != kubectlRefuses {
			t.Errorf("value %s: kubectl refuses it: %v; sidecarize refuses it: %v (%v)", v, kubectlRefuses, refused, err)
		}
	}
}
