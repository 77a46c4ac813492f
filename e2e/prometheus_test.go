package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
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
)

// TestPrometheusSeed1 closes seed 1's monitoring loop with a real
// Prometheus (Debian's server binary): sidecarize writes the demo's v3 from
// demo/productionise/v3.yaml with alertFor set to 2s, the api pod runs in
// the pod simulator (the real HAProxy monitor sidecar from the generated
// ConfigMap) with an app that fails every third request, Prometheus runs in
// the pod's network namespace, scrapes the target the generated
// ServiceMonitor names (endpoint port name → Service port → container port,
// its path; interval shortened to 1s) with the job and namespace labels the
// Prometheus Operator gives it, and evaluates the generated PrometheusRule's
// groups every second. The recorded request rate is > 0, the recorded 5xx
// ratio is within 0.05 of the ratio the app served, the response time is
// recorded, and SidecarizeHighErrorRate goes pending, then firing.
//
// Sabotage: a rule selecting a job label that the scrape does not give, and
// a ServiceMonitor naming a port the pod does not have, each fail the check.
func TestPrometheusSeed1(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus server not found (scripts/deps.sh installs Debian's prometheus): %v", err)
		}
		t.Skipf("prometheus server not found: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	h, err := env.DemoHAProxy()
	if err != nil {
		t.Fatal(err)
	}

	// v3 with a short alertFor.
	cfg, err := os.ReadFile(filepath.Join(env.RepoRoot(), "demo", "productionise", "v3.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	short := strings.Replace(string(cfg), "monitor: {rules: true}", "monitor: {rules: true, alertFor: 2s}", 1)
	if short == string(cfg) {
		t.Fatal("demo/productionise/v3.yaml: no `monitor: {rules: true}` to set alertFor on")
	}
	cfgFile := filepath.Join(t.TempDir(), "v3.yaml")
	if err := os.WriteFile(cfgFile, []byte(short), 0o644); err != nil {
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
	var api *podsim.Pod
	for _, p := range pods {
		if strings.HasSuffix(p.Workload, "/api") {
			api = p
		}
	}
	if api == nil {
		t.Fatal("no api pod in the v3 output")
	}
	var sm, rule manifest.Object
	for _, o := range objs {
		switch {
		case o.Kind() == "ServiceMonitor" && o.Name() == "api-monitor":
			sm = o
		case o.Kind() == "PrometheusRule" && o.Name() == "api-monitor":
			rule = o
		}
	}
	if sm == nil || rule == nil {
		t.Fatal("v3 output: want the api ServiceMonitor and PrometheusRule")
	}

	ctx := ctxFor(t, 4*time.Minute)
	sim, err := podsim.Start(ctx, api, podsim.Options{HAProxy: h.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	appPort, proxyPort := -1, -1
	for to, from := range api.Retargets() {
		appPort, proxyPort = from, to
	}
	if appPort < 0 {
		t.Fatal("api pod: no Service port moved to the proxy")
	}
	// The flaky API: every third request is a 500 (a third, so that a rule
	// dividing 5xx by 2xx instead of by all responses would be caught).
	for _, a := range sim.Apps {
		a.Close()
	}
	var served, failed atomic.Int64
	ln, err := sim.NS.Listen("tcp", "127.0.0.1:"+strconv.Itoa(appPort))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1)%3 == 0 {
			failed.Add(1)
			http.Error(w, "unstable", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// Traffic through the sidecar, ~20 requests a second, until the test ends.
	stop := make(chan struct{})
	defer close(stop)
	client := sim.HTTPClient()
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/unstable", proxyPort)); err == nil {
				resp.Body.Close()
			}
		}
	}()

	observed := func() float64 {
		n := served.Load()
		if n == 0 {
			return 0
		}
		return float64(failed.Load()) / float64(n)
	}

	t.Run("rules-and-alert", func(t *testing.T) {
		if err := promCheck(ctx, t, prom, sim, api, sm, rule, observed, 90*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("sabotage-rule-label", func(t *testing.T) {
		bad := jsonCopy(t, rule)
		b, _ := json.Marshal(bad)
		b = []byte(strings.ReplaceAll(string(b), `job=\"api\"`, `job=\"apx\"`))
		bad = manifest.Object{}
		if err := json.Unmarshal(b, &bad); err != nil {
			t.Fatal(err)
		}
		if err := promCheck(ctx, t, prom, sim, api, sm, bad, observed, 15*time.Second); err == nil {
			t.Fatal("a rule selecting job=\"apx\" passed the check")
		} else {
			t.Logf("sabotage caught: %v", err)
		}
	})
	t.Run("sabotage-port-name", func(t *testing.T) {
		bad := jsonCopy(t, sm)
		for _, ep := range manifest.Slice(bad, "spec", "endpoints") {
			ep.(map[string]any)["port"] = "metricz"
		}
		if err := promCheck(ctx, t, prom, sim, api, bad, rule, observed, 15*time.Second); err == nil {
			t.Fatal("a ServiceMonitor naming port metricz passed the check")
		} else {
			t.Logf("sabotage caught: %v", err)
		}
	})
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

// scrapeTarget resolves a ServiceMonitor endpoint the way the Prometheus
// Operator does for the simulated pod: the endpoint's port names a port of
// a Service the monitor selects, whose targetPort is a container port.
func scrapeTarget(pod *podsim.Pod, sm manifest.Object) (job, addr, path string, err error) {
	eps := manifest.Slice(sm, "spec", "endpoints")
	if len(eps) != 1 {
		return "", "", "", fmt.Errorf("ServiceMonitor %s: want one endpoint, got %d", sm.Name(), len(eps))
	}
	ep := eps[0].(map[string]any)
	name, _ := ep["port"].(string)
	path, _ = ep["path"].(string)
	if path == "" {
		path = "/metrics"
	}
	sel := manifest.Map(sm, "spec", "selector", "matchLabels")
	for _, svc := range pod.Services {
		labels := manifest.Map(svc, "metadata", "labels")
		match := len(sel) > 0
		for k, v := range sel {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		for _, p := range manifest.Slice(svc, "spec", "ports") {
			sp := p.(map[string]any)
			if sp["name"] != name {
				continue
			}
			cp, err := pod.ResolveTargetPort(sp)
			if err != nil {
				return "", "", "", err
			}
			// The Operator's job label is the Service's name.
			return manifest.Str(svc, "metadata", "name"), net.JoinHostPort("127.0.0.1", strconv.Itoa(cp.Port)), path, nil
		}
	}
	return "", "", "", fmt.Errorf("ServiceMonitor %s: endpoint port %q: no port of that name on a Service it selects", sm.Name(), name)
}

// promCheck runs Prometheus in the pod's namespace with a scrape config
// generated from sm and the rule's groups, and waits until the recording
// rules carry the observed values and the alert went pending then firing.
func promCheck(ctx context.Context, t *testing.T, prom string, sim *podsim.Sim, pod *podsim.Pod, sm, rule manifest.Object, observed func() float64, within time.Duration) error {
	job, addr, path, err := scrapeTarget(pod, sm)
	if err != nil {
		return err
	}
	dir := t.TempDir()
	labels := map[string]string{}
	if ns := sm.Namespace(); ns != "" {
		labels["namespace"] = ns
	}
	config := map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"},
		"rule_files": []string{filepath.Join(dir, "rules.yaml")},
		"scrape_configs": []any{map[string]any{
			"job_name":       job,
			"metrics_path":   path,
			"static_configs": []any{map[string]any{"targets": []string{addr}, "labels": labels}},
		}},
	}
	var groups []any
	for _, g := range manifest.Slice(rule, "spec", "groups") {
		g := g.(map[string]any)
		g["interval"] = "1s"
		groups = append(groups, g)
	}
	for name, v := range map[string]any{"prometheus.yaml": config, "rules.yaml": map[string]any{"groups": groups}} {
		b, err := json.Marshal(v) // YAML is a superset of JSON
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	// A free port in the pod's namespace for the web API.
	l, err := sim.NS.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	web := l.Addr().String()
	l.Close()
	var logs podsim.SyncBuffer
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yaml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	done, err := sim.NS.Start(cmd)
	if err != nil {
		return err
	}
	defer func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	}()
	client := sim.HTTPClient()
	query := func(q string) ([]float64, error) {
		resp, err := client.Get("http://" + web + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return nil, err
		}
		var vs []float64
		for _, x := range r.Data.Result {
			s, _ := x.Value[1].(string)
			v, _ := strconv.ParseFloat(s, 64)
			vs = append(vs, v)
		}
		return vs, nil
	}
	alertState := func() (string, error) {
		resp, err := client.Get("http://" + web + "/api/v1/alerts")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string
					State  string
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return "", err
		}
		for _, a := range r.Data.Alerts {
			if a.Labels["alertname"] == "SidecarizeHighErrorRate" {
				return a.State, nil
			}
		}
		return "", nil
	}

	const tolerance = 0.05
	deadline := time.Now().Add(within)
	var up, sawPending, firing, rateOK, ratioOK, latencyOK bool
	var last string
	for time.Now().Before(deadline) && !(up && sawPending && firing && rateOK && ratioOK && latencyOK) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if vs, err := query(fmt.Sprintf(`up{job=%q}`, job)); err == nil && len(vs) == 1 && vs[0] == 1 {
			up = true
		}
		if vs, err := query(`sidecarize:http_requests:rate5m{workload="api"}`); err == nil && len(vs) == 1 && vs[0] > 0 {
			rateOK = true
		}
		if vs, err := query(`sidecarize:http_errors:ratio_rate5m{workload="api"}`); err == nil && len(vs) == 1 {
			ratioOK = math.Abs(vs[0]-observed()) <= tolerance
			last = fmt.Sprintf("recorded 5xx ratio %.3f, served %.3f", vs[0], observed())
		}
		if vs, err := query(`sidecarize:http_response_time_seconds:avg{workload="api"}`); err == nil && len(vs) == 1 && !math.IsNaN(vs[0]) {
			latencyOK = true
		}
		switch st, _ := alertState(); st {
		case "pending":
			sawPending = true
		case "firing":
			if !sawPending {
				return fmt.Errorf("SidecarizeHighErrorRate was firing before it was seen pending")
			}
			firing = true
		}
	}
	if !(up && sawPending && firing && rateOK && ratioOK && latencyOK) {
		return fmt.Errorf("after %v: target %s up: %v; request rate > 0: %v; 5xx ratio within %.2f of served: %v (%s); response time recorded: %v; alert pending: %v, firing: %v",
			within, addr, up, rateOK, tolerance, ratioOK, last, latencyOK, sawPending, firing)
	}
	t.Logf("Prometheus: target %s up, request rate > 0, %s, response time recorded, SidecarizeHighErrorRate pending → firing", addr, last)
	return nil
}
