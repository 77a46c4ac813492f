package tracing

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// DefaultImage is the current Envoy release (1.40, October 2026), the
// official image. Its envoy user is uid 101. Override with
// spec.images.envoy (a digest pins it fully).
const DefaultImage = "envoyproxy/envoy:v1.40.2"

// UID is the envoy user of the official image, numeric so runAsNonRoot can
// be verified.
const UID int64 = 101

// Names of what the pattern adds to the pod.
const (
	ContainerName   = transform.TracingContainer
	VolumeName      = transform.TracingVolume
	ProxyPortName   = transform.TracingProxyPortName
	MetricsPortName = transform.TracingMetricsPortName
	// ServicePortName is the Service port added for a ServiceMonitor; not
	// "metrics", so the pattern composes with monitor on one workload.
	ServicePortName = transform.TracingServicePort
	ConfigDir       = "/etc/envoy"
	ConfigKey       = "envoy.yaml"
	// MetricsPath is Envoy's Prometheus endpoint, served from the admin
	// interface through the metrics listener.
	MetricsPath = "/stats/prometheus"
)

// Tracers.
const (
	Zipkin = "zipkin"
	OTLP   = "otlp"
)

// Options of the tracing pattern.
type Options struct {
	// Port is the app container port Envoy fronts.
	Port string `json:"port,omitempty" doc:"app port Envoy fronts, name or number (default: the first declared port)"`
	// Protocol is how Envoy talks to the app.
	Protocol string `json:"protocol,omitempty" doc:"http | http2 | grpc: the app's protocol (http2 and grpc: h2c to the app; clients may use either)"`
	// ProxyPort is the inbound listener; the Service targetPort moves here.
	ProxyPort int32 `json:"proxyPort,omitempty" doc:"port of Envoy's inbound listener; the Service targetPort moves here"`
	// AdminPort is Envoy's admin interface, bound to 127.0.0.1 only.
	AdminPort int32 `json:"adminPort,omitempty" doc:"port of Envoy's admin interface (127.0.0.1 only)"`
	// MetricsPort exposes only /stats/prometheus and /ready of the admin
	// interface.
	MetricsPort int32 `json:"metricsPort,omitempty" doc:"port exposing the admin interface's /stats/prometheus and /ready (probes) and nothing else"`
	scrape.Options
	// Rules adds a PrometheusRule: the 5xx ratio of the requests Envoy's
	// inbound listener answered, and an alert above ErrorRatio.
	Rules bool `json:"rules,omitempty" doc:"add a PrometheusRule with the inbound 5xx ratio Envoy measures and a high-error-rate alert"`
	// ErrorRatio is the alert threshold on the 5xx ratio.
	ErrorRatio float64 `json:"errorRatio,omitempty" doc:"5xx ratio above which the alert fires"`
	// AlertFor is how long the ratio stays above ErrorRatio before the
	// alert fires (the rule's for:).
	AlertFor string `json:"alertFor,omitempty" doc:"how long the 5xx ratio stays above errorRatio before the alert fires (the rule's for:)"`
	// Tracer is zipkin or otlp.
	Tracer string `json:"tracer,omitempty" doc:"zipkin (Jaeger's or Zipkin's v2 JSON endpoint) | otlp (OpenTelemetry over gRPC)"`
	// Zipkin configures the zipkin tracer.
	Zipkin ZipkinOptions `json:"zipkin,omitempty" doc:"zipkin tracer settings"`
	// OTLP configures the otlp tracer.
	OTLP OTLPOptions `json:"otlp,omitempty" doc:"otlp tracer settings"`
	// SamplingPercent of requests are traced (a request that arrives with a
	// sampling decision keeps it).
	SamplingPercent float64 `json:"samplingPercent,omitempty" doc:"percentage (0-100) of new traces that are sampled"`
	// ServiceName is the service in the traces.
	ServiceName string `json:"serviceName,omitempty" doc:"service name in the traces (default: the workload's name)"`
	// Edge makes this workload the edge of the traced system.
	Edge bool `json:"edge,omitempty" doc:"the workload faces outside clients: Envoy replaces their x-request-id and appends to x-forwarded-for (use_remote_address)"`
	// Timeout is the route timeout of every listener.
	Timeout string `json:"timeout,omitempty" doc:"request timeout, inbound and outbound (0s: none)"`
	// Upstreams get outbound listeners.
	Upstreams []Upstream `json:"upstreams,omitempty" doc:"named upstreams reached through Envoy (outbound listeners on 127.0.0.1)"`
	// Resources overrides the container's requests and limits.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty" doc:"requests and limits of the Envoy container"`
}

