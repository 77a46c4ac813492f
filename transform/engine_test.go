package transform_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarize/sidecarize/transform"
)

const fakeInput = `# an app and its Service
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations:
    sidecarize.dev/inject: fake
    sidecarize.dev/fake.metricsPort: "9102"
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: example.com/api:1.0 # pinned
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: load, namespace: shop, annotations: {sidecarize.dev/inject: fake}}
spec:
  template:
    spec: {containers: [{name: load, image: "example.com/load:1.0"}], restartPolicy: Never}
`

// Inject, re-run, uninject: the engine's promises on the fake pattern.
func TestFakeInjectRerunUninject(t *testing.T) {
	out, rep, err := fakeEngine().Process("in.yaml", []byte(fakeInput))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"name: fake-proxy", "containerPort: 9080", "name: api-fake\n", // sidecar and ConfigMap
		"targetPort: fake-proxy", // a named targetPort stays named
		"name: fake-metrics", "port: 9102",
		"image: example.com/api:1.0 # pinned", "# an app and its Service",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	got := []string{}
	for _, w := range rep.Workloads {
		got = append(got, string(w.Action)+" "+string(w.Reason))
	}
	if d := cmp.Diff([]string{"injected ", "skipped no_ports"}, got); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	again, _, err := fakeEngine().Process("out.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(out), string(again)); d != "" {
		t.Errorf("second run changed the output (-first +second):\n%s", d)
	}
	un := fakeEngine()
	un.Uninject = true
	back, rep, err := un.Process("out.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fakeInput, string(back)); d != "" {
		t.Errorf("uninject is not exact (-in +back):\n%s", d)
	}
	if rep.Workloads[0].Action != transform.ActionUninjected || rep.Workloads[1].Reason != transform.ReasonNotInjected {
		t.Errorf("uninject report: %+v", rep.Workloads)
	}
}

// An error about a workload is a *WorkloadError naming the document, the
// workload and the field, and nothing is half-written.
func TestWorkloadErrorFromRun(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns, annotations: {sidecarize.dev/inject: fake}}\nspec: {hostNetwork: true, containers: [{name: a, image: \"a:1\", ports: [{containerPort: 80}]}]}\n"
	_, _, err := fakeEngine().Process("in.yaml", []byte(in))
	var we *transform.WorkloadError
	if !errors.As(err, &we) {
		t.Fatalf("got %T %v, want a *WorkloadError", err, err)
	}
	const want = "in.yaml[0]: Pod ns/p: spec.hostNetwork: hostNetwork pods share the node's ports; sidecarize does not inject them (host_network_enabled)"
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}
	if we.Where != "in.yaml[0]" || we.Workload != "Pod ns/p" || we.At != "spec.hostNetwork" {
		t.Errorf("fields: %+v", we)
	}

	// An option a pattern rejects names the pattern.
	in = strings.Replace(in, "hostNetwork: true", "hostNetwork: false", 1)
	in = strings.Replace(in, "inject: fake}", "inject: fake, sidecarize.dev/fake.mode: c}", 1)
	_, _, err = fakeEngine().Process("in.yaml", []byte(in))
	if !errors.As(err, &we) || we.At != "fake" || !strings.Contains(err.Error(), `mode: "c": must be a or b`) {
		t.Errorf("got %v", err)
	}
}

// A YAML float JSON cannot hold (.inf, .nan) is an error naming the field
// (kubectl fails on it too), in a pod spec and in a Service alike.
func TestNonFiniteFloatNamesItsField(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {sidecarize.dev/inject: fake}}\nspec:\n  containers:\n  - name: a\n    image: a:1\n    args: [x, +.inf]\n",
			"in.yaml[0]: Pod p: spec: containers[0].args[1]: +.inf is a YAML float that is infinite or not a number"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {app: a}, ports: [{port: 80}], externalIPs: [.NaN]}\n---\n" +
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: a}, annotations: {sidecarize.dev/inject: fake}}\nspec: {containers: [{name: a, image: a:1}]}\n",
			"in.yaml[0]: Service s: spec.externalIPs[0]: .NaN is a YAML float that is infinite or not a number"},
	} {
		_, _, err := fakeEngine().Process("in.yaml", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v\nwant %s", err, c.want)
		}
	}
}

