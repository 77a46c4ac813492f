package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
	"github.com/sidecarize/sidecarize/e2e/promsim"
)

// TestPrometheusSeed1 closes seed 1's monitoring loop with a real
// Prometheus (Debian's server binary, package promsim). sidecarize writes
// the demo's v3 from demo/productionise/v3.yaml with the alerts' for:
// shortened, a 1s scrape interval and errorRatio 0.2; the api and frontend
// pods run in the pod simulator (the real HAProxy monitor sidecars and
// ambassador from the generated ConfigMaps), with an in-test API whose
// behaviour the test switches and an in-test frontend that calls it
// through the ambassador. Prometheus scrapes every target the generated
// ServiceMonitors name (endpoint port name → Service port → container port
// → the pod's address in Prometheus' namespace, path, interval) and
// evaluates every generated PrometheusRule.
//
// The story, asserted from Prometheus' HTTP API: every target is up at the
// generated path and interval; every recording rule produces a value; while
// the API fails every third request, the api's recorded 5xx ratio is within
// 0.05 of what it served and both SidecarizeHighErrorRate alerts go pending,
// then firing; during an outage the ambassador's circuit opens and
// SidecarizeCircuitOpen goes pending, then firing; once the API recovers,
// every alert resolves (the rules report inactive, /api/v1/alerts is empty).
//
// Sabotage: a ServiceMonitor naming a port the Service does not have, one
// naming the wrong port (the app's), and a rule selecting a job label the
// scrape does not give each fail the check.
func TestPrometheusSeed1(t *testing.T) {
	prom := promServer(t)
	h, err := env.DemoHAProxy()
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 5*time.Minute)
	objs, pods := seed1Output(t, nil)
	s := startSeed1(ctx, t, h.Path, pods)

	t.Run("story", func(t *testing.T) {
		p := startProm(ctx, t, prom, objs, pods, s.sims)
		if err := checkScrapeAndRecords(ctx, p, 60*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.story(ctx, t, p); err != nil {
			t.Fatal(err)
		}
		// The api's and the frontend's dashboards (monitor, ambassador)
		// over the story's series, the page views still going: every query
		// returns series (checked after the story, which must see the
		// alerts go from pending).
		if err := checkDashboards(ctx, t, p, objs, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		sabotageDashboardMetric(ctx, t, p, objs)
	})
	sabotage := func(name string, edit func(manifest.Object) bool) {
		t.Run("sabotage-"+name, func(t *testing.T) {
			bad := make([]manifest.Object, len(objs))
			edited := false
			for i, o := range objs {
				bad[i] = jsonCopy(t, o)
				edited = edit(bad[i]) || edited
			}
			if !edited {
				t.Fatal("the sabotage changed nothing")
			}
			targets, err := promsim.Targets(bad, pods)
			if err == nil {
				var p *promsim.Prom
				p, err = promsim.Start(ctx, promsim.Options{Bin: prom, Targets: targets, Sims: s.sims, Groups: promsim.RuleGroups(bad)})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Stop()
				err = checkScrapeAndRecords(ctx, p, 12*time.Second)
			}
			if err == nil {
				t.Fatal("the sabotaged output passed the check")
			}
			t.Logf("sabotage caught: %v", err)
		})
	}
	for _, port := range []string{"metricz", "http"} {
		sabotage("servicemonitor-port-"+port, func(o manifest.Object) bool {
			if o.Kind() != "ServiceMonitor" || o.Name() != "api-monitor" {
				return false
			}
			for _, ep := range manifest.Slice(o, "spec", "endpoints") {
				ep.(map[string]any)["port"] = port
			}
			return true
		})
	}
	sabotage("rule-label", func(o manifest.Object) bool {
		if o.Kind() != "PrometheusRule" || o.Name() != "api-monitor" {
			return false
		}
		for _, g := range manifest.Slice(o, "spec", "groups") {
			for _, r := range manifest.Slice(g.(map[string]any), "rules") {
				r := r.(map[string]any)
				r["expr"] = strings.ReplaceAll(r["expr"].(string), `job="api"`, `job="apx"`)
			}
		}
		return true
	})
}

// TestPrometheusPodMonitorAndAnnotations: the api's monitor scraped through
// a PodMonitor (with its rules: the job is <namespace>/<name>) and the
// frontend's ambassador through prometheus.io annotations; every target is
// up where the generated objects and annotations say, and every recording
// rule produces a value.
func TestPrometheusPodMonitorAndAnnotations(t *testing.T) {
	prom := promServer(t)
	h, err := env.DemoHAProxy()
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 3*time.Minute)
	objs, pods := seed1Output(t, map[string]string{
		"monitor: {rules: true,":                  "monitor: {scrape: podMonitor, rules: true,",
		"      rules: true\n      alertFor: 2s\n": "      scrape: annotations\n",
	})
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind()]++
	}
	if kinds["PodMonitor"] == 0 {
		t.Fatalf("no PodMonitor in the output: %v", kinds)
	}
	s := startSeed1(ctx, t, h.Path, pods)
	p := startProm(ctx, t, prom, objs, pods, s.sims)
	annotated := false
	for _, tg := range p.Targets {
		annotated = annotated || strings.HasPrefix(tg.Source, "prometheus.io annotations")
	}
	if !annotated {
		t.Fatal("no prometheus.io annotation target")
	}
	if err := checkScrapeAndRecords(ctx, p, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	// The dashboards select pods by namespace and pod labels, which the
	// PodMonitor and annotation scrapes give as the ServiceMonitors do.
	if err := checkDashboards(ctx, t, p, objs, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func promServer(t *testing.T) string {
	t.Helper()
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus server not found (scripts/deps.sh installs Debian's prometheus): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces)")
	}
	return prom
}

// seed1Output runs sidecarize on demo/productionise/initial with v3.yaml,
// made quick for a test (alerts' for: 2s, scrape interval 1s, errorRatio
// 0.2) and edited further by edits (old → new, in the quick config).
func seed1Output(t *testing.T, edits map[string]string) ([]manifest.Object, []*podsim.Pod) {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join(env.RepoRoot(), "demo", "productionise", "v3.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	quick := map[string]string{
		"monitor: {rules: true}": "monitor: {rules: true, alertFor: 2s, errorRatio: 0.2, interval: 1s}",
		"      rules: true ":     "      rules: true\n      alertFor: 2s\n      interval: 1s ",
	}
	text := string(cfg)
	for _, m := range []map[string]string{quick, edits} {
		for old, new := range m {
			if !strings.Contains(text, old) {
				t.Fatalf("demo/productionise/v3.yaml: no %q to edit", old)
			}
			text = strings.Replace(text, old, new, 1)
		}
	}
	cfgFile := filepath.Join(t.TempDir(), "v3.yaml")
	if err := os.WriteFile(cfgFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runSidecarize(t, nil, "-c", cfgFile, "demo/productionise/initial")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := podsim.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs, pods
}

func startProm(ctx context.Context, t *testing.T, bin string, objs []manifest.Object, pods []*podsim.Pod, sims []*podsim.Sim) *promsim.Prom {
	t.Helper()
	targets, err := promsim.Targets(objs, pods)
	if err != nil {
		t.Fatal(err)
	}
	p, err := promsim.Start(ctx, promsim.Options{Bin: bin, Targets: targets, Sims: sims, Groups: promsim.RuleGroups(objs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus output:\n%s", p.Logs())
		}
		p.Stop()
	})
	return p
}

// API behaviours the test switches between.
const (
	apiFlaky   = iota // every third request (health checks aside) is a 500
	apiOutage         // everything is a 500, health checks too
	apiHealthy        // everything is a 200
)

type seed1Pods struct {
	sims           []*podsim.Sim
	mode           atomic.Int32
	served, failed atomic.Int64
}

// startSeed1 runs the api and frontend pods: the api's app answers as mode
// says; the frontend's app calls its API_URL (the ambassador) and answers
// 500 when the API did; a relay stands in for the api Service. Page views
// go to the frontend's Service port, ~20 a second, until the test ends.
func startSeed1(ctx context.Context, t *testing.T, haproxy string, pods []*podsim.Pod) *seed1Pods {
	t.Helper()
	var api, fe *podsim.Pod
	for _, p := range pods {
		switch {
		case strings.HasSuffix(p.Workload, "/api"):
			api = p
		case strings.HasSuffix(p.Workload, "/frontend"):
			fe = p
		}
	}
	if api == nil || fe == nil {
		t.Fatal("want the api and frontend pods in the v3 output")
	}
	s := &seed1Pods{}
	start := func(p *podsim.Pod) *podsim.Sim {
		sim, err := podsim.Start(ctx, p, podsim.Options{HAProxy: haproxy})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sim.Stop)
		for _, a := range sim.Apps {
			a.Close()
		}
		s.sims = append(s.sims, sim)
		return sim
	}
	serve := func(sim *podsim.Sim, p *podsim.Pod, h http.HandlerFunc) {
		ports := p.AppPorts()
		if len(ports) != 1 {
			t.Fatalf("%s: want one app port, got %v", p.Workload, ports)
		}
		ln, err := sim.NS.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports[0].Port))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	apiSim := start(api)
	serve(apiSim, api, func(w http.ResponseWriter, r *http.Request) {
		n := s.served.Add(1)
		mode := s.mode.Load()
		if mode == apiOutage || mode == apiFlaky && r.URL.Path != "/status/200" && n%3 == 0 {
			s.failed.Add(1)
			http.Error(w, "unstable", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, `{"quotes": []}`)
	})
	feSim := start(fe)
	// The api Service: the upstream's cluster DNS address relays to the
	// api pod's Service targetPort.
	apiTarget := -1
	for to := range api.Retargets() {
		apiTarget = to
	}
	for host, stand := range feSim.Upstreams {
		res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return feSim.NS.DialContext(ctx, "udp", "127.0.0.53:53")
		}}
		ips, err := res.LookupHost(ctx, host)
		if err != nil || len(ips) == 0 {
			t.Fatalf("cluster DNS %s: %v", host, err)
		}
		stand.Close()
		ln, err := podsim.Relay(feSim.NS, net.JoinHostPort(ips[0], strconv.Itoa(stand.Port)), apiSim.NS, "127.0.0.1:"+strconv.Itoa(apiTarget))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	apiURL := ""
	for _, c := range fe.Containers {
		for _, e := range manifest.Slice(c.M, "env") {
			if m, _ := e.(map[string]any); manifest.Str(m, "name") == "API_URL" {
				apiURL = manifest.Str(m, "value")
			}
		}
	}
	if apiURL == "" {
		t.Fatal("frontend: no API_URL")
	}
	feClient := feSim.HTTPClient()
	serve(feSim, fe, func(w http.ResponseWriter, r *http.Request) {
		resp, err := feClient.Get(apiURL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			http.Error(w, "the API failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "page")
	})
	fePort := -1
	for to := range fe.Retargets() {
		fePort = to
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if resp, err := feClient.Get(fmt.Sprintf("http://127.0.0.1:%d/", fePort)); err == nil {
				resp.Body.Close()
			}
		}
	}()
	return s
}

func (s *seed1Pods) servedRatio() float64 {
	n := s.served.Load()
	if n == 0 {
		return 0
	}
	return float64(s.failed.Load()) / float64(n)
}

// checkScrapeAndRecords waits until every target is up where it was
// generated (URL and interval) and every recording rule has a value.
func checkScrapeAndRecords(ctx context.Context, p *promsim.Prom, within time.Duration) error {
	return poll(ctx, within, func() (problems []string, err error) {
		ths, err := p.TargetHealths(ctx)
		if err != nil {
			return nil, err
		}
		for _, tg := range p.Targets {
			url := "http://" + tg.Addr + tg.Path
			found := false
			for _, th := range ths {
				if th.ScrapeURL != url {
					continue
				}
				found = true
				switch {
				case th.Health != "up":
					problems = append(problems, fmt.Sprintf("%s: %s is %s (%s)", tg.Source, url, th.Health, th.LastError))
				case tg.Interval != "" && th.ScrapeInterval != tg.Interval:
					problems = append(problems, fmt.Sprintf("%s: scraped every %s, generated %s", tg.Source, th.ScrapeInterval, tg.Interval))
				case th.Labels["job"] != tg.Labels["job"]:
					problems = append(problems, fmt.Sprintf("%s: job %q, want %q", tg.Source, th.Labels["job"], tg.Labels["job"]))
				}
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s: %s is not a target", tg.Source, url))
			}
		}
		rules, err := p.Rules(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			if r.Health == "err" {
				problems = append(problems, fmt.Sprintf("rule %s: %s", r.Name, r.LastError))
			}
			if r.Type != "recording" {
				continue
			}
			vs, err := p.Query(ctx, r.Selector())
			if err != nil {
				return nil, err
			}
			if len(vs) == 0 {
				problems = append(problems, fmt.Sprintf("recording rule %s (%s) has no value", r.Selector(), r.Query))
			}
		}
		return problems, nil
	})
}

// poll calls check every 250ms until it finds no problem (nil), an error
// (returned), or within has passed (an error listing the last problems).
func poll(ctx context.Context, within time.Duration, check func() ([]string, error)) error {
	deadline := time.Now().Add(within)
	for {
		problems, err := check()
		if err != nil || len(problems) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %s", within, strings.Join(problems, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// story drives the API through flaky, outage and recovery, and checks the
// alerts' states at each step.
func (s *seed1Pods) story(ctx context.Context, t *testing.T, p *promsim.Prom) error {
	// alert key (name and workload) -> states seen, in order.
	seen := map[string][]string{}
	observe := func() (map[string]string, error) {
		rules, err := p.Rules(ctx)
		if err != nil {
			return nil, err
		}
		alerts, err := p.Alerts(ctx)
		if err != nil {
			return nil, err
		}
		states := map[string]string{}
		for _, r := range rules {
			if r.Type == "alerting" {
				states["rule "+r.Group+" "+r.Name] = r.State
			}
		}
		for _, a := range alerts {
			key := a.Labels["alertname"] + "/" + a.Labels["workload"]
			states[key] = a.State
			if l := seen[key]; len(l) == 0 || l[len(l)-1] != a.State {
				seen[key] = append(l, a.State)
			}
		}
		return states, nil
	}
	wait := func(what string, within time.Duration, done func(map[string]string) bool) error {
		deadline := time.Now().Add(within)
		for {
			states, err := observe()
			if err != nil {
				return err
			}
			if done(states) {
				t.Logf("%s: %v", what, states)
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: not within %v; alerts %v (states seen: %v)", what, within, states, seen)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	firing := func(keys ...string) func(map[string]string) bool {
		return func(st map[string]string) bool {
			for _, k := range keys {
				if st[k] != "firing" {
					return false
				}
			}
			return true
		}
	}
	high := []string{"SidecarizeHighErrorRate/api", "SidecarizeHighErrorRate/frontend"}
	s.mode.Store(apiFlaky)
	if err := wait("the API fails every third request", 60*time.Second, firing(high...)); err != nil {
		return err
	}
	vs, err := p.Query(ctx, `sidecarize:http_errors:ratio_rate5m{workload="api"}`)
	if err != nil {
		return err
	}
	if len(vs) != 1 || math.Abs(vs[0].Value-s.servedRatio()) > 0.05 {
		return fmt.Errorf("recorded api 5xx ratio %v, served %.3f: want one value within 0.05", vs, s.servedRatio())
	}
	t.Logf("recorded api 5xx ratio %.3f, served %.3f", vs[0].Value, s.servedRatio())

	s.mode.Store(apiOutage)
	if err := wait("the API is out", 60*time.Second, firing("SidecarizeCircuitOpen/frontend")); err != nil {
		return err
	}
	vs, err = p.Query(ctx, `sidecarize:upstream_canned_responses:rate5m{workload="frontend",upstream="api"} > 0`)
	if err != nil {
		return err
	}
	if len(vs) != 1 {
		return fmt.Errorf("circuit open, but no canned responses recorded: %v", vs)
	}

	s.mode.Store(apiHealthy)
	if err := wait("the API recovered", 120*time.Second, func(st map[string]string) bool {
		for _, v := range st {
			if v != "inactive" {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	for _, key := range append(high, "SidecarizeCircuitOpen/frontend") {
		if got := strings.Join(seen[key], " → "); got != "pending → firing" {
			return fmt.Errorf("%s: states seen %q, want pending → firing (then resolved)", key, got)
		}
	}
	alerts, err := p.Alerts(ctx)
	if err != nil {
		return err
	}
	if len(alerts) != 0 {
		return fmt.Errorf("after recovery, still active: %v", alerts)
	}
	return nil
}

func jsonCopy(t *testing.T, o manifest.Object) manifest.Object {
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var c manifest.Object
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPrometheusExporterPostgres: the exporter rules of the
// postgres-rules golden's config (alertFor shortened to 2s, scrape interval
// 2s: with PostgreSQL down a scrape takes the exporter a second) on a real PostgreSQL, postgres_exporter as its generated container
// runs, and a real Prometheus scraping it where the generated
// ServiceMonitor says. pg_up is 1 and SidecarizeExporterTargetDown is
// inactive; PostgreSQL stopped, it goes pending, then firing; started
// again, it resolves.
func TestPrometheusExporterPostgres(t *testing.T) {
	prom := promServer(t)
	pgBin := expPostgresBinDir(t)
	exporterBin := expPinned(t, "POSTGRES_EXPORTER_BIN", "postgres_exporter", "0.20.1")
	const dir = "patterns/exporter/testdata/postgres-rules"
	cfg, err := os.ReadFile(filepath.Join(env.RepoRoot(), dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	quick := strings.Replace(string(cfg), "        rules: true\n", "        rules: true\n        alertFor: 2s\n        interval: 2s\n", 1)
	if quick == string(cfg) {
		t.Fatalf("%s/config.yaml: no `rules: true` to edit", dir)
	}
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(quick), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runSidecarize(t, nil, "-c", cfgFile, dir+"/input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := podsim.LoadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 {
		t.Fatalf("want the products-db pod, got %d pods", len(pods))
	}
	ctr, tmpl, dbPort := expExporterContainerIn(t, objs, dir, "Deployment", "products-db")

	ns, err := podsim.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	const password = "widgetario-e2e-Secret"
	pg := expStartPostgres(t, ns, pgBin, dbPort, password)
	expStartContainer(t, ns, exporterBin, tmpl, ctr, map[string]map[string]string{"products-db-password": {"password": password}})

	ctx := ctxFor(t, 3*time.Minute)
	p := startProm(ctx, t, prom, objs, pods, []*podsim.Sim{{Pod: pods[0], NS: ns}})
	if err := checkScrapeAndRecords(ctx, p, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The products-db dashboard: the exporter's pg_up panel (the only
	// pattern on this workload) has PostgreSQL's state.
	if err := checkDashboards(ctx, t, p, objs, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	const alert = "SidecarizeExporterTargetDown"
	var seen []string
	waitAlert := func(what string, want func(state string) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			st := ""
			rules, err := p.Rules(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rules {
				if r.Name == alert {
					st = r.State
				}
			}
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
			if want(st) {
				t.Logf("%s: %s is %s", what, alert, st)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s states seen %v", what, alert, seen)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	pgUp := func(want float64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			vs, err := p.Query(ctx, `pg_up{job="products-db"}`)
			if err == nil && len(vs) == 1 && vs[0].Value == want {
				return
			}
			if time.Now().After(deadline) {
				ths, _ := p.TargetHealths(ctx)
				t.Fatalf("pg_up: want %v, got %v (%v); targets %+v", want, vs, err, ths)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	pgUp(1)
	waitAlert("PostgreSQL up", func(st string) bool { return st == "inactive" })
	// The sequence starts from the inactive state just seen: the rule may
	// turn pending between pg_up reading 0 and the next poll of the alert
	// (fresh-clone CI saw pending first and failed on a missing inactive).
	seen = []string{"inactive"}
	pg.Stop(t)
	pgUp(0)
	waitAlert("PostgreSQL stopped", func(st string) bool { return st == "firing" })
	pg.Start(t)
	pgUp(1)
	waitAlert("PostgreSQL started again", func(st string) bool { return st == "inactive" })
	if got := strings.Join(seen, " → "); got != "inactive → pending → firing → inactive" {
		t.Fatalf("%s: states seen %s, want inactive → pending → firing → inactive", alert, got)
	}
}

// expPrometheus runs the exporter as its container runs and a real
// Prometheus that scrapes it where the golden file's ServiceMonitor,
// PodMonitor or prometheus.io annotations say for the workload (every
// second instead of the generated interval), with the file's rules
// (alerts' for: 1s). It waits until Prometheus answers query with want and,
// with alert set, that alert is firing.
func expPrometheus(t *testing.T, file, workload string, ns *podsim.NetNS, bin string, tmpl map[string]any, ctr manifest.Container, secrets map[string]map[string]string, query string, want float64, alert string) {
	t.Helper()
	prom := promServer(t)
	data, objs := expGolden(t, file)
	pods, err := podsim.LoadAll(data)
	if err != nil {
		t.Fatal(err)
	}
	var pod *podsim.Pod
	for _, p := range pods {
		if strings.HasSuffix(p.Workload, "/"+workload) {
			pod = p
		}
	}
	if pod == nil {
		t.Fatalf("%s: no pod of %s", file, workload)
	}
	all, err := promsim.Targets(objs, pods)
	if err != nil {
		t.Fatal(err)
	}
	var targets []promsim.Target
	for _, tg := range all {
		if tg.Pod == pod {
			tg.Interval = "1s"
			targets = append(targets, tg)
		}
	}
	if len(targets) != 1 {
		t.Fatalf("%s: want one scrape target for %s, got %d", file, workload, len(targets))
	}
	groups := promsim.RuleGroups(objs)
	for _, g := range groups {
		for _, r := range manifest.Slice(g.(map[string]any), "rules") {
			if r := r.(map[string]any); r["alert"] != nil {
				r["for"] = "1s"
			}
		}
	}
	_, stop := expStartContainer(t, ns, bin, tmpl, ctr, secrets)
	defer stop()
	ctx := ctxFor(t, 2*time.Minute)
	p, err := promsim.Start(ctx, promsim.Options{Bin: prom, Targets: targets, Sims: []*podsim.Sim{{Pod: pod, NS: ns}}, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	deadline := time.Now().Add(40 * time.Second)
	var got []promsim.Sample
	state := ""
	for {
		got, err = p.Query(ctx, query)
		if alert != "" {
			state = ""
			if alerts, err := p.Alerts(ctx); err == nil {
				for _, a := range alerts {
					if a.Labels["alertname"] == alert {
						state = a.State
					}
				}
			}
		}
		if err == nil && len(got) == 1 && got[0].Value == want && (alert == "" || state == "firing") {
			t.Logf("Prometheus scraped %s (%s, job %s): %s = %v%s", targets[0].Source, targets[0].Path, targets[0].Labels["job"], query, want, map[bool]string{true: ", " + alert + " firing"}[alert != ""])
			// The workload's dashboard (its exporter row) on the same data.
			var own []manifest.Object
			for _, o := range objs {
				if o.Kind() != "ConfigMap" || strings.HasSuffix(manifest.Str(o, "metadata", "annotations", "sidecarize.dev/owner"), "/"+workload) {
					own = append(own, o)
				}
			}
			if err := checkDashboards(ctx, t, p, own, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			return
		}
		if time.Now().After(deadline) {
			ths, _ := p.TargetHealths(ctx)
			t.Fatalf("Prometheus: %s = %v (%v), want %v; %s %q; targets %+v\n%s", query, got, err, want, alert, state, ths, p.Logs())
		}
		time.Sleep(250 * time.Millisecond)
	}
}
