// Package demorun runs seed 1's demo ("productionise any application with
// sidecar containers") without a cluster: the v3 pods that sidecarize wrote
// to demo/productionise/v3 run in the pod simulator (podsim) — the real
// HAProxy monitor sidecars and ambassador with their generated configs, in
// network namespaces of their own — with the real apps in place of the
// simulator's stand-ins: go-httpbin (built from the Go module proxy, the
// version the manifests pin) as the API, and the demo frontend (demo/app).
// A relay stands in for the api Service between the two pods.
//
// It shows what the talk showed, one progress line per step: the frontend's
// failures before the sidecars, the Prometheus metrics the sidecars export,
// the circuit breaker tripping to the canned response, and recovering.
// Needs root (network namespaces), haproxy, unshare and setpriv. HAProxy is
// 3.4, the default image's branch, when it is there (see env.DemoHAProxy);
// Options.HAProxy or $HAPROXY_BIN choose another.
package demorun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
	"github.com/sidecarize/sidecarize/e2e/promsim"
)

// HTTPBinVersion is the go-httpbin release the demo builds; the API image
// in demo/productionise/initial/api.yaml is pinned to the same tag.
const HTTPBinVersion = "v2.26.0"

// HTTPBinPackage is go-httpbin's command, built with `go install`.
const HTTPBinPackage = "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin"

// Options of a run.
type Options struct {
	Dir      string    // the v3 manifests (default demo/productionise/v3)
	Initial  string    // the initial manifests (default demo/productionise/initial)
	CacheDir string    // built binaries (default <repo>/.cache/demo)
	Out      io.Writer // progress (default os.Stdout)
	// Views is the number of page views per step (default 20).
	Views int
	// HAProxy runs the sidecars (default env.DemoHAProxy: $HAPROXY_BIN,
	// else 3.4 when it is there, else 2.6).
	HAProxy env.HAProxy
	// Prometheus is the prometheus server binary (default: prometheus on
	// PATH, Debian's).
	Prometheus string
	// Chart is where the SVG chart of the page views goes (default
	// <CacheDir>/breaker.svg).
	Chart string
}

// Report is what the run observed; the test checks it.
type Report struct {
	Steps []string // the progress lines, in order

	InitialViews, InitialFailed int // the frontend without sidecars
	// InitialAPIErrors: the failed views whose page names the API's 500
	// (a view can also fail without one: unreachable, a timeout).
	InitialAPIErrors int

	// The v3 frontend until the breaker tripped: page views with the API's
	// answer, its failure, and the view that got the canned response.
	V3OK, V3Failed, TrippedAfter int
	OpenViews, OpenDegraded      int // while the circuit was open
	APICallsWhileOpen            int // /unstable requests the API saw then
	Recovered                    bool
	RecoveredAfter               time.Duration
	LogRecords                   []string // the api's logs adapter's stdout (v2)

	// Metrics scraped from the sidecars: "<pod> <metric>{labels}" → value.
	Metrics map[string]float64

	// Views are the page views on the demo's timeline.
	Views []View
	// From the demo's Prometheus: the api's recorded 5xx ratio and request
	// rate, the states SidecarizeCircuitOpen went through (e.g. pending,
	// firing, inactive) and when it fired and resolved.
	ErrorRatio, RequestRate        float64
	APIAlert                       string // SidecarizeHighErrorRate's state for the api
	CircuitStates                  []string
	CircuitFiring, CircuitResolved time.Duration
	Chart                          string // the SVG written
}

// View is one page view: when (since the demo started) and its result (ok,
// failed, degraded).
type View struct {
	At     time.Duration
	Result string
}