// ZipkinOptions configure the zipkin tracer.
type ZipkinOptions struct {
	// Collector is the Zipkin v2 endpoint URL (or host:port, path
	// /api/v2/spans).
	Collector string `json:"collector,omitempty" doc:"Zipkin v2 span endpoint: http(s) URL, or host:port for /api/v2/spans (Jaeger's collector serves it on 9411)" consent:"collectors"`
}

// OTLPOptions configure the otlp tracer.
type OTLPOptions struct {
	// Collector is the collector's OTLP/gRPC host:port.
	Collector string `json:"collector,omitempty" doc:"OpenTelemetry collector's OTLP/gRPC host:port" consent:"collectors"`
}

// Upstream is one outbound listener.
type Upstream struct {
	// Name names the listener and cluster (and its statistics).
	Name string `json:"name" doc:"name of the upstream (listener, cluster and stats name)"`
	// Upstream is where it is.
	Upstream string `json:"upstream,omitempty" doc:"http or https URL, or host:port, of the upstream (default: the value of env in the app); for https Envoy originates TLS and verifies the certificate against the image's CA bundle"`
	// Env is the app's env var that points at the upstream.
	Env string `json:"env,omitempty" doc:"app env var holding the upstream's address; rewritten to the local listener, keeping path and query (https becomes http: the app talks plain HTTP to Envoy)"`
	// LocalPort is the outbound listener's port on 127.0.0.1.
	LocalPort int32 `json:"localPort,omitempty" doc:"port of the outbound listener on 127.0.0.1"`
	// Protocol is how Envoy talks to the upstream.
	Protocol string `json:"protocol,omitempty" doc:"http | http2 (h2c, e.g. to another Envoy sidecar)"`
}

