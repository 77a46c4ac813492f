package dashboard_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	sdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/patterns/dashboard"
	"github.com/sidecarize/sidecarize/transform"
)

// app has a port to proxy and an env var pointing at an upstream.
const app = `apiVersion: apps/v1
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
        env: [{name: DB_URL, value: "http://db:5432"}, {name: CACHE, value: "cache:6379"}]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: http}]
`

func run(t *testing.T, pats []string, set ...string) []byte {
	t.Helper()
	e := &transform.Engine{Patterns: patterns.All(), Version: "test", Flags: transform.Flags{Patterns: pats, Set: set}}
	out, _, err := e.Process("app.yaml", []byte(app))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var all = []string{"monitor", "ambassador", "exporter"}

var upstreams = []string{
	"ambassador.db.upstream=http://db:5432", "ambassador.db.env=DB_URL",
	"ambassador.cache.upstream=tcp://cache:6379", "ambassador.cache.env=CACHE",
	"exporter.type=redis", "exporter.port=8080",
}

// dashboards returns the stream's dashboard ConfigMaps, by name.
func dashboards(t *testing.T, out []byte) map[string]*yaml.RNode {
	t.Helper()
	found := map[string]*yaml.RNode{}
	for _, n := range golden.Objects(t, out) {
		if n.GetKind() == "ConfigMap" && n.GetLabels()[dashboard.LabelDashboard] != "" {
			found[n.GetName()] = n
		}
	}
	return found
}

// decode decodes a dashboard ConfigMap's one JSON file strictly into the
// SDK's typed model: every field of the JSON is a field Grafana's schema has.
func decode(t *testing.T, cm *yaml.RNode) sdk.Dashboard {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	data := cm.GetDataMap()
	if len(data) != 1 {
		t.Fatalf("ConfigMap %s: want one dashboard file, got %d", cm.GetName(), len(data))
	}
	var d sdk.Dashboard
	for k, v := range data {
		if !strings.HasSuffix(k, ".json") {
			t.Errorf("ConfigMap %s: key %q: the sidecar imports *.json", cm.GetName(), k)
		}
		if err := strict(&d, []byte(v)); err != nil {
			t.Fatalf("ConfigMap %s: %s does not decode strictly into the Grafana dashboard model: %v", cm.GetName(), k, err)
		}
	}
	return d
}

// strict decodes raw into d and fails on anything the typed model does not
// hold: the SDK's strict decoder must find no error (it returns its error
// list typed even when empty, and stops at some nested levels without
// decoding the rest), and the model, encoded again, must give back the same
// JSON: no field was dropped on the way in.
func strict(d *sdk.Dashboard, raw []byte) error {
	var s sdk.Dashboard
	err := s.UnmarshalJSONStrict(raw)
	var list cog.BuildErrors
	if !errors.As(err, &list) || len(list) > 0 {
		return err
	}
	if err := json.Unmarshal(raw, d); err != nil {
		return err
	}
	again, err := json.Marshal(d)
	if err != nil {
		return err
	}
	var in, out any
	if err := json.Unmarshal(raw, &in); err != nil {
		return err
	}
	if err := json.Unmarshal(again, &out); err != nil {
		return err
	}
	if diff := cmp.Diff(in, out); diff != "" {
		return fmt.Errorf("the typed model does not hold the JSON (-json +model):\n%s", diff)
	}
	return nil
}

// The strict decode fails on a field Grafana's model does not have, at
// the top and inside a panel.
func TestStrictDecodeFails(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	cm := dashboards(t, run(t, []string{"monitor"}))["api-monitor-dashboard"]
	if cm == nil {
		t.Fatal("no dashboard")
	}
	var raw string
	for _, v := range cm.GetDataMap() {
		raw = v
	}
	for _, bad := range []string{
		strings.Replace(raw, `"uid":`, `"uuid": "x", "uid":`, 1),
		strings.Replace(raw, `"legendFormat":`, `"legend": "x", "legendFormat":`, 1),
		strings.Replace(raw, `"unit":`, `"units": "s", "unit":`, 1),
	} {
		if bad == raw {
			t.Fatal("sabotage did not change the dashboard")
		}
		var d sdk.Dashboard
		if err := strict(&d, []byte(bad)); err == nil {
			t.Errorf("an unknown field decoded strictly: %.300s", bad[strings.Index(bad, "\"x\"")-200:])
		}
	}
}

// exprs are a dashboard's queries by panel title (rows have none).
func exprs(t *testing.T, d sdk.Dashboard) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range d.Panels {
		if p.RowPanel != nil {
			continue
		}
		if len(p.Panel.Targets) == 0 {
			t.Errorf("panel %q has no query", *p.Panel.Title)
		}
		for _, tg := range p.Panel.Targets {
			q, ok := tg.(*prometheus.Dataquery)
			if !ok {
				t.Fatalf("panel %q: query %T is not a Prometheus query", *p.Panel.Title, tg)
			}
			out[*p.Panel.Title] = append(out[*p.Panel.Title], q.Expr)
		}
	}
	return out
}