// Run runs the demo.
func Run(ctx context.Context, opt Options) (_ *Report, err error) {
	root := env.RepoRoot()
	if opt.Dir == "" {
		opt.Dir = filepath.Join(root, "demo", "productionise", "v3")
	}
	if opt.Initial == "" {
		opt.Initial = filepath.Join(root, "demo", "productionise", "initial")
	}
	if opt.CacheDir == "" {
		opt.CacheDir = filepath.Join(root, ".cache", "demo")
	}
	if opt.Out == nil {
		opt.Out = os.Stdout
	}
	if opt.Views == 0 {
		opt.Views = 20
	}
	if opt.Chart == "" {
		opt.Chart = filepath.Join(opt.CacheDir, "breaker.svg")
	}
	if opt.Prometheus == "" {
		if opt.Prometheus, err = exec.LookPath("prometheus"); err != nil {
			return nil, fmt.Errorf("the prometheus server (Debian's prometheus package; scripts/deps.sh demo installs it): %w", err)
		}
	}
	switch {
	case opt.HAProxy.Path == "":
		opt.HAProxy, err = env.DemoHAProxy()
	case opt.HAProxy.Version == "":
		opt.HAProxy, err = env.HAProxyAt(opt.HAProxy.Path)
	}
	if err != nil {
		return nil, err
	}
	r := &Report{Metrics: map[string]float64{}}
	d := &demo{opt: opt, rep: r, start: time.Now()}
	defer d.stop()

	const steps = 12
	d.step(1, steps, "build the apps: go-httpbin %s from the Go module proxy (the API), demo/app (the frontend)", HTTPBinVersion)
	httpbin, frontend, err := d.build(ctx)
	if err != nil {
		return r, err
	}

	d.step(2, steps, "load the v3 pods sidecarize wrote to %s", rel(opt.Dir))
	apiPod, fePod, objs, err := loadPods(opt.Dir)
	if err != nil {
		return r, err
	}
	initialURL, err := initialEnv(opt.Initial, "frontend", "API_URL")
	if err != nil {
		return r, err
	}
	d.detail("api:      %s", containerList(apiPod))
	d.detail("frontend: %s", containerList(fePod))

	d.step(3, steps, "start the pods: HAProxy %s sidecars from the generated ConfigMaps, go-httpbin and the frontend in their place; Prometheus", opt.HAProxy.Version)
	d.detail("haproxy:  %s", opt.HAProxy.Path)
	if err := d.startAPI(ctx, apiPod, httpbin); err != nil {
		return r, err
	}
	if err := d.startFrontend(ctx, fePod, frontend, initialURL); err != nil {
		return r, err
	}
	if err := d.startPrometheus(ctx, objs); err != nil {
		return r, err
	}

	d.step(4, steps, "before: the frontend as in initial/ (no sidecars) calls API_URL=%s", initialURL)
	for i := 0; i < opt.Views; i++ {
		res, page, err := d.view(ctx, d.initialPort)
		if err != nil {
			return r, err
		}
		r.InitialViews++
		if res == "failed" {
			r.InitialFailed++
			if strings.Contains(page, "the API failed: 500 ") {
				r.InitialAPIErrors++
			}
		}
	}
	d.detail("%d page views: %d failed with a 500 (the API's /unstable fails half the time)", r.InitialViews, r.InitialFailed)

	d.step(5, steps, "v1 monitoring: Prometheus metrics from the API's HAProxy sidecar (GET :%d/metrics)", d.apiMetrics)
	if err := d.scrape(ctx, d.api, "api", d.apiMetrics, "app", false); err != nil {
		return r, err
	}
	if err := d.logs(ctx); err != nil {
		return r, err
	}

	// The ambassador starts with its server down until the first health
	// checks pass (slow on a loaded machine): a view before that would be
	// answered by the canned response with no failure behind it (and
	// Prometheus would see the circuit open).
	if err := d.waitServerUp(ctx, d.fe, d.ambMetrics, "be_api"); err != nil {
		return r, err
	}
	d.step(6, steps, "Prometheus (%s) scrapes the v3 pods where the generated ServiceMonitors say, with the generated PrometheusRules", filepath.Base(opt.Prometheus))
	if err := d.promReady(ctx); err != nil {
		return r, err
	}

	d.step(7, steps, "v3: page views through the frontend's sidecars until the ambassador's circuit breaker trips")
	tripped := false
	var trippedAt time.Time
	for i := 0; i < 300 && !tripped; i++ {
		res, _, err := d.view(ctx, d.fePort)
		if err != nil {
			return r, err
		}
		switch res {
		case "ok":
			r.V3OK++
		case "failed":
			r.V3Failed++
		case "degraded":
			tripped = true
			r.TrippedAfter = i + 1
			trippedAt = time.Now()
		}
	}
	if !tripped {
		return r, errors.New("the circuit breaker did not trip in 300 page views")
	}
	d.detail("%d page views: %d ok, %d failed; then 3 API failures in a row opened the circuit: view %d got the canned response", r.TrippedAfter-1, r.V3OK, r.V3Failed, r.TrippedAfter)

	d.step(8, steps, "circuit open: the frontend gets the canned response, the API only health checks")
	before := d.settledAPICalls(ctx)
	var canned string
	for i := 0; i < opt.Views; i++ {
		res, body, err := d.view(ctx, d.fePort)
		if err != nil {
			return r, err
		}
		r.OpenViews++
		if res == "degraded" {
			r.OpenDegraded++
			canned = body
		}
	}
	r.APICallsWhileOpen = d.settledAPICalls(ctx) - before
	d.detail("%d page views: %d degraded (canned %s), the API received %d /unstable calls", r.OpenViews, r.OpenDegraded, cannedBody(canned), r.APICallsWhileOpen)
	if err := d.waitCircuitAlert(ctx, "firing", 15*time.Second); err != nil {
		return r, err
	}

	d.step(9, steps, "recovery: the API passes its health checks (/status/200) for recoverAfter 5s; traffic flows again")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, _, err := d.view(ctx, d.fePort)
		if err != nil {
			return r, err
		}
		if res != "degraded" {
			r.Recovered, r.RecoveredAfter = true, time.Since(trippedAt)
			d.detail("the circuit closed: a page view got the API's answer (%s) %.1fs after it opened", res, r.RecoveredAfter.Seconds())
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !r.Recovered {
		return r, errors.New("the circuit did not close within 20s")
	}
	if err := d.waitCircuitAlert(ctx, "inactive", 15*time.Second); err != nil {
		return r, err
	}
	d.step(10, steps, "metrics from the frontend's sidecars: its monitor (:%d) and the ambassador (:%d; intercepted = canned responses)", d.feMetrics, d.ambMetrics)
	if err := d.scrape(ctx, d.fe, "frontend", d.feMetrics, "app", false); err != nil {
		return r, err
	}
	if err := d.scrape(ctx, d.fe, "frontend-ambassador", d.ambMetrics, "api", true); err != nil {
		return r, err
	}
	d.step(11, steps, "what Prometheus recorded from the sidecars' metrics")
	if err := d.recorded(ctx); err != nil {
		return r, err
	}
	d.step(12, steps, "the chart: good, failed and canned page views over the demo's timeline")
	if err := writeChart(opt.Chart, r); err != nil {
		return r, err
	}
	r.Chart = opt.Chart
	d.detail("wrote %s", rel(opt.Chart))
	d.printf("done in %.1fs\n", time.Since(d.start).Seconds())
	return r, nil
}

type demo struct {
	opt   Options
	rep   *Report
	start time.Time

	api, fe                           *podsim.Sim
	prom                              *promsim.Prom
	watch                             *alertWatch
	promRules                         string
	apiMetrics, feMetrics, ambMetrics int
	fePort, initialPort               int
	procs                             []*exec.Cmd
	closers                           []func()
	httpbinLog                        *podsim.SyncBuffer
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.opt.Out, format, args...) }

