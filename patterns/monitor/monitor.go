package monitor

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/dashboard"
	"github.com/sidecarize/sidecarize/patterns/haproxy"
	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// Names of what the pattern adds to the pod.
const (
	ContainerName   = transform.MonitorContainer
	VolumeName      = transform.MonitorVolume
	ProxyPortName   = transform.MonitorProxyPortName
	MetricsPortName = transform.MonitorMetricsPortName
)

// The HAProxy proxies of the generated config, which name the `proxy` label
// of its metrics: the frontend clients connect to, and the backend that
// forwards to the app. Backends are "be_" + a name: HAProxy 3.3+ refuses a
// backend named like a frontend, and no frontend name contains "_".
const (
	FrontendProxy = "app"
	BackendProxy  = "be_app"
)

// Options of the monitor pattern.
type Options struct {
	// Port is the app container port to proxy, by name or number.
	Port string `json:"port,omitempty" doc:"app port to proxy, name or number (default: the first declared port)"`
	// Protocol is http, grpc, http2 or tcp.
	Protocol string `json:"protocol,omitempty" doc:"http | grpc | http2 (h2 both sides) | tcp"`
	// ProxyPort is where the proxy listens; the Service targetPort moves here.
	ProxyPort int32 `json:"proxyPort,omitempty" doc:"port the proxy listens on"`
	// MetricsPort serves Prometheus metrics.
	MetricsPort int32 `json:"metricsPort,omitempty" doc:"port of the Prometheus endpoint"`
	// MetricsPath is the metrics URL path.
	MetricsPath string `json:"metricsPath,omitempty" doc:"path of the Prometheus endpoint"`
	scrape.Options
	// Rules adds a PrometheusRule (request rate, error ratio, latency, alert).
	Rules bool `json:"rules,omitempty" doc:"add a PrometheusRule with recording rules and a high-error-rate alert"`
	// ErrorRatio is the alert threshold on the 5xx ratio.
	ErrorRatio float64 `json:"errorRatio,omitempty" doc:"5xx ratio above which the alert fires"`
	// AlertFor is how long the ratio stays above ErrorRatio before the
	// alert fires (the rule's for:).
	AlertFor string `json:"alertFor,omitempty" doc:"how long the 5xx ratio stays above errorRatio before the alert fires (the rule's for:)"`
	// Dashboard adds the proxy's panels to the workload's Grafana dashboard.
	Dashboard bool `json:"dashboard,omitempty" doc:"panels in the workload's Grafana dashboard (a ConfigMap the Grafana sidecar imports): request rate, 5xx ratio, response time, active connections"`
	// Timeout is HAProxy's client/server timeout.
	Timeout string `json:"timeout,omitempty" doc:"client and server timeout"`
	// MaxConnections caps concurrent connections.
	MaxConnections int `json:"maxConnections,omitempty" doc:"maximum concurrent connections"`
	// Resources overrides the container's requests and limits.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty" doc:"requests and limits of the proxy container"`
}

// Default returns the defaults.
func Default() *Options {
	return &Options{
		Protocol:       "http",
		ProxyPort:      transform.MonitorProxyPort,
		MetricsPort:    transform.MonitorMetricsPort,
		MetricsPath:    "/metrics",
		Options:        scrape.Options{Scrape: scrape.Auto, Interval: "30s"},
		ErrorRatio:     0.05,
		AlertFor:       "5m",
		Dashboard:      true,
		Timeout:        "60s",
		MaxConnections: 4096,
	}
}

// Validate checks option values.
func (o *Options) Validate() error {
	switch o.Protocol {
	case "http", "grpc", "http2", "tcp":
	default:
		return fmt.Errorf("protocol: %q: must be http, grpc, http2 or tcp", o.Protocol)
	}
	var ports validate.PortSet
	if err := ports.Add("proxyPort", o.ProxyPort); err != nil {
		return err
	}
	if err := ports.Add("metricsPort", o.MetricsPort); err != nil {
		return err
	}
	if err := haproxy.CheckFront(o.MetricsPath, o.Options, o.Timeout, o.MaxConnections); err != nil {
		return err
	}
	if o.Rules {
		if o.Protocol == "tcp" {
			return fmt.Errorf("rules: HTTP request metrics do not exist in tcp mode")
		}
		if err := o.Options.CheckErrorRateRules(o.ErrorRatio); err != nil {
			return err
		}
	}
	if err := scrape.CheckAlertFor("alertFor", o.AlertFor); err != nil {
		return err
	}
	return nil
}

// Pattern is the monitor pattern.
type Pattern struct{}

var _ transform.Pattern = Pattern{}