// One dashboard for the workload whatever number of patterns contribute,
// labelled and annotated for the Grafana sidecar, owned like every
// generated object, and decoding strictly into Grafana's model; each
// pattern's row selects the pod's series with the rules' metric names and
// proxy labels.
func TestOneDashboardPerWorkload(t *testing.T) {
	out := run(t, all, upstreams...)
	ds := dashboards(t, out)
	cm := ds["api-monitor-dashboard"]
	if len(ds) != 1 || cm == nil {
		t.Fatalf("want one dashboard ConfigMap api-monitor-dashboard, got %v", keys(ds))
	}
	if cm.GetLabels()[dashboard.LabelDashboard] != "1" || cm.GetAnnotations()[dashboard.AnnotationFolder] != dashboard.Folder {
		t.Errorf("labels %v, annotations %v: want grafana_dashboard: \"1\" and grafana_folder", cm.GetLabels(), cm.GetAnnotations())
	}
	if cm.GetLabels()[transform.LabelManagedBy] != transform.ManagedByValue || cm.GetAnnotations()[transform.AnnotationOwner] != "Deployment/api" {
		t.Errorf("labels %v, annotations %v: want the generated-object label and owner", cm.GetLabels(), cm.GetAnnotations())
	}
	d := decode(t, cm)
	if d.Uid == nil || len(*d.Uid) > 40 {
		t.Errorf("uid %v: want one of at most 40 characters", d.Uid)
	}
	var rows []string
	for _, p := range d.Panels {
		if p.RowPanel != nil {
			rows = append(rows, *p.RowPanel.Title)
		}
	}
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "monitor") || !strings.HasPrefix(rows[1], "ambassador") || !strings.HasPrefix(rows[2], "exporter") {
		t.Errorf("rows %q: want monitor, ambassador, exporter", rows)
	}
	var names []string
	for _, v := range d.Templating.List {
		names = append(names, v.Name)
	}
	if strings.Join(names, ",") != "datasource,namespace,workload" {
		t.Errorf("variables %v: want datasource, namespace, workload", names)
	}
	qs := exprs(t, d)
	for title, list := range qs {
		for _, q := range list {
			if !strings.Contains(q, `namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+"`) {
				t.Errorf("panel %q: %s does not select the workload's pods", title, q)
			}
		}
	}
	want := []string{
		`haproxy_frontend_http_requests_total{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+",proxy="app"}`,
		`haproxy_backend_http_responses_total{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+",proxy="be_app",code="5xx"}`,
		`haproxy_backend_response_time_average_seconds{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+",proxy="be_app"}`,
		`haproxy_frontend_current_sessions{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+",proxy="app"}`,
		// The ambassador: HTTP panels for db, connections for cache (tcp),
		// the circuit over both.
		`haproxy_frontend_http_requests_total{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+",proxy="db"}`,
		`haproxy_frontend_connections_total{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+",proxy="cache"}`,
		`sum by (proxy) (haproxy_backend_active_servers{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+",proxy=~"be_db|be_cache"})`,
		`haproxy_frontend_intercepted_requests_total{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+",proxy="db"}`,
		`min(redis_up{namespace="$namespace",pod=~"$workload-[a-z0-9]+-[a-z0-9]+"})`,
	}
	var joined []string
	for _, list := range qs {
		joined = append(joined, list...)
	}
	all := strings.Join(joined, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no query contains %s; queries:\n%s", w, all)
		}
	}
}