func (d *demo) step(n, of int, format string, args ...any) {
	line := fmt.Sprintf("[%d/%d] %s", n, of, fmt.Sprintf(format, args...))
	d.rep.Steps = append(d.rep.Steps, line)
	d.printf("%s  (%.1fs)\n", line, time.Since(d.start).Seconds())
}

func (d *demo) detail(format string, args ...any) { d.printf("      "+format+"\n", args...) }

func (d *demo) stop() {
	for _, c := range d.procs {
		if c.Process != nil {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	for _, f := range d.closers {
		f()
	}
	if d.prom != nil {
		d.prom.Stop()
	}
	for _, s := range []*podsim.Sim{d.fe, d.api} {
		if s != nil {
			s.Stop()
		}
	}
}

// build installs go-httpbin (once per version) and builds the frontend.
func (d *demo) build(ctx context.Context) (httpbin, frontend string, err error) {
	bindir := filepath.Join(d.opt.CacheDir, "go-httpbin-"+HTTPBinVersion)
	httpbin = filepath.Join(bindir, "go-httpbin")
	if _, err := os.Stat(httpbin); err != nil {
		cmd := exec.CommandContext(ctx, "go", "install", HTTPBinPackage+"@"+HTTPBinVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+bindir, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go install %s@%s: %v\n%s", HTTPBinPackage, HTTPBinVersion, err, out)
		}
	}
	frontend = filepath.Join(d.opt.CacheDir, "demo-frontend")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", frontend, "./demo/app")
	cmd.Dir = env.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./demo/app: %v\n%s", err, out)
	}
	return httpbin, frontend, nil
}

// loadPods reads the v3 manifests and returns the api and frontend pods,
// and the objects.
func loadPods(dir string) (api, fe *podsim.Pod, objs []manifest.Object, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, nil, nil, fmt.Errorf("no manifests in %s (run `make -C demo v3`)", dir)
	}
	var all bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, nil, err
		}
		all.WriteString("---\n")
		all.Write(b)
		all.WriteString("\n")
	}
	pods, err := podsim.Load(all.Bytes())
	if err != nil {
		return nil, nil, nil, err
	}
	if objs, err = manifest.Parse(all.Bytes()); err != nil {
		return nil, nil, nil, err
	}
	for _, p := range pods {
		switch {
		case strings.HasSuffix(p.Workload, "/api"):
			api = p
		case strings.HasSuffix(p.Workload, "/frontend"):
			fe = p
		}
	}
	if api == nil || fe == nil {
		return nil, nil, nil, fmt.Errorf("%s: want the api and frontend Deployments with HAProxy sidecars", dir)
	}
	return api, fe, objs, nil
}