// Name implements transform.Pattern.
func (Pattern) Name() string { return "monitor" }

// ConfigKey implements transform.Pattern.
func (Pattern) ConfigKey() string { return "monitor" }

// ImageKeys implements transform.ImageUser: the spec.images keys it reads.
func (Pattern) ImageKeys() []string { return []string{"haproxy"} }

// Summary implements transform.Pattern.
func (Pattern) Summary() string {
	return "sidecar: HAProxy reverse proxy in front of an app port, Prometheus metrics, ServiceMonitor/PodMonitor, PrometheusRule"
}

// NewOptions implements transform.Pattern.
func (Pattern) NewOptions() transform.Options { return Default() }

type cfgData struct {
	haproxy.Config
	AppPort   int32
	ProxyPort int32
	Mode      string
	H2        bool
}

// Inject implements transform.Pattern.
func (Pattern) Inject(w *transform.Workload, opts transform.Options) error {
	o := opts.(*Options)
	_, port, err := w.ResolvePort(o.Port)
	if err != nil {
		return err
	}
	if !w.Explicit("protocol") {
		// By the port's protocol, name or appProtocol: gRPC and h2c get
		// HTTP/2 on both sides; a TLS port named explicitly is passed
		// through as TCP (an HTTP proxy would break it).
		switch proto, src := w.PortProtocol(port); proto {
		case transform.ProtoGRPC, transform.ProtoHTTP2, transform.ProtoTCP:
			o.Protocol = proto
			w.Warn("port %d is %s (by its %s): proxied as %s", port.ContainerPort, proto, src, proto)
		case transform.ProtoTLS:
			o.Protocol = "tcp"
			w.Warn("port %d carries TLS (by its %s): passed through as tcp, request metrics are not available", port.ContainerPort, src)
		}
	}
	ports, err := w.Ports(transform.PortRequest{Option: "proxyPort", Want: o.ProxyPort, Name: ProxyPortName},
		transform.PortRequest{Option: "metricsPort", Want: o.MetricsPort, Name: MetricsPortName})
	if err != nil {
		return err
	}
	proxy, metrics := ports[0], ports[1]
	o.ProxyPort, o.MetricsPort = proxy.ContainerPort, metrics.ContainerPort
	mode := "http"
	if o.Protocol == "tcp" {
		mode = "tcp"
	}
	data := cfgData{
		Config: haproxy.Config{
			Workload: w.Ref(), MaxConnections: o.MaxConnections,
			MetricsPort: o.MetricsPort, MetricsPath: o.MetricsPath,
			Defaults: haproxy.FrontDefaults(mode, o.Timeout),
		},
		AppPort: port.ContainerPort, ProxyPort: o.ProxyPort, Mode: mode,
		H2: o.Protocol == "grpc" || o.Protocol == "http2",
	}
	if err := haproxy.Deploy(w, "haproxy-monitor.cfg.tmpl", data, haproxy.Spec{
		Name: ContainerName, Volume: VolumeName,
		Ports:     []corev1.ContainerPort{proxy, metrics},
		ProbePort: o.ProxyPort,
		Resources: o.Resources,
	}); err != nil {
		return err
	}
	w.EditService(transform.Retarget(port, o.ProxyPort, proxy.Name))
	so := o.Options
	// A PrometheusRule is read by the Prometheus Operator only: asking for
	// one says the operator is there, so auto scrapes with its objects.
	so.Operator = o.Rules
	res, err := scrape.Apply(w, so, scrape.Endpoint{PortName: metrics.Name, Port: o.MetricsPort, Path: o.MetricsPath, ServicePort: transform.MonitorServicePort})
	if err != nil {
		return err
	}
	if o.Dashboard {
		s, err := cachedPanels(w, o, port.ContainerPort)
		if err != nil {
			return err
		}
		dashboard.Add(w, s)
	}
	if o.Rules {
		return w.AddObject(rules(w, o, res.Job))
	}
	return nil
}