// dashboard: false leaves a pattern's row out; with every row out there is
// no dashboard. The annotation turns it off like the option.
func TestDashboardOff(t *testing.T) {
	if ds := dashboards(t, run(t, []string{"monitor"}, "monitor.dashboard=false")); len(ds) != 0 {
		t.Errorf("monitor.dashboard=false: got %v", keys(ds))
	}
	off := append([]string{"monitor.dashboard=false", "ambassador.dashboard=false"}, upstreams...)
	ds := dashboards(t, run(t, all, off...))
	cm := ds["api-exporter-dashboard"]
	if len(ds) != 1 || cm == nil {
		t.Fatalf("monitor and ambassador off: want api-exporter-dashboard, got %v", keys(ds))
	}
	d := decode(t, cm)
	if qs := exprs(t, d); len(qs) != 1 || qs["redis up"] == nil {
		t.Errorf("want only the exporter's panel, got %v", qs)
	}
	annotated := strings.Replace(app, "metadata: {name: api, namespace: shop}", `metadata: {name: api, namespace: shop, annotations: {sidecarize.dev/inject: monitor, sidecarize.dev/monitor.dashboard: "false"}}`, 1)
	e := &transform.Engine{Patterns: patterns.All(), Version: "test"}
	out, _, err := e.Process("app.yaml", []byte(annotated))
	if err != nil {
		t.Fatal(err)
	}
	if ds := dashboards(t, out); len(ds) != 0 || !strings.Contains(string(out), "monitor-proxy") {
		t.Errorf("annotation monitor.dashboard: \"false\": want monitor without a dashboard, got %v", keys(ds))
	}
}

// Each workload kind's pods are matched by the names its controller gives
// them, and not those of a workload whose name has one more part where the
// kind's suffix is fixed.
func TestPodSuffix(t *testing.T) {
	for _, c := range []struct{ kind, own, other string }{
		{"Deployment", "api-7d9c5b6f48-x2kqz", "api-v2-7d9c5b6f48-x2kqz"},
		{"Rollout", "api-7d9c5b6f48-x2kqz", "api-v2-7d9c5b6f48-x2kqz"},
		{"StatefulSet", "api-12", "api-v2-12"},
		{"DaemonSet", "api-x2kqz", "api-v2-x2kqz"},
		{"Job", "api-x2kqz", "api-v2-x2kqz"},
		{"CronJob", "api-29123456-x2kqz", "api-v2-29123456-x2kqz"},
		{"Pod", "api", "api-v2"},
	} {
		re := regexp.MustCompile("^(?:api" + dashboard.PodSuffix(c.kind) + ")$")
		if !re.MatchString(c.own) || re.MatchString(c.other) {
			t.Errorf("%s: %s matches %s: %v, %s: %v (want true, false)", c.kind, re, c.own, re.MatchString(c.own), c.other, re.MatchString(c.other))
		}
	}
}

// Every dashboard in the golden outputs and the demo's outputs decodes
// strictly into the model and selects the workload's pods in each query
// (the e2e module parses the queries with Prometheus' own parser and runs
// them against a real Prometheus).
func TestGoldenDashboards(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, "testdata", "*", "expected*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	demo, _ := filepath.Glob(filepath.Join(root, "demo", "productionise", "v*", "*.yaml"))
	n := 0
	for _, f := range append(files, demo...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, cm := range dashboards(t, b) {
			n++
			for title, list := range exprs(t, decode(t, cm)) {
				for _, q := range list {
					if !strings.Contains(q, `namespace="$namespace",pod=~"$workload`) {
						t.Errorf("%s: %s: panel %q: %s does not select the workload's pods", f, name, title, q)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no dashboard in the golden outputs")
	}
}

func keys(m map[string]*yaml.RNode) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