// initialEnv is an env var of a workload's first container in the initial
// manifests.
func initialEnv(dir, workload, name string) (string, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		objs, err := manifest.Parse(b)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		for _, o := range objs {
			if o.Name() != workload || o.PodTemplate() == nil {
				continue
			}
			for _, e := range manifest.Slice(manifest.Containers(o.PodTemplate())[0].M, "env") {
				m, _ := e.(map[string]any)
				if manifest.Str(m, "name") == name {
					return manifest.Str(m, "value"), nil
				}
			}
		}
	}
	return "", fmt.Errorf("%s: no %s env %s", dir, workload, name)
}

// startAPI runs the api pod's sidecars with go-httpbin as the app.
func (d *demo) startAPI(ctx context.Context, pod *podsim.Pod, httpbin string) (err error) {
	if d.api, err = podsim.Start(ctx, pod, podsim.Options{HAProxy: d.opt.HAProxy.Path}); err != nil {
		return fmt.Errorf("api pod: %w", err)
	}
	app, err := appPort(pod)
	if err != nil {
		return err
	}
	replaceApps(d.api)
	d.httpbinLog = &podsim.SyncBuffer{}
	if err := d.run(d.api.NS, "", d.httpbinLog, nil, httpbin, "-host", "127.0.0.1", "-port", strconv.Itoa(app), "-log-format", "json"); err != nil {
		return err
	}
	if d.apiMetrics, err = portNamed(pod, "mon-metrics"); err != nil {
		return err
	}
	// The API answers through its sidecar (the Service's targetPort).
	svc, err := servicePort(pod, 80)
	if err != nil {
		return err
	}
	d.detail("api pod: HAProxy monitor :%d → go-httpbin :%d, metrics :%d", svc, app, d.apiMetrics)
	return waitHTTP(ctx, d.api, svc, "/status/200")
}

// startFrontend runs the frontend pod's sidecars with the demo frontend as
// the app (v3's env), a second frontend with initial/'s env (no sidecars),
// and the relay that stands in for the api Service.
func (d *demo) startFrontend(ctx context.Context, pod *podsim.Pod, frontend, initialURL string) (err error) {
	if d.fe, err = podsim.Start(ctx, pod, podsim.Options{HAProxy: d.opt.HAProxy.Path}); err != nil {
		return fmt.Errorf("frontend pod: %w", err)
	}
	// The api Service: the upstream the ambassador resolves through cluster
	// DNS gets a relay to the api pod's Service targetPort.
	apiTarget, err := servicePort(d.api.Pod, 80)
	if err != nil {
		return err
	}
	for host, stand := range d.fe.Upstreams {
		ip, err := lookup(ctx, d.fe, host)
		if err != nil {
			return err
		}
		stand.Close()
		addr := net.JoinHostPort(ip, strconv.Itoa(stand.Port))
		if err := d.relay(addr, apiTarget); err != nil {
			return err
		}
		d.detail("Service %s:%d (%s) → api pod :%d", host, stand.Port, addr, apiTarget)
	}
	app, err := appPort(pod)
	if err != nil {
		return err
	}
	replaceApps(d.fe)
	var apiURL string
	for _, c := range pod.Containers {
		if c.Name() == "frontend" {
			for _, e := range manifest.Slice(c.M, "env") {
				m, _ := e.(map[string]any)
				if manifest.Str(m, "name") == "API_URL" {
					apiURL = manifest.Str(m, "value")
				}
			}
		}
	}
	if apiURL == "" {
		return errors.New("frontend: no API_URL in the v3 manifest")
	}
	feLog := &podsim.SyncBuffer{}
	if err := d.run(d.fe.NS, "", feLog, []string{"API_URL=" + apiURL, "PORT=" + strconv.Itoa(app)}, frontend); err != nil {
		return err
	}
	// The initial frontend resolves the Service's short name like a pod:
	// resolv.conf with the namespace's search domains.
	resolv := filepath.Join(d.fe.Root, "resolv-search.conf")
	ns := pod.Namespace
	conf := fmt.Sprintf("search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.53\noptions ndots:5\n", ns)
	if err := os.WriteFile(resolv, []byte(conf), 0o644); err != nil {
		return err
	}
	d.initialPort = app + 1
	if err := d.run(d.fe.NS, resolv, &podsim.SyncBuffer{}, []string{"API_URL=" + initialURL, "PORT=" + strconv.Itoa(d.initialPort)}, frontend); err != nil {
		return err
	}
	if d.fePort, err = servicePort(pod, 80); err != nil {
		return err
	}
	if d.feMetrics, err = portNamed(pod, "mon-metrics"); err != nil {
		return err
	}
	if d.ambMetrics, err = portNamed(pod, "amb-metrics"); err != nil {
		return err
	}
	d.detail("frontend pod: HAProxy monitor :%d → frontend :%d (API_URL=%s) → HAProxy ambassador → Service api", d.fePort, app, apiURL)
	d.detail("initial frontend (no sidecars): :%d (API_URL=%s)", d.initialPort, initialURL)
	if err := waitHTTP(ctx, d.fe, d.fePort, "/healthz"); err != nil {
		return err
	}
	return waitHTTP(ctx, d.fe, d.initialPort, "/healthz")
}

