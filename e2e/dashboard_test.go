package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
	"github.com/sidecarize/sidecarize/e2e/promsim"
)

// Grafana's defaults for the interval variables when the dashboards are
// only parsed: a data source scraping every 15s, a 1h range, a 15s step.
var parseVars = func(d promsim.Dashboard) map[string]string {
	return promsim.GrafanaVars(d.Namespace, d.Workload, 15*time.Second, 15*time.Second, time.Hour)
}

// TestDashboardQueriesParse: every query of every generated dashboard in
// the checkout (golden and demo outputs), its variables substituted as
// Grafana does, parses with Prometheus' own PromQL parser, and so does
// the selector of each label_values variable. The checker fails on a query
// that does not parse and on a variable Grafana would not know.
func TestDashboardQueriesParse(t *testing.T) {
	files, err := outputFiles()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		_, objs := expGolden(t, f)
		ds, err := promsim.Dashboards(objs)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range ds {
			n++
			if len(d.Queries) == 0 || len(d.Variables) != 2 {
				t.Errorf("%s: %s: %d queries, %d query variables: want queries and the namespace and workload variables", f, d.Source, len(d.Queries), len(d.Variables))
			}
			for _, err := range parseDashboard(d, parseVars(d)) {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no dashboard in the generated outputs")
	}
	t.Logf("%d dashboards parsed", n)

	bad := promsim.Dashboard{Source: "sabotage", Namespace: "shop", Workload: "api", Variables: []promsim.Variable{
		{Name: "namespace", Query: "label_values(up{, namespace)"},
	}, Queries: []promsim.PanelQuery{
		{Panel: "unbalanced", Expr: `sum(rate(x{namespace="$namespace"}[$__rate_interval])`},
		{Panel: "unknown variable", Expr: `x{namespace="$namespace",pod=~"$pod"}`},
		{Panel: "range where an instant vector goes", Expr: `sum(x[5m])`},
	}}
	errs := parseDashboard(bad, parseVars(bad))
	if len(errs) != 4 {
		t.Fatalf("sabotage: want 4 errors (a variable, three queries), got %v", errs)
	}
	t.Logf("sabotage caught: %v", errs)
}

// parseDashboard parses every query and variable of d with vars.
func parseDashboard(d promsim.Dashboard, vars map[string]string) []error {
	var errs []error
	for _, q := range d.Queries {
		if _, _, err := promsim.Parse(q.Expr, vars); err != nil {
			errs = append(errs, fmt.Errorf("%s: panel %q: %w", d.Source, q.Panel, err))
		}
	}
	for _, v := range d.Variables {
		if _, _, err := promsim.ParseVariable(v, vars); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Source, err))
		}
	}
	return errs
}

