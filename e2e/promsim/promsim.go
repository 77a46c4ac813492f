// Package promsim runs a real Prometheus server (Debian's `prometheus`)
// against pods running in the pod simulator (podsim), configured from what
// sidecarize generated: each ServiceMonitor, PodMonitor and prometheus.io
// annotation becomes a scrape target the way the Prometheus Operator (or
// the usual annotation-driven `kubernetes-pods` job) would set it up, and
// the PrometheusRules' groups are its rules file.
//
// Prometheus runs in a network namespace of its own. Each pod gets an
// address there (127.0.0.10, .11, …: the pod IP) on which a relay forwards
// every scraped container port to the pod's own namespace, so a target is
// reached the way a cluster's Prometheus reaches a pod: its IP and the
// container port.
//
// The generated Grafana dashboards are run on it as Grafana would run them
// (dashboard.go): their variables substituted, each query parsed with
// Prometheus' own PromQL parser and evaluated by the server.
package promsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

// Target is one scrape target.
type Target struct {
	Source   string // the object it comes from, e.g. "ServiceMonitor frontend-ambassador"
	Pod      *podsim.Pod
	Port     int    // container port
	Path     string // metrics path
	Interval string // "" for the global one
	// Labels the target gets: job (the Operator's: the Service's name for
	// a ServiceMonitor, <namespace>/<name> for a PodMonitor), namespace,
	// pod, and service for a ServiceMonitor.
	Labels map[string]string
	Addr   string // pod IP:port in Prometheus' namespace, set by Start
}

// Targets resolves every scrape target that objs (a sidecarize output)
// define for pods: a ServiceMonitor's endpoint port names a port of a
// Service it selects, whose targetPort is a container port of the pod; a
// PodMonitor's names a container port; the prometheus.io annotations of a
// pod template give the port and path. An endpoint that resolves to no
// container port is an error naming it.
func Targets(objs []manifest.Object, pods []*podsim.Pod) ([]Target, error) {
	var out []Target
	for _, o := range objs {
		switch o.Kind() {
		case "ServiceMonitor":
			ts, err := serviceMonitor(o, pods)
			if err != nil {
				return nil, err
			}
			out = append(out, ts...)
		case "PodMonitor":
			ts, err := podMonitor(o, pods)
			if err != nil {
				return nil, err
			}
			out = append(out, ts...)
		}
	}
	for _, p := range pods {
		a := manifest.Map(p.Template, "metadata", "annotations")
		if fmt.Sprint(a["prometheus.io/scrape"]) != "true" {
			continue
		}
		port, err := strconv.Atoi(fmt.Sprint(a["prometheus.io/port"]))
		if err != nil || !hasPort(p, port) {
			return nil, fmt.Errorf("%s: prometheus.io/port %v: not a container port of the pod", p.Workload, a["prometheus.io/port"])
		}
		path, _ := a["prometheus.io/path"].(string)
		out = append(out, Target{Source: "prometheus.io annotations of " + p.Workload, Pod: p, Port: port, Path: orMetrics(path),
			Labels: map[string]string{"job": "kubernetes-pods", "namespace": namespace(p), "pod": podName(p)}})
	}
	return out, nil
}