// Default returns the defaults.
func Default() *Options {
	return &Options{
		Protocol:        "http",
		ProxyPort:       transform.TracingProxyPort,
		AdminPort:       transform.TracingAdminPort,
		MetricsPort:     transform.TracingMetricsPort,
		Options:         scrape.Options{Scrape: scrape.Auto, Interval: "30s"},
		ErrorRatio:      0.05,
		AlertFor:        "5m",
		Tracer:          Zipkin,
		Zipkin:          ZipkinOptions{Collector: "http://jaeger-collector:9411/api/v2/spans"},
		OTLP:            OTLPOptions{Collector: "opentelemetry-collector:4317"},
		SamplingPercent: 100,
		Timeout:         "60s",
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,40}[a-z0-9])?$`)

// Validate checks option values.
func (o *Options) Validate() error {
	switch o.Protocol {
	case "http", "http2", "grpc":
	default:
		return fmt.Errorf("protocol: %q: must be http, http2 or grpc", o.Protocol)
	}
	var ports validate.PortSet
	for _, p := range []struct {
		name string
		v    int32
	}{{"proxyPort", o.ProxyPort}, {"adminPort", o.AdminPort}, {"metricsPort", o.MetricsPort}} {
		if err := ports.Add(p.name, p.v); err != nil {
			return err
		}
	}
	if err := o.Options.Validate(); err != nil {
		return err
	}
	if o.Rules {
		if err := o.Options.CheckErrorRateRules(o.ErrorRatio); err != nil {
			return err
		}
	}
	if err := scrape.CheckAlertFor("alertFor", o.AlertFor); err != nil {
		return err
	}
	switch o.Tracer {
	case Zipkin:
		if _, err := parseZipkin(o.Zipkin.Collector); err != nil {
			return fmt.Errorf("zipkin.collector: %w", err)
		}
	case OTLP:
		if _, err := parseOTLP(o.OTLP.Collector); err != nil {
			return fmt.Errorf("otlp.collector: %w", err)
		}
	default:
		return fmt.Errorf("tracer: %q: must be zipkin or otlp", o.Tracer)
	}
	if !(o.SamplingPercent >= 0 && o.SamplingPercent <= 100) { // NaN too
		return fmt.Errorf("samplingPercent: %v: must be between 0 and 100", o.SamplingPercent)
	}
	if _, err := envoyDuration(o.Timeout); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, u := range o.Upstreams {
		f := fmt.Sprintf("upstreams[%d]", i)
		if !nameRE.MatchString(u.Name) {
			return fmt.Errorf("%s.name: %q: must be lower-case letters, digits, - and _ (at most 42)", f, u.Name)
		}
		if names[u.Name] {
			return fmt.Errorf("%s.name: %q is used twice", f, u.Name)
		}
		names[u.Name] = true
		if u.Upstream == "" && u.Env == "" {
			return fmt.Errorf("%s (%s): set upstream, env or both", f, u.Name)
		}
		if u.Upstream != "" {
			if _, err := parseTarget(u.Upstream); err != nil {
				return fmt.Errorf("%s.upstream: %w", f, err)
			}
		}
		if err := ports.Add(f+".localPort", u.LocalPort); err != nil {
			return err
		}
		switch u.Protocol {
		case "", "http", "http2":
		default:
			return fmt.Errorf("%s.protocol: %q: must be http or http2", f, u.Protocol)
		}
	}
	return nil
}

// envoyDuration checks the timeout (0s: none) and writes it the way
// protobuf JSON wants a google.protobuf.Duration: seconds with an "s"
// suffix.
func envoyDuration(s string) (string, error) {
	d, err := validate.Duration("timeout", s)
	if err != nil {
		return "", err
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s", nil
}

// target is an HTTP address as users write it: a URL with the http scheme,
// or host:port optionally followed by a path.
type target struct {
	URL  *url.URL // nil for the host:port form
	TLS  bool     // https: Envoy originates TLS
	Host string
	Port int32
	Rest string // host:port form: what followed the authority ("/path?q")
}

// Authority is host:port as written.
func (t target) Authority() string {
	if t.URL != nil {
		return t.URL.Host
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
}

// Local is the same address with the authority replaced by 127.0.0.1:port:
// user info, path, query and fragment stay, and so does the scheme, except
// that https becomes http: the app talks plain HTTP to Envoy, which
// originates TLS.
func (t target) Local(port int32) string {
	hp := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	if t.URL != nil {
		u := *t.URL
		u.Host = hp
		if t.TLS {
			u.Scheme = "http"
		}
		return u.String()
	}
	return hp + t.Rest
}

func parseTarget(s string) (target, error) {
	if s == "" {
		return target{}, fmt.Errorf("empty address")
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return target{}, fmt.Errorf("%q: %v", s, err)
		}
		port := int32(80)
		switch u.Scheme {
		case "http":
		case "https":
			port = 443
		default:
			return target{}, fmt.Errorf("%q: scheme %q: expected http or https", s, u.Scheme)
		}
		if p := u.Port(); p != "" {
			n, err := validate.PortString("", p)
			if err != nil {
				return target{}, fmt.Errorf("%q: bad port %q", s, p)
			}
			port = n
		}
		if u.Hostname() == "" {
			return target{}, fmt.Errorf("%q: no host", s)
		}
		return target{URL: u, TLS: u.Scheme == "https", Host: u.Hostname(), Port: port}, nil
	}
	auth, rest := s, ""
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		auth, rest = s[:i], s[i:]
	}
	host, p, err := net.SplitHostPort(auth)
	if err != nil {
		return target{}, fmt.Errorf("%q: expected host:port or an http:// URL", s)
	}
	n, err := validate.PortString("", p)
	if err != nil || host == "" || strings.ContainsAny(host, " \t$(){}") {
		return target{}, fmt.Errorf("%q: expected host:port or an http:// URL", s)
	}
	return target{Host: host, Port: n, Rest: rest}, nil
}

// parseZipkin accepts an http URL (its path is the span endpoint) or
// host:port (Zipkin's /api/v2/spans).
func parseZipkin(s string) (string, error) {
	t, err := parseTarget(s)
	if err != nil {
		return "", err
	}
	if t.URL == nil {
		if t.Rest != "" {
			return "", fmt.Errorf("%q: give a full http:// URL to set the path", s)
		}
		return "http://" + t.Authority() + "/api/v2/spans", nil
	}
	if t.URL.Path == "" || t.URL.Path == "/" {
		return "", fmt.Errorf("%q: no span endpoint path (Jaeger and Zipkin: /api/v2/spans)", s)
	}
	return s, nil
}

// parseOTLP accepts host:port: OTLP over plain gRPC (h2c), as collectors
// inside the cluster serve it on 4317.
func parseOTLP(s string) (target, error) {
	t, err := parseTarget(s)
	if err != nil {
		return t, err
	}
	if t.URL != nil || t.Rest != "" {
		return t, fmt.Errorf("%q: expected host:port (OTLP over plain gRPC)", s)
	}
	return t, nil
}

func isIP(host string) bool { return net.ParseIP(host) != nil }

// Pattern is the tracing pattern.
type Pattern struct{}

var _ transform.Pattern = Pattern{}

// Name implements transform.Pattern.
func (Pattern) Name() string { return "tracing" }

// ConfigKey implements transform.Pattern.
func (Pattern) ConfigKey() string { return "tracing" }

// ImageKeys implements transform.ImageUser: the spec.images keys it reads.
func (Pattern) ImageKeys() []string { return []string{"envoy"} }

// Summary implements transform.Pattern.
func (Pattern) Summary() string {
	return "sidecar: Envoy in front of the app and its upstreams, request ids and traces to Jaeger (Zipkin) or OpenTelemetry (OTLP), Prometheus stats"
}

// NewOptions implements transform.Pattern.
func (Pattern) NewOptions() transform.Options { return Default() }

// outbound is a resolved upstream.
type outbound struct {
	Upstream
	to target
}

// Inject implements transform.Pattern.
func (Pattern) Inject(w *transform.Workload, opts transform.Options) error {
	o := opts.(*Options)
	appContainer, port, err := w.ResolvePort(o.Port)
	if err != nil {
		return err
	}
	ps, err := w.PodSpec()
	if err != nil {
		return err
	}
	// Envoy's loopback listeners are not declared container ports, so the
	// engine cannot see their collisions: check them against every port
	// the pod declares, and the app port itself.
	declared := map[int32]string{port.ContainerPort: appContainer}
	for _, c := range append(append([]corev1.Container{}, ps.InitContainers...), ps.Containers...) {
		for _, p := range c.Ports {
			declared[p.ContainerPort] = c.Name
		}
	}
	check := func(field string, p int32) error {
		if c, ok := declared[p]; ok {
			return fmt.Errorf("%s: %d: container %q uses that port; set another", field, p, c)
		}
		return nil
	}
	if err := check("adminPort", o.AdminPort); err != nil && w.Explicit("adminPort") {
		return err
	}
	// Defaults the pod already uses move to free ports (set explicitly, a
	// collision is an error).
	ports, err := w.Ports(transform.PortRequest{Option: "proxyPort", Want: o.ProxyPort, Name: ProxyPortName},
		transform.PortRequest{Option: "metricsPort", Want: o.MetricsPort, Name: MetricsPortName})
	if err != nil {
		return err
	}
	proxy, metrics := ports[0], ports[1]
	if o.AdminPort, err = w.PortNumber("adminPort", o.AdminPort); err != nil {
		return err
	}
	o.ProxyPort, o.MetricsPort = proxy.ContainerPort, metrics.ContainerPort

	var outs []outbound
	for i, u := range o.Upstreams {
		f := fmt.Sprintf("upstreams[%d] (%s)", i, u.Name)
		if err := check(f+".localPort", u.LocalPort); err != nil {
			return err
		}
		ob, err := rewriteEnv(w, ps, appContainer, f, u)
		if err != nil {
			return err
		}
		outs = append(outs, ob)
	}

	// A proxy an earlier pattern put in front of this port (monitor's
	// HAProxy) would take the Service and bypass Envoy: chain instead,
	// Service → Envoy → that proxy → app, so every request is traced and
	// still counted.
	backend := port
	via := ""
	if e, ok := w.Retargeted(port.ContainerPort); ok {
		backend = corev1.ContainerPort{ContainerPort: e.ProxyPort, Name: e.ProxyPortName}
		via = fmt.Sprintf(" (the %s pattern's proxy, in front of the app's %d)", e.Pattern, port.ContainerPort)
	}

	cfg, err := buildBootstrap(bootstrapInput{
		Node:      nodeID(w),
		Service:   serviceName(w, o),
		AppPort:   backend.ContainerPort,
		Via:       via,
		Options:   o,
		Upstreams: outs,
	})
	if err != nil {
		return err
	}
	cm, err := w.AddConfigMap("", map[string]string{ConfigKey: cfg})
	if err != nil {
		return err
	}
	if err := w.AddVolume(corev1.Volume{
		Name: VolumeName,
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: cm},
		}},
	}); err != nil {
		return err
	}
	if err := w.AddContainer(container(w, o, proxy, metrics)); err != nil {
		return err
	}
	w.EditService(transform.Retarget(backend, o.ProxyPort, proxy.Name))
	// A PrometheusRule is read by the Prometheus Operator only: asking for
	// one says the operator is there, so auto scrapes with its objects.
	so := o.Options
	so.Operator = o.Rules
	res, err := scrape.Apply(w, so, scrape.Endpoint{PortName: metrics.Name, Port: o.MetricsPort, Path: MetricsPath, ServicePort: ServicePortName})
	if err != nil || !o.Rules {
		return err
	}
	return w.AddObject(rules(w, o, res.Job))
}

// rewriteEnv resolves an upstream and points the app's env var at its
// outbound listener, in every app container that sets it.
func rewriteEnv(w *transform.Workload, ps *corev1.PodSpec, appContainer, field string, u Upstream) (outbound, error) {
	ob := outbound{Upstream: u}
	if u.Upstream != "" {
		t, err := parseTarget(u.Upstream)
		if err != nil {
			return ob, fmt.Errorf("%s.upstream: %w", field, err)
		}
		ob.to = t
	}
	if u.Env == "" {
		return ob, nil
	}
	found := false
	for ci, c := range ps.Containers {
		for ei, e := range c.Env {
			if e.Name != u.Env {
				continue
			}
			found = true
			where := w.FieldPath(fmt.Sprintf("containers[%d].env[%d]", ci, ei))
			if e.ValueFrom != nil {
				return ob, fmt.Errorf("%s.env: %s (%s) comes from valueFrom, which cannot be rewritten to the local listener; give the address inline (value:)", field, u.Env, where)
			}
			t, err := parseTarget(e.Value)
			if err != nil {
				return ob, fmt.Errorf("%s.env: %s (%s): %w", field, u.Env, where, err)
			}
			if ob.to.Host == "" {
				ob.to = t
			}
			if err := w.SetEnv(c.Name, u.Env, t.Local(u.LocalPort)); err != nil {
				return ob, err
			}
		}
	}
	if !found {
		if ob.to.Host == "" {
			return ob, fmt.Errorf("%s.env: no app container sets %s; set upstream", field, u.Env)
		}
		w.Warn("%s: no app container sets %s: adding it to container %q", field, u.Env, appContainer)
		if err := w.SetEnv(appContainer, u.Env, ob.to.Local(u.LocalPort)); err != nil {
			return ob, err
		}
	}
	return ob, nil
}

func nodeID(w *transform.Workload) string {
	if w.Namespace == "" {
		return w.Name
	}
	return w.Name + "." + w.Namespace
}

func serviceName(w *transform.Workload, o *Options) string {
	if o.ServiceName != "" {
		return o.ServiceName
	}
	return w.Name
}

func container(w *transform.Workload, o *Options, proxy, metrics corev1.ContainerPort) corev1.Container {
	uid := UID
	ready := &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/ready", Port: intstr.FromString(metrics.Name),
		}},
		PeriodSeconds: 5,
	}
	startup := ready.DeepCopy()
	startup.PeriodSeconds, startup.FailureThreshold = 1, 30
	c := corev1.Container{
		Name:    ContainerName,
		Image:   w.Image("envoy", DefaultImage),
		Command: []string{"envoy"},
		// --disable-hot-restart: no shared memory region, nothing to write.
		// --concurrency 2: the default is one worker per node CPU, far
		// beyond a sidecar's CPU limit.
		Args: []string{
			"--config-path", ConfigDir + "/" + ConfigKey,
			"--disable-hot-restart",
			"--concurrency", "2",
		},
		Ports:           []corev1.ContainerPort{proxy, metrics},
		VolumeMounts:    []corev1.VolumeMount{{Name: VolumeName, MountPath: ConfigDir, ReadOnly: true}},
		StartupProbe:    startup,
		ReadinessProbe:  ready,
		SecurityContext: &corev1.SecurityContext{RunAsUser: &uid, RunAsGroup: &uid},
	}
	if o.Resources != nil {
		c.Resources = *o.Resources
	}
	return c
}

// bootstrapInput is what the Envoy bootstrap is built from.
type bootstrapInput struct {
	Node, Service string
	AppPort       int32  // where inbound requests go: the app, or a proxy in front of it
	Via           string // says which proxy, for the header comment
	Options       *Options
	Upstreams     []outbound
}

// Cluster names.
const (
	clusterApp       = "local_app"
	clusterAdmin     = "admin"
	clusterCollector = "tracing_collector"
)

// buildBootstrap builds the Envoy bootstrap as YAML.
func buildBootstrap(in bootstrapInput) (string, error) {
	o := in.Options
	timeout, err := envoyDuration(o.Timeout)
	if err != nil {
		return "", fmt.Errorf("timeout: %w", err)
	}
	tracing, collector, err := tracer(in)
	if err != nil {
		return "", err
	}
	t := true
	var edge *bool
	if o.Edge {
		edge = &t
	}
	b := bootstrap{
		Node:  node{ID: in.Node, Cluster: in.Service},
		Admin: admin{Address: sockAddr("127.0.0.1", o.AdminPort)},
	}
	sr := &b.StaticResources
	// Inbound: every request to the app goes through here; the span is a
	// server span (traffic_direction INBOUND).
	sr.Listeners = append(sr.Listeners, listener{
		Name: "inbound", Address: sockAddr("0.0.0.0", o.ProxyPort), TrafficDirection: "INBOUND",
		FilterChains: []filterChain{hcmFilter(hcm{
			StatPrefix: inboundStatPrefix, GenerateRequestID: &t, UseRemoteAddress: edge, Tracing: tracing,
			RouteConfig: routeConfig{Name: "inbound", VirtualHosts: []virtualHost{{
				Name: "app", Domains: []string{"*"},
				Routes: []route{{Match: routeMatch{Prefix: "/"}, Route: &routeAction{Cluster: clusterApp, Timeout: timeout}}},
			}}},
		})},
	})
	sr.Clusters = append(sr.Clusters, newCluster(clusterApp, "127.0.0.1", in.AppPort, o.Protocol != "http", false))
	// Outbound: the app calls 127.0.0.1:<localPort>; client spans
	// (OUTBOUND), the trace headers the app propagated are continued.
	for _, u := range in.Upstreams {
		name := "outbound_" + u.Name
		cl := "upstream_" + u.Name
		sr.Listeners = append(sr.Listeners, listener{
			Name: name, Address: sockAddr("127.0.0.1", u.LocalPort), TrafficDirection: "OUTBOUND",
			FilterChains: []filterChain{hcmFilter(hcm{
				StatPrefix: name, GenerateRequestID: &t, Tracing: tracing,
				RouteConfig: routeConfig{Name: name, VirtualHosts: []virtualHost{{
					Name: u.Name, Domains: []string{"*"},
					Routes: []route{{Match: routeMatch{Prefix: "/"}, Route: &routeAction{
						Cluster: cl, Timeout: timeout,
						// The upstream sees its own name, as if called directly.
						HostRewriteLiteral: u.to.Authority(),
					}}},
				}}},
			})},
		})
		sr.Clusters = append(sr.Clusters, newCluster(cl, u.to.Host, u.to.Port, u.Protocol == "http2", u.to.TLS))
	}
	// Metrics: only the admin interface's Prometheus endpoint and its
	// readiness, for scrapes and probes from outside the pod.
	no := false
	sr.Listeners = append(sr.Listeners, listener{
		Name: "metrics", Address: sockAddr("0.0.0.0", o.MetricsPort),
		FilterChains: []filterChain{hcmFilter(hcm{
			StatPrefix: "metrics", GenerateRequestID: &no,
			RouteConfig: routeConfig{Name: "metrics", VirtualHosts: []virtualHost{{
				Name: "admin", Domains: []string{"*"},
				Routes: []route{
					{Match: routeMatch{Path: MetricsPath}, Route: &routeAction{Cluster: clusterAdmin}},
					{Match: routeMatch{Path: "/ready"}, Route: &routeAction{Cluster: clusterAdmin}},
					{Match: routeMatch{Prefix: "/"}, DirectResponse: &directResponse{Status: 404}},
				},
			}}},
		})},
	})
	sr.Clusters = append(sr.Clusters, newCluster(clusterAdmin, "127.0.0.1", o.AdminPort, false, false), collector)

	y, err := yaml.Marshal(b)
	if err != nil {
		return "", err
	}
	head := fmt.Sprintf("# Generated by sidecarize (tracing pattern): Envoy bootstrap, v3 API.\n"+
		"# Inbound 0.0.0.0:%d -> 127.0.0.1:%d%s; traces: %s; stats: 0.0.0.0:%d%s.\n",
		o.ProxyPort, in.AppPort, in.Via, o.Tracer, o.MetricsPort, MetricsPath)
	return head + string(y), nil
}

// tracer is the HTTP connection manager's tracing block and the
// collector's cluster.
func tracer(in bootstrapInput) (*hcmTracing, cluster, error) {
	o := in.Options
	tr := &hcmTracing{RandomSampling: percent{Value: o.SamplingPercent}}
	switch o.Tracer {
	case Zipkin:
		uri, err := parseZipkin(o.Zipkin.Collector)
		if err != nil {
			return nil, cluster{}, fmt.Errorf("zipkin.collector: %w", err)
		}
		t, _ := parseTarget(uri)
		tr.Provider = tracingProvider{Name: "envoy.tracers.zipkin", TypedConfig: zipkinConfig{
			Type: typeZipkin,
			// The service name in Zipkin spans is the node's cluster.
			CollectorService: httpService{HTTPURI: httpURI{URI: uri, Cluster: clusterCollector, Timeout: "5s"}},
			// Zipkin v2 JSON: what Jaeger's collector accepts on 9411.
			CollectorEndpointVersion: "HTTP_JSON",
			TraceID128bit:            true,
		}}
		return tr, newCluster(clusterCollector, t.Host, t.Port, false, t.TLS), nil
	case OTLP:
		t, err := parseOTLP(o.OTLP.Collector)
		if err != nil {
			return nil, cluster{}, fmt.Errorf("otlp.collector: %w", err)
		}
		tr.Provider = tracingProvider{Name: "envoy.tracers.opentelemetry", TypedConfig: otelConfig{
			Type:        typeOpenTelemetry,
			GRPCService: grpcService{EnvoyGRPC: envoyGRPC{ClusterName: clusterCollector, Authority: t.Authority()}, Timeout: "5s"},
			ServiceName: in.Service,
		}}
		// gRPC needs HTTP/2 to the collector.
		return tr, newCluster(clusterCollector, t.Host, t.Port, true, false), nil
	}
	return nil, cluster{}, fmt.Errorf("tracer: %q: must be zipkin or otlp", o.Tracer)
}