// cachedPanels is panels(w, o, appPort) from a cache: the row depends on
// the workload's kind (its pods' names), the protocol, the app port and the
// alert's threshold only, the same for most workloads of a stream. A kept
// row is copied (its panels and queries; the threshold points at
// o.ErrorRatio, as panels' does); the cache is bounded (maxPanels). Under
// transform.Verify (every test binary, SIDECARIZE_VERIFY=1) every copy is
// compared with the row panels builds.
func cachedPanels(w *transform.Workload, o *Options, appPort int32) (dashboard.Section, error) {
	key := panelKey{kind: w.Kind, protocol: o.Protocol, appPort: appPort, rules: o.Rules, ratio: math.Float64bits(o.ErrorRatio)}
	kept, ok := panelCache.Load(key)
	if panelsOff {
		return panels(w, o, appPort), nil
	}
	if !ok {
		s := panels(w, o, appPort)
		if panelCount.Load() < maxPanels {
			if _, loaded := panelCache.LoadOrStore(key, copySection(s, nil)); !loaded {
				panelCount.Add(1)
			}
		}
		return s, nil
	}
	var threshold *float64
	if o.Rules {
		threshold = &o.ErrorRatio
	}
	s := copySection(kept.(dashboard.Section), threshold)
	if transform.Verify() { // transform/verify.go
		if !reflect.DeepEqual(s, panels(w, o, appPort)) {
			return s, fmt.Errorf("internal error: %s: the monitor's dashboard row from the cache differs from the one built for it", w.Ref())
		}
	}
	return s, nil
}

type panelKey struct {
	kind, protocol string
	appPort        int32
	rules          bool
	ratio          uint64 // the bits of ErrorRatio
}

const maxPanels = 64

var (
	panelCache sync.Map // panelKey -> dashboard.Section
	panelCount atomic.Int64
	panelsOff  bool // TestCachedPanels builds every row both ways
)

// copySection copies s's panels and their queries; a threshold points at
// threshold (nil: at a copy of its value).
func copySection(s dashboard.Section, threshold *float64) dashboard.Section {
	out := dashboard.Section{Title: s.Title, Panels: make([]dashboard.Panel, len(s.Panels))}
	for i, p := range s.Panels {
		p.Queries = append([]dashboard.Query(nil), p.Queries...)
		if p.Threshold != nil {
			t := threshold
			if t == nil {
				v := *p.Threshold
				t = &v
			}
			p.Threshold = t
		}
		out.Panels[i] = p
	}
	return out
}

// panels are the monitor's row of the workload's dashboard, over the same
// series as the rules.
func panels(w *transform.Workload, o *Options, appPort int32) dashboard.Section {
	h := dashboard.HAProxy{Frontends: []string{FrontendProxy}, Backends: []string{BackendProxy}, Legend: "$" + dashboard.VarWorkload}
	s := dashboard.Section{Title: fmt.Sprintf("monitor: the proxy in front of port %d (%s)", appPort, o.Protocol)}
	if o.Protocol == "tcp" {
		s.Panels = []dashboard.Panel{h.ConnectionRate(w), h.ActiveConnections(w)}
		return s
	}
	var threshold *float64
	if o.Rules {
		threshold = &o.ErrorRatio
	}
	s.Panels = []dashboard.Panel{h.RequestRate(w), h.ErrorRatio(w, threshold), h.ResponseTime(w), h.ActiveConnections(w)}
	return s
}

// rules are the recording rules and the alert of seed 1 "v1", over HAProxy's
// exporter metrics, selected by the scrape job: requests on the "app"
// frontend, responses and latency on its "be_app" backend (the proxy label
// is the frontend's or the backend's name).
func rules(w *transform.Workload, o *Options, job string) scrape.PrometheusRule {
	sc := scrape.Scope(w, job)
	fe, be := sc.Selector+`,proxy="`+FrontendProxy+`"`, sc.Selector+`,proxy="`+BackendProxy+`"`
	return scrape.NewPrometheusRule(w,
		scrape.Rule{Record: "sidecarize:http_requests:rate5m", Labels: sc.Labels,
			Expr: fmt.Sprintf(`sum(rate(haproxy_frontend_http_requests_total{%s}[5m]))`, fe)},
		scrape.Rule{Record: "sidecarize:http_errors:ratio_rate5m", Labels: sc.Labels,
			Expr: fmt.Sprintf(`sum(rate(haproxy_backend_http_responses_total{%s,code="5xx"}[5m])) / sum(rate(haproxy_backend_http_responses_total{%s}[5m]))`, be, be)},
		scrape.Rule{Record: "sidecarize:http_response_time_seconds:avg", Labels: sc.Labels,
			Expr: fmt.Sprintf(`avg(haproxy_backend_response_time_average_seconds{%s})`, be)},
		scrape.Rule{Alert: "SidecarizeHighErrorRate",
			Expr:   fmt.Sprintf(`sidecarize:http_errors:ratio_rate5m{%s} > %g`, sc.Ref, o.ErrorRatio),
			For:    o.AlertFor,
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("%s: more than %g%% of responses are 5xx", w.Ref(), o.ErrorRatio*100),
				"description": "The 5xx ratio measured by the sidecarize monitor proxy is {{ $value | humanizePercentage }} over 5 minutes.",
			}},
	)
}
