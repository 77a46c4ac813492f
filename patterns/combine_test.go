package patterns_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// The app of the combination test: it listens on the first default port of
// every pattern that proxies (so each default has to move), and carries what
// the patterns that need input read (an env var for the ambassador).
const combineApp = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: example.com/api:1.0
        env: [{name: DB_URL, value: "http://db:5432"}]
        ports:
        - {name: http, containerPort: 8080}
        - {name: admin, containerPort: 9080}
        - {name: tls-https, containerPort: 8443}
        - {name: envoy, containerPort: 10000}
        - {name: stats, containerPort: 9102}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  selector: {app: api}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: metrics, port: 9101, targetPort: admin}
`

// required are the options a pattern cannot do without (what to export,
// which Secret, which upstream, which files): none is a port or a name.
var required = map[string][]string{
	"tls":        {"tls.secretName=api-tls"},
	"ambassador": {"ambassador.db.upstream=http://db:5432", "ambassador.db.env=DB_URL"},
	"exporter":   {"exporter.type=redis", "exporter.port=8080"},
	"logs":       {"logs.files=/var/log/api/app.log"},
}

// Every pair of patterns, and all six, inject with default options on one
// workload whose app already uses several defaults: no collision, every
// port and name unique and valid, idempotent, uninject restores the input,
// every haproxy.cfg passes haproxy -c.
func TestEveryCombinationWithDefaults(t *testing.T) {
	all := patterns.All()
	var combos [][]string
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			combos = append(combos, []string{all[i].Name(), all[j].Name()})
		}
	}
	var six []string
	for _, p := range all {
		six = append(six, p.Name())
	}
	combos = append(combos, six)
	for _, c := range combos {
		t.Run(strings.Join(c, "+"), func(t *testing.T) {
			var set []string
			for _, p := range c {
				set = append(set, required[p]...)
			}
			e := &transform.Engine{Patterns: all, Version: "test", Flags: transform.Flags{Patterns: c, Set: set}}
			out, rep, err := e.Process("app.yaml", []byte(combineApp))
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Workloads[0]; got.Action != transform.ActionInjected || len(got.Patterns) != len(c) {
				t.Fatalf("not every pattern applied: %+v", got)
			}
			golden.CheckPod(t, out)
			again, _, err := e.Process("out.yaml", out)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if d := cmp.Diff(string(out), string(again)); d != "" {
				t.Errorf("not idempotent (-first +second):\n%s", d)
			}
			un := &transform.Engine{Patterns: all, Version: "test", Uninject: true}
			restored, _, err := un.Process("out.yaml", out)
			if err != nil {
				t.Fatalf("uninject: %v", err)
			}
			if d := cmp.Diff(golden.Normalize(t, []byte(combineApp)), golden.Normalize(t, restored)); d != "" {
				t.Errorf("uninject does not restore the input (-input +uninjected):\n%s", d)
			}
			golden.CheckHAProxy(t, out)
		})
	}
}

// Labels given by a YAML alias (Helm and hand-written manifests share one
// label map): read as the labels they stand for, so the Service is found
// and retargeted.
func TestAliasedLabels(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels {app: web, tier: front}
spec:
  selector: {matchLabels: *labels}
  template:
    metadata:
      labels: *labels
    spec:
      containers:
      - {name: web, image: "nginx:1.27", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
`
	e := &transform.Engine{Patterns: patterns.All(), Version: "test", Flags: transform.Flags{Patterns: []string{"monitor"}, Set: []string{"monitor.scrape=podMonitor"}}}
	out, rep, err := e.Process("app.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Workloads[0].Action != transform.ActionInjected {
		t.Fatalf("not injected: %+v", rep.Workloads[0])
	}
	if !strings.Contains(string(out), "targetPort: mon-proxy") {
		t.Errorf("Service not retargeted:\n%s", out)
	}
	if !strings.Contains(string(out), "kind: PodMonitor") || !strings.Contains(string(out), "tier: front") {
		t.Errorf("no PodMonitor selecting the aliased labels:\n%s", out)
	}
}

