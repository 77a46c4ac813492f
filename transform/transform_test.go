package transform_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarize/sidecarize/transform"
)

func TestSplitStream(t *testing.T) {
	tests := map[string]struct {
		input string
		raws  []string
		kinds []string
	}{
		"one":              {input: "kind: A\n", raws: []string{"kind: A\n"}, kinds: []string{"A"}},
		"leading sep":      {input: "---\nkind: A\n---\nkind: B\n", raws: []string{"kind: A\n", "kind: B\n"}, kinds: []string{"A", "B"}},
		"header comment":   {input: "# hi\nkind: A # c\n---\n# x\nkind: \"B\"\n", raws: []string{"# hi\nkind: A # c\n", "# x\nkind: \"B\"\n"}, kinds: []string{"A", "B"}},
		"sep with comment": {input: "kind: A\n--- # two\nkind: B", raws: []string{"kind: A\n", "kind: B"}, kinds: []string{"A", "B"}},
		"indented dashes":  {input: "kind: A\ndata:\n  x: |\n    ---\n", raws: []string{"kind: A\ndata:\n  x: |\n    ---\n"}, kinds: []string{"A"}},
		"json":             {input: "{\"kind\": \"A\"}\n", raws: []string{"{\"kind\": \"A\"}\n"}, kinds: []string{"A"}},
		// A stream may open with a flow mapping: it is still a stream of
		// documents, not one JSON document hiding the rest (FuzzStructure).
		"flow then docs": {input: "{app: a}\n---\nkind: B\n", raws: []string{"{app: a}\n", "kind: B\n"}, kinds: []string{"", "B"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			docs := transform.SplitStream("f", []byte(tc.input))
			var raws, kinds []string
			for _, d := range docs {
				raws = append(raws, string(d.Raw))
				kinds = append(kinds, d.Kind())
			}
			if d := cmp.Diff(tc.raws, raws); d != "" {
				t.Errorf("raw (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.kinds, kinds); d != "" {
				t.Errorf("kinds (-want +got):\n%s", d)
			}
			out, err := transform.Join(docs)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.input {
				t.Errorf("round trip changed the bytes:\n%q\n%q", tc.input, out)
			}
		})
	}
}

func TestGeneratedName(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := map[string]struct {
		parts []string
		want  string
	}{
		"short":     {[]string{"api", "monitor"}, "api-monitor"},
		"lowercase": {[]string{"API", "monitor"}, "api-monitor"},
		"truncated": {[]string{long, "monitor"}, long[:54] + "-" + "0f4b9d34"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := transform.GeneratedName(tc.parts...)
			if len(got) > 63 {
				t.Fatalf("%q is longer than 63", got)
			}
			if name == "truncated" {
				if !strings.HasPrefix(got, long[:54]+"-") || len(got) != 63 {
					t.Fatalf("got %q", got)
				}
				if again := transform.GeneratedName(tc.parts...); again != got {
					t.Fatalf("not deterministic: %q %q", got, again)
				}
				if other := transform.GeneratedName(long, "logs"); other == got {
					t.Fatalf("different names truncate to the same %q", got)
				}
				return
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSetOption(t *testing.T) {
	tests := map[string]struct {
		path, value string
		check       func(o *fakeOptions) bool
		err         string
	}{
		"string":                  {path: "port", value: "grpc", check: func(o *fakeOptions) bool { return o.Port == "grpc" }},
		"int":                     {path: "proxyPort", value: "15000", check: func(o *fakeOptions) bool { return o.ProxyPort == 15000 }},
		"bool":                    {path: "verbose", value: "true", check: func(o *fakeOptions) bool { return o.Verbose }},
		"float":                   {path: "ratio", value: "0.1", check: func(o *fakeOptions) bool { return o.Ratio == 0.1 }},
		"string list":             {path: "tags", value: "a,b", check: func(o *fakeOptions) bool { return len(o.Tags) == 2 && o.Tags[1] == "b" }},
		"embedded":                {path: "mode", value: "b", check: func(o *fakeOptions) bool { return o.Mode == "b" }},
		"yaml object":             {path: "resources", value: "{limits: {cpu: 1}}", check: func(o *fakeOptions) bool { return o.Resources != nil && o.Resources.Limits.Cpu().String() == "1" }},
		"bad int":                 {path: "proxyPort", value: "x", err: `proxyPort: "x": expected a whole number`},
		"unknown":                 {path: "nope", value: "1", err: "nope: unknown option"},
		"case matters":            {path: "proxyport", value: "1", err: "proxyport: unknown option"},
		"leaf has no sub-options": {path: "port.x", value: "1", err: "has no sub-options"},
		"unknown nested field":    {path: "resources", value: "{limitz: {}}", err: `unknown field "limitz"`},
		// A map whose keys are a named string type (corev1.ResourceList):
		// --set monitor.resources.limits.cpu=2 panicked in reflect.
		"map of a named key type": {path: "resources.limits.cpu", value: "2", check: func(o *fakeOptions) bool { return o.Resources != nil && o.Resources.Limits.Cpu().String() == "2" }},
		"map entry, bad quantity": {path: "resources.requests.memory", value: "lots", err: "resources.requests.memory"},
		"below a map entry":       {path: "resources.limits.cpu.x", value: "2", err: "has no sub-options"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := defaultFakeOptions()
			err := transform.SetOption(o, tc.path, tc.value)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Errorf("option not set: %+v", o)
			}
		})
	}
}

func TestSelector(t *testing.T) {
	sel := transform.Selector{Kinds: []string{"deployment"}, Namespaces: []string{"shop"}, MatchLabels: map[string]string{"tier": "web"}}
	if !sel.Matches("Deployment", "a", "shop", map[string]string{"tier": "web"}) {
		t.Error("should match (kinds are case-insensitive)")
	}
	if sel.Matches("Deployment", "a", "other", map[string]string{"tier": "web"}) {
		t.Error("namespace must match")
	}
	if sel.Matches("Deployment", "a", "shop", map[string]string{"tier": "db"}) {
		t.Error("labels must match")
	}
	if !(transform.Selector{}).Matches("Job", "x", "", nil) {
		t.Error("empty selector matches everything")
	}
}

func TestKubeVersion(t *testing.T) {
	for in, want := range map[string]bool{"1.29": true, "v1.33.2": true, "1.28": false, "2.0": true} {
		v, err := transform.ParseKubeVersion(in)
		if err != nil {
			t.Fatal(err)
		}
		if v.AtLeast(1, 29) != want {
			t.Errorf("%s >= 1.29: got %v", in, !want)
		}
	}
	for _, bad := range []string{"", "1", "x.y", "0.1"} {
		if _, err := transform.ParseKubeVersion(bad); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}

// A Service that selects injected pods and pods that are not injected is
// reported; Services in other namespaces are not touched.
func TestServiceMatching(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: a, annotations: {sidecarize.dev/inject: fake}}
spec:
  selector: {matchLabels: {app: x, v: "1"}}
  template:
    metadata: {labels: {app: x, v: "1"}}
    spec: {containers: [{name: a, image: "nginx:1.27", ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b, annotations: {sidecarize.dev/inject: disabled}}
spec:
  selector: {matchLabels: {app: x, v: "2"}}
  template:
    metadata: {labels: {app: x, v: "2"}}
    spec: {containers: [{name: b, image: "nginx:1.27", ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: both}
spec: {selector: {app: x}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: elsewhere, namespace: other}
spec: {selector: {app: x}, ports: [{name: http, port: 80, targetPort: 8080}]}
`
	e := fakeEngine()
	out, rep, err := e.Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	// "both" also selects b's pods, which have no proxy port: retargeting
	// it would break them, so it is left as it was (and reported).
	if strings.Contains(string(out), "targetPort: 9080") || !strings.Contains(string(out), "metadata: {name: both}\nspec: {selector: {app: x}, ports: [{name: http, port: 80, targetPort: 8080}]}\n") {
		t.Errorf("Service both changed:\n%s", out)
	}
	if !strings.HasSuffix(string(out), "metadata: {name: elsewhere, namespace: other}\nspec: {selector: {app: x}, ports: [{name: http, port: 80, targetPort: 8080}]}\n") {
		t.Errorf("Service in another namespace changed:\n%s", out)
	}
	var found bool
	for _, w := range rep.Warnings {
		if strings.Contains(w.Message, "Deployment b, which lack the proxy port") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning about the pods of b: %+v", rep.Warnings)
	}
	if rep.Workloads[1].Reason != "opted_out" {
		t.Errorf("b: got %+v", rep.Workloads[1])
	}
}

// editPattern rewrites an env var and an argument, as the ambassador does.
type editPattern struct{}

func (editPattern) Name() string                  { return "edit" }
func (editPattern) ConfigKey() string             { return "edit" }
func (editPattern) Summary() string               { return "test" }
func (editPattern) NewOptions() transform.Options { return &editOptions{} }
func (editPattern) Inject(w *transform.Workload, _ transform.Options) error {
	if err := w.SetEnv("app", "API_URL", "http://127.0.0.1:9001"); err != nil {
		return err
	}
	return w.SetArg("app", 0, "--api=127.0.0.1:9001")
}

type editOptions struct{}

func (*editOptions) Validate() error { return nil }

// Edits to the app's own containers keep comments and quoting, and uninject
// gives back the exact input.
func TestEditsKeepCommentsAndStyle(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    z-first: "1"
    sidecarize.dev/inject: edit
    a-last: "2"
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.27
        args: ["--api=api:80", "--v=2"]
        env:
        - name: API_URL
          value: "http://api" # the API
`
	pats := []transform.Pattern{editPattern{}}
	out, _, err := (&transform.Engine{Patterns: pats, Version: "test"}).Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`value: "http://127.0.0.1:9001" # the API`, `args: ["--api=127.0.0.1:9001", "--v=2"]`, "z-first: \"1\"\n    sidecarize.dev/inject: edit\n    a-last: \"2\"\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	back, _, err := (&transform.Engine{Patterns: pats, Uninject: true, Version: "test"}).Process("out.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, string(back)); d != "" {
		t.Errorf("uninject is not exact (-in +back):\n%s", d)
	}
}

// The bookkeeping annotations KRM hosts add do not count as the user's: the
// CLI and kustomize/kpt record the same status.
func TestHostAnnotationsAreNotTheUsers(t *testing.T) {
	svc := "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n%s\nspec: {selector: {app: a}, ports: [{name: http, port: 80}]}\n"
	dep := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, annotations: {sidecarize.dev/inject: fake}}\nspec:\n  template:\n    metadata: {labels: {app: a}}\n    spec: {containers: [{name: a, image: \"nginx:1.27\", ports: [{name: http, containerPort: 80}]}]}\n---\n"
	var statuses []string
	for _, ann := range []string{"", "  annotations:\n    config.kubernetes.io/index: '1'\n    kustomize.config.k8s.io/id: |\n      kind: Service\n"} {
		in := dep + fmt.Sprintf(svc, ann)
		out, _, err := fakeEngine().Process("in.yaml", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		i := strings.LastIndex(string(out), "sidecarize.dev/status: ")
		statuses = append(statuses, strings.SplitN(string(out)[i:], "\n", 2)[0])
	}
	if statuses[0] != statuses[1] {
		t.Errorf("status differs:\n%s\n%s", statuses[0], statuses[1])
	}
}

// Clients of a headless Service dial pod IPs: retargeting it is reported.
func TestHeadlessServiceIsReported(t *testing.T) {
	in := `apiVersion: v1
kind: Service
metadata: {name: db, labels: {app: db}}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, annotations: {sidecarize.dev/inject: fake}}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: postgres, image: "postgres:17.2", ports: [{name: pg, containerPort: 5432}]}]}
`
	_, rep, err := fakeEngine().Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rep.Warnings {
		if w.Object == "Service db" && strings.Contains(w.Message, "headless") && w.Field == "spec.clusterIP" {
			return
		}
	}
	t.Errorf("no warning about the headless Service: %+v", rep.Warnings)
}