// replaceApps closes the simulator's stand-ins on the app ports.
func replaceApps(s *podsim.Sim) {
	for _, a := range s.Apps {
		a.Close()
	}
}

// run starts a process in the namespace; with resolv set, in a mount
// namespace of its own where /etc/resolv.conf is that file.
func (d *demo) run(ns *podsim.NetNS, resolv string, out io.Writer, envv []string, argv ...string) error {
	if resolv != "" {
		argv = append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && shift && exec "$@"`, resolv, "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}, envv...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if _, err := ns.Start(cmd); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	d.procs = append(d.procs, cmd)
	return nil
}

// relay listens on addr in the frontend pod's namespace and forwards each
// connection to port in the api pod's: a Service with one endpoint.
func (d *demo) relay(addr string, port int) error {
	ln, err := podsim.Relay(d.fe.NS, addr, d.api.NS, "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("Service stand-in on %s: %w", addr, err)
	}
	d.closers = append(d.closers, func() { ln.Close() })
	return nil
}

// view is one page view of the frontend listening on port: the
// X-Demo-Result (ok, failed, degraded) and the page.
func (d *demo) view(ctx context.Context, port int) (string, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	resp, err := d.fe.HTTPClient().Do(req)
	if err != nil {
		return "", "", fmt.Errorf("page view on :%d: %w", port, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	res := resp.Header.Get("X-Demo-Result")
	if res == "" {
		return "", "", fmt.Errorf("page view on :%d: %s without X-Demo-Result: %s", port, resp.Status, b)
	}
	d.rep.Views = append(d.rep.Views, View{At: time.Since(d.start), Result: res})
	if (res == "failed") != (resp.StatusCode == 500) {
		return "", "", fmt.Errorf("page view on :%d: %s with result %s", port, resp.Status, res)
	}
	return res, string(b), nil
}

// apiCalls counts the /unstable requests in go-httpbin's log.
func (d *demo) apiCalls() int {
	return strings.Count(d.httpbinLog.String(), `"route":"/unstable"`)
}

// settledAPICalls is apiCalls once the API's log has stopped growing:
// go-httpbin writes a request's line after its response, so the line of
// the call that tripped the breaker can arrive after the trip was seen (a
// loaded machine made a call before the trip count as one while open).
func (d *demo) settledAPICalls(ctx context.Context) int {
	n := d.apiCalls()
	for i := 0; i < 30; i++ { // 300 ms unchanged, at most 3 s
		select {
		case <-ctx.Done():
			return n
		case <-time.After(300 * time.Millisecond):
		}
		m := d.apiCalls()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// waitServerUp waits until the HAProxy backend on the metrics port has an
// active server (haproxy_backend_active_servers >= 1).
func (d *demo) waitServerUp(ctx context.Context, s *podsim.Sim, port int, backend string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ss, err := s.Scrape(ctx, port)
		if err == nil {
			for _, x := range ss {
				if x.Name == "haproxy_backend_active_servers" && x.Labels["proxy"] == backend && x.Value >= 1 {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("backend %s on :%d has no server up after 30s (last scrape error: %v)", backend, port, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// scrape prints and records the request and response counters of one
// HAProxy frontend and its backend ("be_" + the frontend's name: the proxy
// label names the one or the other); the breaker's counters for an
// ambassador.
func (d *demo) scrape(ctx context.Context, s *podsim.Sim, name string, port int, frontend string, breaker bool) error {
	ss, err := s.Scrape(ctx, port)
	if err != nil {
		return fmt.Errorf("%s metrics: %w", name, err)
	}
	backend := "be_" + frontend
	want := map[string]string{ // metric -> proxy
		"haproxy_frontend_http_requests_total": frontend,
		"haproxy_backend_http_responses_total": backend,
	}
	if breaker {
		want["haproxy_frontend_intercepted_requests_total"] = frontend
		want["haproxy_server_check_up_down_total"] = backend
	}
	var lines []string
	for _, x := range ss {
		proxy, ok := want[x.Name]
		if !ok || x.Labels["proxy"] != proxy {
			continue
		}
		if code := x.Labels["code"]; code != "" && code != "2xx" && code != "5xx" {
			continue
		}
		key := x.Name + `{proxy="` + proxy + `"`
		if code := x.Labels["code"]; code != "" {
			key += `,code="` + code + `"`
		}
		key += "}"
		if _, seen := d.rep.Metrics[name+" "+key]; !seen {
			lines = append(lines, key)
		}
		d.rep.Metrics[name+" "+key] += x.Value // summed over servers
	}
	sort.Strings(lines)
	for _, l := range lines {
		d.detail("%-20s %-70s %g", name, l, d.rep.Metrics[name+" "+l])
	}
	return nil
}

func appPort(pod *podsim.Pod) (int, error) {
	ps := pod.AppPorts()
	if len(ps) != 1 {
		return 0, fmt.Errorf("%s: want one app port, got %v", pod.Workload, ps)
	}
	return ps[0].Port, nil
}

func portNamed(pod *podsim.Pod, name string) (int, error) {
	for _, p := range pod.Ports() {
		if p.Name == name {
			return p.Port, nil
		}
	}
	return 0, fmt.Errorf("%s: no container port %s", pod.Workload, name)
}

// servicePort is the container port a Service port of the pod's Services
// targets.
func servicePort(pod *podsim.Pod, port int) (int, error) {
	for _, s := range pod.Services {
		for _, p := range manifest.Slice(s, "spec", "ports") {
			m, _ := p.(map[string]any)
			if fmt.Sprint(m["port"]) != strconv.Itoa(port) {
				continue
			}
			tp := fmt.Sprint(m["targetPort"])
			if m["targetPort"] == nil {
				tp = strconv.Itoa(port)
			}
			if n, err := strconv.Atoi(tp); err == nil {
				return n, nil
			}
			return portNamed(pod, tp)
		}
	}
	return 0, fmt.Errorf("%s: no Service port %d", pod.Workload, port)
}

// lookup resolves a name through the simulated cluster DNS.
func lookup(ctx context.Context, s *podsim.Sim, host string) (string, error) {
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return s.NS.DialContext(ctx, "udp", "127.0.0.53:53")
	}}
	ips, err := res.LookupHost(ctx, host)
	if err != nil || len(ips) == 0 {
		return "", fmt.Errorf("cluster DNS %s: %v", host, err)
	}
	return ips[0], nil
}

func waitHTTP(ctx context.Context, s *podsim.Sim, port int, path string) error {
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
		resp, err := s.HTTPClient().Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("GET :%d%s did not answer 200 within 15s: %s", port, path, last)
}

func containerList(p *podsim.Pod) string {
	var out []string
	for _, c := range p.Containers {
		tag := "app"
		if p.Injected(c) {
			tag = "sidecarize"
		}
		out = append(out, fmt.Sprintf("%s (%s, %s)", c.Name(), c.Image(), tag))
	}
	return strings.Join(out, ", ")
}

func cannedBody(page string) string {
	i := strings.Index(page, "<pre>")
	j := strings.Index(page, "</pre>")
	if i < 0 || j < i {
		return "?"
	}
	return strings.ReplaceAll(page[i+5:j], "&#34;", `"`)
}

func rel(p string) string {
	if r, err := filepath.Rel(env.RepoRoot(), p); err == nil {
		return r
	}
	return p
}