// Variables are substituted as Grafana does: each syntax, the built-in
// intervals ($__rate_interval = max($__interval + scrape interval, 4 ×
// scrape interval)), unknown ones left alone and reported.
func TestDashboardSubstitute(t *testing.T) {
	vars := promsim.GrafanaVars("shop", "api", 15*time.Second, 30*time.Second, time.Hour)
	for _, c := range []struct{ in, want string }{
		{`rate(x{namespace="$namespace",pod=~"$workload-[a-z0-9]+"}[$__rate_interval])`, `rate(x{namespace="shop",pod=~"api-[a-z0-9]+"}[1m])`},
		{`x{pod="${workload}-0"}`, `x{pod="api-0"}`},
		{`x{pod="${workload:raw}"}`, `x{pod="api"}`},
		{`x{pod="[[workload]]"}`, `x{pod="api"}`},
		{`rate(x[$__interval]) offset $__range`, `rate(x[30s]) offset 1h`},
		{`x * $__interval_ms + $__range_s + $__range_ms`, `x * 30000 + 3600 + 3600000`},
		{`x{pod=~"^$workload$"}`, `x{pod=~"^api$"}`}, // a regex's $ anchor is no variable
		{`x{pod="$pod"}`, `x{pod="$pod"}`},
	} {
		if got := promsim.Substitute(c.in, vars); got != c.want {
			t.Errorf("Substitute(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := promsim.GrafanaVars("a", "b", time.Second, time.Second, time.Hour)["__rate_interval"]; got != "4s" {
		t.Errorf("scrape 1s, step 1s: $__rate_interval = %s, want 4s (4 × the scrape interval)", got)
	}
	if got := promsim.GrafanaVars("a", "b", 15*time.Second, 90*time.Second, time.Hour)["__rate_interval"]; got != "105s" {
		t.Errorf("scrape 15s, step 90s: $__rate_interval = %s, want 105s (step + scrape interval)", got)
	}
	if got := promsim.Unresolved(promsim.Substitute(`x{a="$pod",b="${node}",c="[[zone]]",d="$namespace"}`, vars)); !slices.Equal(got, []string{"$pod", "${node}", "[[zone]]"}) {
		t.Errorf("Unresolved: %v, want $pod ${node} [[zone]]", got)
	}
}

// checkDashboards waits (up to within) until every dashboard of objs works
// on p as Grafana would show it with its namespace and workload variables
// set to the workload's (intervals: the targets' scrape interval, a step
// of that): each query parses and returns at least one series, and so does
// each vector selector in it on its own (a wrong metric name or label
// fails even inside an `or`); the namespace variable lists the namespace
// and the workload variable, through its regex, the workload. objs with no
// dashboard is an error.
func checkDashboards(ctx context.Context, t *testing.T, p *promsim.Prom, objs []manifest.Object, within time.Duration) error {
	t.Helper()
	ds, err := promsim.Dashboards(objs)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return fmt.Errorf("no dashboard in the output")
	}
	scrape := time.Second
	for _, tg := range p.Targets {
		if d, err := time.ParseDuration(tg.Interval); err == nil && d > scrape {
			scrape = d
		}
	}
	checked := 0
	err = poll(ctx, within, func() (problems []string, err error) {
		checked = 0
		for _, d := range ds {
			vars := promsim.GrafanaVars(d.Namespace, d.Workload, scrape, scrape, time.Hour)
			if errs := parseDashboard(d, vars); len(errs) > 0 {
				return nil, errs[0] // parsing does not get better by waiting
			}
			for _, v := range d.Variables {
				want := map[string]string{"namespace": d.Namespace, "workload": d.Workload}[v.Name]
				got, err := p.VariableValues(ctx, v, vars)
				if err != nil {
					return nil, err
				}
				if want == "" || !slices.Contains(got, want) {
					problems = append(problems, fmt.Sprintf("%s: variable %s (%s, regex %s) lists %v, want %q among them", d.Source, v.Name, v.Query, v.Regex, got, want))
				}
			}
			for _, q := range d.Queries {
				s, e, _ := promsim.Parse(q.Expr, vars)
				sels := []string{s}
				for _, vs := range promsim.Selectors(e) {
					sels = append(sels, vs.String())
				}
				for _, sel := range sels {
					checked++
					vs, err := p.Query(ctx, sel)
					if err != nil {
						return nil, fmt.Errorf("%s: panel %q: %w", d.Source, q.Panel, err)
					}
					if len(vs) == 0 {
						what := "selector " + sel
						if sel == s {
							what = "query " + s
						}
						problems = append(problems, fmt.Sprintf("%s: panel %q: %s returns no series", d.Source, q.Panel, what))
					}
				}
			}
		}
		return problems, nil
	})
	if err == nil {
		t.Logf("dashboards %d, queries and selectors %d: each returns series", len(ds), checked)
	}
	return err
}

// sabotageDashboardMetric: a dashboard query naming a metric that does not
// exist (haproxy_frontend_http_requests_total misspelt) makes
// checkDashboards fail on that query, on the same running Prometheus that
// passed it.
func sabotageDashboardMetric(ctx context.Context, t *testing.T, p *promsim.Prom, objs []manifest.Object) {
	t.Helper()
	const metric, wrong = "haproxy_frontend_http_requests_total", "haproxy_frontend_http_request_total"
	bad := make([]manifest.Object, len(objs))
	edited := false
	for i, o := range objs {
		bad[i] = jsonCopy(t, o)
		if o.Kind() != "ConfigMap" || manifest.Str(o, "metadata", "labels", "grafana_dashboard") == "" || edited {
			continue
		}
		data := manifest.Map(bad[i], "data")
		for k, v := range data {
			if s := v.(string); strings.Contains(s, metric) {
				data[k] = strings.Replace(s, metric, wrong, 1)
				edited = true
			}
		}
	}
	if !edited {
		t.Fatalf("sabotage: no dashboard query uses %s", metric)
	}
	err := checkDashboards(ctx, t, p, bad, 3*time.Second)
	if err == nil || !strings.Contains(err.Error(), wrong) {
		t.Fatalf("sabotage: a query of %s passed the check (%v)", wrong, err)
	}
	t.Logf("sabotage caught: %v", err)
}

// dashboardOutputs are generated outputs whose dashboards between them use
// every panel of the HAProxy patterns: the monitor on HTTP, gRPC, h2c and
// raw TCP (a DaemonSet and Deployments, scraped through prometheus.io
// annotations), the ambassador on HTTPS, TCP and gRPC upstreams (PodMonitor)
// and on an HTTP upstream with a canned response (seed 1's v3 frontend,
// ServiceMonitors).
var dashboardOutputs = []string{
	"testdata/protocols/expected.yaml",
	"patterns/ambassador/testdata/multi/expected.yaml",
	"demo/productionise/v3/api.yaml",
	"demo/productionise/v3/frontend.yaml",
}

// TestDashboardHAProxyVersions proves the HAProxy metric names and proxy
// labels the panels use on each HAProxy version of the matrix (Debian's
// 2.6 and 3.4): the pods of dashboardOutputs run their generated HAProxy
// configs in the pod simulator (the app and upstream stand-ins answering),
// a real Prometheus scrapes them where the generated ServiceMonitors,
// PodMonitors and annotations say, and every dashboard query and every
// selector in it returns series (checkDashboards). Counters are there from
// HAProxy's start, so no traffic is needed for a series; the values under
// traffic are TestPrometheusSeed1's. The sabotage (a misspelt metric)
// fails on each version.
func TestDashboardHAProxyVersions(t *testing.T) {
	prom := promServer(t)
	eachHAProxy(t, func(t *testing.T, h env.HAProxy) {
		ctx := ctxFor(t, 3*time.Minute)
		var objs []manifest.Object
		var pods []*podsim.Pod
		var sims []*podsim.Sim
		for _, f := range dashboardOutputs {
			data, fo := expGolden(t, f)
			ps, err := podsim.Load(data)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, p := range ps {
				sim, err := podsim.Start(ctx, p, podsim.Options{HAProxy: h.Path})
				if err != nil {
					t.Fatalf("%s: %s: %v", f, p.Workload, err)
				}
				t.Cleanup(sim.Stop)
				sims = append(sims, sim)
			}
			objs, pods = append(objs, fo...), append(pods, ps...)
		}
		// Scraped every second, not at the generated 30s: a rate over
		// $__rate_interval needs two samples within it, and this test
		// proves names, not intervals (TestPrometheusSeed1 scrapes at the
		// generated interval).
		targets, err := promsim.Targets(objs, pods)
		if err != nil {
			t.Fatal(err)
		}
		for i := range targets {
			targets[i].Interval = "1s"
		}
		p, err := promsim.Start(ctx, promsim.Options{Bin: prom, Targets: targets, Sims: sims})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		if err := checkDashboards(ctx, t, p, objs, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		sabotageDashboardMetric(ctx, t, p, objs)
	})
	// The outputs still use each HAProxy metric of the panels.
	var objs []manifest.Object
	for _, f := range dashboardOutputs {
		_, fo := expGolden(t, f)
		objs = append(objs, fo...)
	}
	used := dashboardMetrics(t, objs)
	for _, m := range []string{
		"haproxy_frontend_http_requests_total", "haproxy_backend_http_responses_total",
		"haproxy_backend_response_time_average_seconds", "haproxy_frontend_current_sessions",
		"haproxy_frontend_connections_total", "haproxy_backend_active_servers",
		"haproxy_frontend_intercepted_requests_total",
	} {
		if !slices.Contains(used, m) {
			t.Errorf("no dashboard of %v uses %s: the version check no longer covers it (metrics used: %v)", dashboardOutputs, m, used)
		}
	}
	t.Logf("metrics proven on each version: %v", used)
}

// dashboardMetrics are the metric names the dashboards of objs select,
// sorted.
func dashboardMetrics(t *testing.T, objs []manifest.Object) []string {
	t.Helper()
	ds, err := promsim.Dashboards(objs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		for _, q := range d.Queries {
			_, e, err := promsim.Parse(q.Expr, parseVars(d))
			if err != nil {
				t.Fatal(err)
			}
			for _, vs := range promsim.Selectors(e) {
				if !slices.Contains(names, vs.Name) {
					names = append(names, vs.Name)
				}
			}
		}
	}
	slices.Sort(names)
	return names
}