// kubectlObjects reads a stream as kubectl does (sigs.k8s.io/yaml: aliases
// and merge keys resolved, YAML 1.1), one generic object per document.
func kubectlObjects(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range strings.Split("\n"+string(stream), "\n---\n") {
		var obj map[string]any
		if err := sigyaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("kubectl's reader: %v\n%s", err, doc)
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
	return out
}

// Merge keys (<<) read as kubectl reads them: the pod labels that only a
// merge key gives select the Service, edits do not reach the mappings the
// merge keys share, and — read by kubectl's own reader, independently of
// the golden's comparison — uninject gives back the objects of the input
// and a second run changes nothing (testdata/merge-keys).
func TestMergeKeys(t *testing.T) {
	in, err := os.ReadFile("../testdata/merge-keys/input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := &transform.Engine{Patterns: patterns.All(), Version: "test", Flags: transform.Flags{Patterns: []string{"monitor"}}}
	out, rep, err := e.Process("input.yaml", in)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Workloads) != 1 || rep.Workloads[0].Action != transform.ActionInjected {
		t.Fatalf("not injected: %+v", rep.Workloads)
	}
	var dep, svc map[string]any
	for _, o := range kubectlObjects(t, out) {
		switch o["kind"] {
		case "Deployment":
			dep = o
		case "Service":
			svc = o
		}
	}
	get := func(m map[string]any, path ...string) any {
		var v any = m
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v
	}
	labels := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
	if labels["app"] != "web" || labels["tier"] != "front" || labels["track"] != "stable" {
		t.Errorf("pod labels: %v", labels)
	}
	podAnns := get(dep, "spec", "template", "metadata", "annotations").(map[string]any)
	if podAnns["team"] != "shop" || podAnns["owner"] != "web-team" || podAnns["prometheus.io/port"] == nil {
		t.Errorf("pod annotations: %v", podAnns)
	}
	if _, ok := podAnns[transform.AnnotationStatus]; ok {
		t.Errorf("the workload's status reached the pod annotations: %v", podAnns)
	}
	anns := get(dep, "metadata", "annotations").(map[string]any)
	if _, ok := anns["prometheus.io/port"]; ok || anns["team"] != "shop" || anns["owner"] != nil {
		t.Errorf("the pod's annotations reached the workload's: %v", anns)
	}
	if sel := get(dep, "spec", "selector", "matchLabels").(map[string]any); len(sel) != 2 {
		t.Errorf("selector: %v", sel)
	}
	var names []string
	for _, c := range get(dep, "spec", "template", "spec", "containers").([]any) {
		c := c.(map[string]any)
		names = append(names, c["name"].(string))
		if c["image"] != "nginx:1.27" {
			t.Errorf("container %v: image %v", c["name"], c["image"])
		}
	}
	if fmt.Sprint(names) != "[web admin]" {
		t.Errorf("containers: %v", names)
	}
	if tp := get(svc, "spec", "ports").([]any)[0].(map[string]any)["targetPort"]; tp != "mon-proxy" {
		t.Errorf("Service not retargeted: targetPort %v", tp)
	}
	if sel := get(svc, "spec", "selector").(map[string]any); len(sel) != 2 {
		t.Errorf("Service selector: %v", sel)
	}

	again, _, err := e.Process("out.yaml", out)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("second run: %v\n%s", err, cmp.Diff(string(out), string(again)))
	}
	un := &transform.Engine{Patterns: patterns.All(), Version: "test", Uninject: true}
	restored, _, err := un.Process("out.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(kubectlObjects(t, in), kubectlObjects(t, restored)); d != "" {
		t.Errorf("uninject does not give back the input as kubectl reads it (-input +uninjected):\n%s", d)
	}
}

// A pod has one prometheus.io/port. Without the Prometheus Operator, two
// patterns with metrics (each scrape auto = annotations) scrape the first
// and warn about the second (it used to overwrite the first, silently);
// with the Operator's API both are scraped with ServiceMonitors.
func TestAnnotationScrapeOnePort(t *testing.T) {
	for _, ps := range [][]string{{"monitor", "tls"}, {"monitor", "exporter"}, {"monitor", "ambassador"}} {
		for _, operator := range []bool{false, true} {
			flags := transform.Flags{Patterns: ps}
			for _, p := range ps {
				flags.Set = append(flags.Set, required[p]...)
			}
			e := &transform.Engine{Patterns: patterns.All(), Version: "test", Flags: flags}
			if operator {
				e.Flags.APIVersions = []string{"monitoring.coreos.com/v1"}
			}
			out, rep, err := e.Process("app.yaml", []byte(combineApp))
			if err != nil {
				t.Fatalf("%v: %v", ps, err)
			}
			warned := strings.Contains(fmt.Sprint(rep.Workloads[0].Warnings), ps[1]+": metrics not scraped: the pod's prometheus.io/port already names monitor's metrics port")
			monitors := strings.Count(string(out), "kind: ServiceMonitor")
			port := ""
			for _, w := range kubectlObjects(t, out) {
				if w["kind"] == "Deployment" {
					anns, _ := w["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"].(map[string]any)
					port, _ = anns["prometheus.io/port"].(string)
				}
			}
			switch {
			case !operator && (!warned || port != "9101" || monitors != 0):
				t.Errorf("%v without the Operator: warned %v, prometheus.io/port %q (want monitor's 9101), %d ServiceMonitors", ps, warned, port, monitors)
			case operator && (warned || port != "" || monitors != 2):
				t.Errorf("%v with the Operator: warned %v, prometheus.io/port %q, %d ServiceMonitors (want 2)", ps, warned, port, monitors)
			}
		}
	}
}