func serviceMonitor(sm manifest.Object, pods []*podsim.Pod) ([]Target, error) {
	sel := manifest.Map(sm, "spec", "selector", "matchLabels")
	var out []Target
	for i, e := range manifest.Slice(sm, "spec", "endpoints") {
		ep, _ := e.(map[string]any)
		name, _ := ep["port"].(string)
		found := false
		for _, p := range pods {
			for _, svc := range p.Services {
				if !matches(sel, manifest.Map(svc, "metadata", "labels")) {
					continue
				}
				for _, sp := range manifest.Slice(svc, "spec", "ports") {
					spm, _ := sp.(map[string]any)
					if spm["name"] != name {
						continue
					}
					cp, err := p.ResolveTargetPort(spm)
					if err != nil {
						return nil, fmt.Errorf("ServiceMonitor %s endpoints[%d]: %w", sm.Name(), i, err)
					}
					found = true
					svcName := manifest.Str(svc, "metadata", "name")
					out = append(out, Target{Source: "ServiceMonitor " + sm.Name(), Pod: p, Port: cp.Port,
						Path: orMetrics(manifest.Str(ep, "path")), Interval: manifest.Str(ep, "interval"),
						Labels: map[string]string{"job": svcName, "service": svcName, "namespace": namespace(p), "pod": podName(p)}})
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("ServiceMonitor %s endpoints[%d]: port %q: no port of that name on a Service it selects", sm.Name(), i, name)
		}
	}
	return out, nil
}

func podMonitor(pm manifest.Object, pods []*podsim.Pod) ([]Target, error) {
	sel := manifest.Map(pm, "spec", "selector", "matchLabels")
	var out []Target
	for i, e := range manifest.Slice(pm, "spec", "podMetricsEndpoints") {
		ep, _ := e.(map[string]any)
		name, _ := ep["port"].(string)
		found := false
		for _, p := range pods {
			if !matches(sel, manifest.Map(p.Template, "metadata", "labels")) {
				continue
			}
			for _, cp := range p.Ports() {
				if cp.Name != name {
					continue
				}
				found = true
				out = append(out, Target{Source: "PodMonitor " + pm.Name(), Pod: p, Port: cp.Port,
					Path: orMetrics(manifest.Str(ep, "path")), Interval: manifest.Str(ep, "interval"),
					Labels: map[string]string{"job": pmJob(pm), "namespace": namespace(p), "pod": podName(p)}})
			}
		}
		if !found {
			return nil, fmt.Errorf("PodMonitor %s podMetricsEndpoints[%d]: port %q: no container port of that name in a pod it selects", pm.Name(), i, name)
		}
	}
	return out, nil
}

// pmJob is the Operator's job label of a PodMonitor's targets.
func pmJob(pm manifest.Object) string {
	if pm.Namespace() == "" {
		return pm.Name()
	}
	return pm.Namespace() + "/" + pm.Name()
}

func matches(sel map[string]any, labels map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func hasPort(p *podsim.Pod, port int) bool {
	for _, cp := range p.Ports() {
		if cp.Port == port {
			return true
		}
	}
	return false
}

func orMetrics(path string) string {
	if path == "" {
		return "/metrics"
	}
	return path
}

// namespace is the pod's namespace label: its workload's, else default
// (where a namespace-less manifest is applied).
func namespace(p *podsim.Pod) string {
	if p.Namespace != "" {
		return p.Namespace
	}
	return "default"
}

// podName stands for the pod's name, as the controller of its workload's
// kind names its pods (a Deployment's api-7d9c5b6f48-x2kqz, a StatefulSet's
// db-0, a bare Pod's own name): the generated dashboards select a
// workload's pods by these names.
func podName(p *podsim.Pod) string {
	kind, name := p.Workload, p.Workload
	if i := strings.Index(kind, "/"); i >= 0 {
		kind = kind[:i]
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name + PodSuffix(kind)
}

// PodSuffix is what the controller of a workload kind appends to the
// workload's name in its pods' names (one example name each).
func PodSuffix(kind string) string {
	switch kind {
	case "Pod":
		return ""
	case "Deployment", "Rollout":
		return "-7d9c5b6f48-x2kqz"
	case "StatefulSet":
		return "-0"
	case "CronJob":
		return "-29123456-x2kqz"
	}
	return "-x2kqz" // DaemonSet, ReplicaSet, ReplicationController, Job
}

// RuleGroups are the groups of every PrometheusRule in objs.
func RuleGroups(objs []manifest.Object) []any {
	var groups []any
	for _, o := range objs {
		if o.Kind() == "PrometheusRule" {
			groups = append(groups, manifest.Slice(o, "spec", "groups")...)
		}
	}
	return groups
}

// Options of a Prometheus run.
type Options struct {
	Bin     string        // the prometheus binary (default: prometheus on PATH)
	Targets []Target      // scraped
	Sims    []*podsim.Sim // the running pods of the targets
	Groups  []any         // rule groups
	// Interval is the global scrape and evaluation interval (default 1s).
	Interval string
	Dir      string // config and TSDB (default: a new temp dir, removed by Stop)
}

// Prom is a running Prometheus.
type Prom struct {
	NS      *podsim.NetNS
	Web     string // host:port of its HTTP API, in NS
	Targets []Target
	cmd     *exec.Cmd
	done    <-chan struct{}
	logs    podsim.SyncBuffer
	closers []func()
	client  *http.Client
}

// Start writes the config and runs Prometheus; it returns once the HTTP API
// answers /-/ready.
func Start(ctx context.Context, opt Options) (_ *Prom, err error) {
	if opt.Bin == "" {
		if opt.Bin, err = exec.LookPath("prometheus"); err != nil {
			return nil, fmt.Errorf("promsim: %w (scripts/deps.sh installs Debian's prometheus)", err)
		}
	}
	if opt.Interval == "" {
		opt.Interval = "1s"
	}
	p := &Prom{}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	if opt.Dir == "" {
		dir, err := os.MkdirTemp("", "sidecarize-promsim-")
		if err != nil {
			return nil, err
		}
		opt.Dir = dir
		p.closers = append(p.closers, func() { os.RemoveAll(dir) })
	}
	if p.NS, err = podsim.NewNetNS(); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.NS.Close)
	p.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: p.NS.DialContext, DisableKeepAlives: true}}

	// A pod IP per pod, a relay per scraped port.
	ips := map[*podsim.Pod]string{}
	relayed := map[string]bool{}
	byJob := map[string][]any{}
	var jobs []string
	for _, t := range opt.Targets {
		var sim *podsim.Sim
		for _, s := range opt.Sims {
			if s.Pod == t.Pod {
				sim = s
			}
		}
		if sim == nil {
			return nil, fmt.Errorf("promsim: %s: pod %s is not running", t.Source, t.Pod.Workload)
		}
		if ips[t.Pod] == "" {
			ips[t.Pod] = fmt.Sprintf("127.0.0.%d", 10+len(ips))
		}
		t.Addr = net.JoinHostPort(ips[t.Pod], strconv.Itoa(t.Port))
		if !relayed[t.Addr] {
			ln, err := podsim.Relay(p.NS, t.Addr, sim.NS, "127.0.0.1:"+strconv.Itoa(t.Port))
			if err != nil {
				return nil, fmt.Errorf("promsim: %s: %w", t.Source, err)
			}
			p.closers = append(p.closers, func() { ln.Close() })
			relayed[t.Addr] = true
		}
		p.Targets = append(p.Targets, t)
		// One scrape config per object and endpoint, as the Operator
		// writes them (serviceMonitor/<ns>/<name>/<i>); the job label is
		// the target's.
		name := t.Source + " " + t.Path + " " + t.Interval
		if byJob[name] == nil {
			jobs = append(jobs, name)
		}
		byJob[name] = append(byJob[name], map[string]any{"targets": []string{t.Addr}, "labels": t.Labels})
	}
	var scrapes []any
	for i, name := range jobs {
		var first Target
		for _, t := range p.Targets {
			if t.Source+" "+t.Path+" "+t.Interval == name {
				first = t
				break
			}
		}
		sc := map[string]any{"job_name": fmt.Sprintf("scrape-%d", i), "metrics_path": first.Path, "static_configs": byJob[name]}
		if first.Interval != "" {
			// Prometheus' scrape timeout is 10s, at most the interval
			// (else it would be the global one, shorter here).
			sc["scrape_interval"] = first.Interval
			if d, err := time.ParseDuration(first.Interval); err == nil && d <= 10*time.Second {
				sc["scrape_timeout"] = first.Interval
			}
		}
		scrapes = append(scrapes, sc)
	}
	rules := filepath.Join(opt.Dir, "rules.yaml")
	config := map[string]any{
		"global":         map[string]any{"scrape_interval": opt.Interval, "evaluation_interval": opt.Interval},
		"rule_files":     []string{rules},
		"scrape_configs": scrapes,
	}
	groups := opt.Groups
	if groups == nil {
		groups = []any{}
	}
	for file, v := range map[string]any{"prometheus.yaml": config, rules: map[string]any{"groups": groups}} {
		b, err := json.Marshal(v) // YAML is a superset of JSON
		if err != nil {
			return nil, err
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(opt.Dir, file)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return nil, err
		}
	}
	l, err := p.NS.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.Web = l.Addr().String()
	l.Close()
	p.cmd = exec.Command(opt.Bin, "--config.file="+filepath.Join(opt.Dir, "prometheus.yaml"),
		"--storage.tsdb.path="+filepath.Join(opt.Dir, "data"), "--web.listen-address="+p.Web)
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if p.done, err = p.NS.Start(p.cmd); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.get(ctx, "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("promsim: prometheus exited:\n%s", p.logs.String())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("promsim: prometheus not ready after 30s:\n%s", p.logs.String())
		}
	}
}