// TestNullName: `name: null` is no name (FuzzStructure found it read as a
// name by one check and as none by the rest: the Job was injected with a
// ConfigMap "-fake…" and a second run added another). Selected broadly, a
// nameless workload is skipped with no_name; the stream is written as it
// was.
func TestNullName(t *testing.T) {
	in := []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: null
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: migrate, image: "busybox:1.37", ports: [{containerPort: 8080}]}
`)
	e := &transform.Engine{Patterns: []transform.Pattern{fakePattern{}}, Version: "test", Flags: transform.Flags{Patterns: []string{"fake"}}}
	out, rep, err := e.Process("in.yaml", in)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(in) {
		t.Errorf("output changed:\n%s", out)
	}
	if len(rep.Workloads) != 1 || rep.Workloads[0].Reason != transform.ReasonNoName {
		t.Errorf("report: %+v", rep.Workloads)
	}
}

// A name or namespace Kubernetes refuses is written nowhere: selected by a
// broad run, the workload is skipped with invalid_name (the stream is
// written as it was), and the report shows the name quoted, so a newline
// in it starts no line of its own; named (its own sidecarize.dev/inject),
// it is an error that names the document, the object and the field.
func TestInvalidName(t *testing.T) {
	const tmpl = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: %s
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27", ports: [{containerPort: 8080}]}
`
	for _, c := range []struct{ name, ns, field string }{
		{`"web\nglobal\n  daemon"`, "shop", "metadata.name"},
		{"web", `"shop\nx"`, "metadata.namespace"},
		{"Web", "shop", "metadata.name"},
		{`"a b"`, "shop", "metadata.name"},
		{"web", "shop.floor", "metadata.namespace"},
	} {
		in := []byte(fmt.Sprintf(tmpl, c.name, c.ns))
		e := &transform.Engine{Patterns: []transform.Pattern{fakePattern{}}, Version: "test", Flags: transform.Flags{Patterns: []string{"fake"}}}
		out, rep, err := e.Process("in.yaml", in)
		if err != nil {
			t.Fatalf("%s/%s: %v", c.ns, c.name, err)
		}
		if string(out) != string(in) {
			t.Errorf("%s/%s: output changed:\n%s", c.ns, c.name, out)
		}
		if len(rep.Workloads) != 1 || rep.Workloads[0].Reason != transform.ReasonInvalidName || !strings.Contains(strings.Join(rep.Workloads[0].Warnings, "\n"), c.field+": ") {
			t.Errorf("%s/%s: report: %+v", c.ns, c.name, rep.Workloads)
		}
		var text strings.Builder
		rep.WriteText(&text)
		for _, line := range strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n") {
			if !strings.HasPrefix(line, "sidecarize: in.yaml[0]: Deployment ") {
				t.Errorf("%s/%s: report line %q", c.ns, c.name, line)
			}
		}

		annotated := bytes.Replace(in, []byte("spec:\n  selector"), []byte("  annotations: {sidecarize.dev/inject: fake}\nspec:\n  selector"), 1)
		out, _, err = fakeEngine().Process("in.yaml", annotated)
		var we *transform.WorkloadError
		if !errors.As(err, &we) || !strings.HasPrefix(err.Error(), "in.yaml[0]: Deployment ") || !strings.Contains(err.Error(), ": "+c.field+": ") || strings.Count(err.Error(), "\n") > 0 || out != nil {
			t.Errorf("%s/%s: annotated: %v", c.ns, c.name, err)
		}
	}
}

// TestReportNamesListItems: a workload inside a List (or a typed List in
// a List) is named by its item, in the text report and the JSON one, as
// errors and warnings name it.
func TestReportNamesListItems(t *testing.T) {
	in := []byte(`apiVersion: v1
kind: Service
metadata: {name: other}
spec: {selector: {app: other}, ports: [{port: 80}]}
---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: a}
  spec:
    selector: {matchLabels: {app: a}}
    template:
      metadata: {labels: {app: a}}
      spec: {containers: [{name: a, image: "nginx:1.27", ports: [{containerPort: 8080}]}]}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: b}
  spec:
    selector: {matchLabels: {app: b}}
    template:
      metadata: {labels: {app: b}}
      spec: {containers: [{name: b, image: "nginx:1.27", ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: DeploymentList
  items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: c}
    spec:
      selector: {matchLabels: {app: c}}
      template:
        metadata: {labels: {app: c}}
        spec: {containers: [{name: c, image: "nginx:1.27", ports: [{containerPort: 8080}]}]}
`)
	_, rep, err := fakeEngine().Process("in.yaml", in)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	for _, want := range []string{"sidecarize: in.yaml[1].items[0]: Deployment a: ", "sidecarize: in.yaml[1].items[1]: Deployment b: ", "sidecarize: in.yaml[2].items[0].items[0]: Deployment c: "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if len(rep.Workloads) != 3 || rep.Workloads[1].Where != "in.yaml[1].items[1]" || rep.Workloads[1].Index != 1 {
		t.Errorf("report: %+v", rep.Workloads)
	}
}

// TestUnreadableBystander: in a run without rules, a workload nobody asked
// for that cannot be read is not the run's error, but the warning names
// it: a Service over its pods may have been retargeted without it.
func TestUnreadableBystander(t *testing.T) {
	in := []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-a
  annotations: {sidecarize.dev/inject: fake}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-b}
spec:
  selector: {matchLabels: {app: web}}
  template: [app, web]
`)
	_, rep, err := fakeEngine().Process("in.yaml", in)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range rep.Warnings {
		found = found || w.Where == "in.yaml[1]" && strings.HasPrefix(w.Message, "could not be read") && strings.HasSuffix(w.Message, ": Deployment web-b: spec.template: expected a mapping, got a list (line 17)")
	}
	if !found {
		t.Errorf("no warning names web-b: %+v", rep.Warnings)
	}
}