// Stop ends Prometheus and the relays.
func (p *Prom) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		p.cmd = nil
	}
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

// Logs is what Prometheus printed.
func (p *Prom) Logs() string { return p.logs.String() }

func (p *Prom) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Web+path, nil)
	if err != nil {
		return nil, err
	}
	return p.client.Do(req)
}

// api GETs an /api/v1 endpoint and decodes its data.
func (p *Prom) api(ctx context.Context, path string, data any) error {
	resp, err := p.get(ctx, "/api/v1/"+path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s", path, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

// Sample is one element of an instant vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query evaluates an instant query now.
func (p *Prom) Query(ctx context.Context, q string) ([]Sample, error) {
	var d struct {
		Result []struct {
			Metric map[string]string
			Value  [2]any
		}
	}
	if err := p.api(ctx, "query?query="+url.QueryEscape(q), &d); err != nil {
		return nil, err
	}
	var out []Sample
	for _, r := range d.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", q, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// LabelValues is /api/v1/label/<label>/values for the series match
// selects ("" for every series): what Grafana's label_values(match, label)
// lists.
func (p *Prom) LabelValues(ctx context.Context, label, match string) ([]string, error) {
	path := "label/" + url.PathEscape(label) + "/values"
	if match != "" {
		path += "?match[]=" + url.QueryEscape(match)
	}
	var vs []string
	if err := p.api(ctx, path, &vs); err != nil {
		return nil, err
	}
	return vs, nil
}

// Rule is a rule's state from /api/v1/rules.
type Rule struct {
	Group     string
	Name      string
	Query     string
	Labels    map[string]string
	Type      string // recording | alerting
	State     string // alerting: inactive | pending | firing
	Health    string // ok | err | unknown
	LastError string
}

// Selector selects the series a recording rule writes: its name and
// labels.
func (r Rule) Selector() string {
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var m []string
	for _, k := range keys {
		m = append(m, fmt.Sprintf("%s=%q", k, r.Labels[k]))
	}
	return r.Name + "{" + strings.Join(m, ",") + "}"
}

// Rules lists every rule with its state.
func (p *Prom) Rules(ctx context.Context) ([]Rule, error) {
	var d struct {
		Groups []struct {
			Name  string
			Rules []Rule
		}
	}
	if err := p.api(ctx, "rules", &d); err != nil {
		return nil, err
	}
	var out []Rule
	for _, g := range d.Groups {
		for _, r := range g.Rules {
			r.Group = g.Name
			out = append(out, r)
		}
	}
	return out, nil
}

// Alert is an active (pending or firing) alert.
type Alert struct {
	Labels map[string]string
	State  string
}

// Alerts lists the active alerts.
func (p *Prom) Alerts(ctx context.Context) ([]Alert, error) {
	var d struct{ Alerts []Alert }
	if err := p.api(ctx, "alerts", &d); err != nil {
		return nil, err
	}
	return d.Alerts, nil
}

// TargetHealth is an active target from /api/v1/targets.
type TargetHealth struct {
	Labels         map[string]string
	ScrapeURL      string
	ScrapeInterval string
	Health         string // up | down | unknown
	LastError      string
}

// TargetHealths lists the active targets.
func (p *Prom) TargetHealths(ctx context.Context) ([]TargetHealth, error) {
	var d struct{ ActiveTargets []TargetHealth }
	if err := p.api(ctx, "targets?state=active", &d); err != nil {
		return nil, err
	}
	sort.Slice(d.ActiveTargets, func(i, j int) bool { return d.ActiveTargets[i].ScrapeURL < d.ActiveTargets[j].ScrapeURL })
	return d.ActiveTargets, nil
}
