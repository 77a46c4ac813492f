package ambassador

import (
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarize/sidecarize/patterns/dashboard"
	"github.com/sidecarize/sidecarize/patterns/haproxy"
	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/templates"
	"github.com/sidecarize/sidecarize/transform"
)

// Names of what the pattern adds to the pod.
const (
	ContainerName   = transform.AmbassadorContainer
	VolumeName      = transform.AmbassadorVolume
	MetricsPortName = transform.AmbassadorMetricsPortName
	// CADir holds each upstream's CA (CADir/<name>/<key>), from its Secret.
	CADir = "/etc/sidecarize/ambassador"
)

// Pattern is the ambassador pattern.
type Pattern struct{}

var _ transform.Pattern = Pattern{}

// Name implements transform.Pattern.
func (Pattern) Name() string { return "ambassador" }

// ConfigKey implements transform.Pattern.
func (Pattern) ConfigKey() string { return "ambassadors" }

// ImageKeys implements transform.ImageUser: the spec.images keys it reads.
func (Pattern) ImageKeys() []string { return []string{"haproxy"} }

// Summary implements transform.Pattern.
func (Pattern) Summary() string {
	return "ambassador: HAProxy outbound proxy per upstream on 127.0.0.1 with timeouts, retries, connection limits and a circuit breaker serving a canned response"
}

// NewOptions implements transform.Pattern.
func (Pattern) NewOptions() transform.Options { return Default() }

// Inject implements transform.Pattern.
func (Pattern) Inject(w *transform.Workload, opts transform.Options) error {
	o := opts.(*Options)
	declared, err := w.DeclaredPorts()
	if err != nil {
		return err
	}
	ups, px, err := o.resolve(declared)
	if err != nil {
		return err
	}
	// Local ports and the metrics port the pod (probes, Service
	// targetPorts, earlier patterns) already uses move to free ones, unless
	// set explicitly.
	for i := range ups {
		if ups[i].LocalPort, err = w.PortNumber(ups[i].Name+".localPort", ups[i].LocalPort); err != nil {
			return err
		}
	}
	metrics, err := w.Port("metricsPort", px.MetricsPort, MetricsPortName)
	if err != nil {
		return err
	}
	px.MetricsPort = metrics.ContainerPort
	for _, u := range ups {
		if u.t.ambiguous(w.Namespace) {
			w.Warn("%s: upstream host %q is resolved as it is (an external name); if it is a Service written <service>.<namespace>, write %s.svc", u.Name, u.t.host, u.t.host)
		}
	}
	ps, err := w.PodSpec()
	if err != nil {
		return err
	}
	if err := rewriteApp(w, ps, ups, px); err != nil {
		return err
	}

	data, err := configData(w.Ref(), w.Namespace, ups, px)
	if err != nil {
		return err
	}

	// The local ports are declared (though bound to 127.0.0.1 only) so that
	// port collisions with the app and other helpers are caught.
	ports := []corev1.ContainerPort{metrics}
	for _, u := range ups {
		ports = append(ports, corev1.ContainerPort{ContainerPort: u.LocalPort, Protocol: corev1.ProtocolTCP})
	}
	var mounts []corev1.VolumeMount
	for _, u := range ups {
		if u.CA == nil {
			continue
		}
		vol := transform.GeneratedName(VolumeName, "ca", u.Name)
		if err := w.AddVolume(corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: u.CA.Name,
			Items:      []corev1.KeyToPath{{Key: u.CA.Key, Path: u.CA.Key}},
		}}}); err != nil {
			return err
		}
		mounts = append(mounts, corev1.VolumeMount{Name: vol, MountPath: path.Join(CADir, u.Name), ReadOnly: true})
	}
	if err := haproxy.Deploy(w, "ambassador-haproxy.cfg.tmpl", data, haproxy.Spec{
		Name: ContainerName, Volume: VolumeName,
		Ports:       ports,
		ProbePort:   px.MetricsPort,
		Resources:   px.Resources,
		ExtraMounts: mounts,
		Env: []corev1.EnvVar{{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
		}}},
	}); err != nil {
		return err
	}
	// A PrometheusRule is read by the Prometheus Operator only: asking for
	// one says the operator is there, so auto scrapes with its objects.
	res, err := scrape.Apply(w, scrape.Options{Scrape: px.Scrape, Interval: px.Interval, Operator: px.Rules},
		scrape.Endpoint{PortName: metrics.Name, Port: px.MetricsPort, Path: px.MetricsPath, ServicePort: transform.AmbassadorServicePort})
	if err != nil {
		return err
	}
	if *px.Dashboard {
		dashboard.Add(w, panels(w, ups))
	}
	if !px.Rules {
		return nil
	}
	return w.AddObject(rules(w, data, px, res.Job))
}

// panels are the ambassador's row of the workload's dashboard, a series
// per upstream: its frontend (the proxy label is the upstream's name) and
// its backend ("be_" + the name).
func panels(w *transform.Workload, ups []upstream) dashboard.Section {
	var all, web, tcp, canned dashboard.HAProxy
	for _, h := range []*dashboard.HAProxy{&all, &web, &tcp, &canned} {
		h.PerProxy = true
	}
	for _, u := range ups {
		fe, be := u.Name, "be_"+u.Name
		hs := []*dashboard.HAProxy{&all}
		switch {
		case u.protocol == "tcp":
			hs = append(hs, &tcp)
		case u.protocol == "http" && *u.Fallback.Passthrough:
			hs = append(hs, &web, &canned)
		default:
			hs = append(hs, &web)
		}
		for _, h := range hs {
			h.Frontends, h.Backends = append(h.Frontends, fe), append(h.Backends, be)
		}
	}
	s := dashboard.Section{Title: "ambassador: upstreams"}
	if len(web.Frontends) > 0 {
		s.Panels = append(s.Panels, web.RequestRate(w), web.ErrorRatio(w, nil), web.ResponseTime(w))
	}
	if len(tcp.Frontends) > 0 {
		s.Panels = append(s.Panels, tcp.ConnectionRate(w))
	}
	s.Panels = append(s.Panels, all.ActiveConnections(w), all.ActiveServers(w))
	if len(canned.Frontends) > 0 {
		s.Panels = append(s.Panels, canned.Intercepted(w))
	}
	return s
}

// rewriteApp points the app at the ambassador: each env var named in env
// (it must exist, with a literal value that references the upstream) and,
// with args on, every argument of an app container that references the
// upstream.
func rewriteApp(w *transform.Workload, ps *corev1.PodSpec, ups []upstream, px Proxy) error {
	for _, u := range ups {
		forms := u.hostForms(w.Namespace, px.ClusterDomain)
		rewritten := false
		for _, name := range u.Env {
			found := false
			for _, c := range ps.Containers {
				for _, e := range c.Env {
					if e.Name != name {
						continue
					}
					found = true
					if e.ValueFrom != nil {
						return fmt.Errorf("%s.env: %s in container %q comes from valueFrom, which the ambassador cannot rewrite; give it a literal value", u.Name, name, c.Name)
					}
					v, ok := rewrite(e.Value, u, forms)
					if !ok {
						return fmt.Errorf("%s.env: %s=%q in container %q does not point at the upstream %s", u.Name, name, e.Value, c.Name, u.Upstream.Upstream)
					}
					if err := w.SetEnv(c.Name, name, v); err != nil {
						return err
					}
					rewritten = true
				}
			}
			if !found {
				return fmt.Errorf("%s.env: %s: no app container of %s has this env var, so nothing would reach upstream %s", u.Name, name, w.Ref(), u.Upstream.Upstream)
			}
		}
		if *u.Args {
			for _, c := range ps.Containers {
				for i, a := range c.Args {
					if v, ok := rewrite(a, u, forms); ok {
						if err := w.SetArg(c.Name, i, v); err != nil {
							return err
						}
						rewritten = true
					}
				}
			}
		}
		for _, c := range ps.Containers {
			for _, a := range c.Command {
				if _, ok := rewrite(a, u, forms); ok {
					w.Warn("%s: container %q's command mentions %s, which sidecarize does not rewrite (only env and args): move it to args or an env var", u.Name, c.Name, u.Upstream.Upstream)
				}
			}
		}
		if !rewritten {
			w.Warn("%s: no env var or arg was rewritten to the ambassador (set %s.env to the app's env vars that hold %s)", u.Name, u.Name, u.Upstream.Upstream)
		}
	}
	return nil
}

// upCfg is one upstream's part of the template data.
type upCfg struct {
	Name, Upstream, Protocol, Mode string
	H2, TLS, DNS                   bool
	LocalPort                      int32
	Addr, HostHeader, SNI, CAFile  string
	Timeout, ConnectTimeout        string
	CheckTimeout                   string
	Retries                        int
	RetryOn, IdempotentOnly        bool
	MaxConn, Slots                 int
	Breaker, HTTPCheck             bool
	Observe                        string
	ErrorLimit, Rise               int
	Interval, CheckPath            string
	Fallback                       bool
	Status                         int
	ContentType, Body              string
}

type cfgData struct {
	haproxy.Config
	Resolvers bool
	Upstreams []upCfg
}

func configData(ref, ns string, ups []upstream, px Proxy) (cfgData, error) {
	// serverAddr's names are validated host names: quoted as they are, so
	// that HAProxy expands ${POD_NAMESPACE-...}.
	if ns == "" {
		ns = "default"
	}
	// Clients are the app, on localhost: each upstream has its own connect
	// and server timeouts (its backend's).
	d := cfgData{Config: haproxy.Config{Workload: ref, MetricsPort: px.MetricsPort, MetricsPath: px.MetricsPath, MaxConnections: 256,
		Defaults: haproxy.Defaults{ClientTimeout: "60s", KeepAliveTimeout: "10s"}}}
	for _, u := range ups {
		mode := "http"
		if u.protocol == "tcp" {
			mode = "tcp"
		}
		c := upCfg{
			Name: u.Name, Upstream: u.Upstream.Upstream, Protocol: u.protocol, Mode: mode,
			H2: u.protocol == "grpc", TLS: u.tls, DNS: !u.t.ip, LocalPort: u.LocalPort,
			Addr: `"` + u.serverAddr(ns, px.ClusterDomain) + `"`, HostHeader: u.hostHeader(),
			SNI: u.sni, Timeout: u.Timeout, ConnectTimeout: u.ConnectTimeout,
			CheckTimeout: u.CircuitBreaker.HealthCheck.Interval,
			Retries:      *u.Retries, RetryOn: mode == "http" && *u.Retries > 0,
			IdempotentOnly: !u.RetryNonIdempotent, MaxConn: u.MaxConnections,
			Slots:   u.Addresses,
			Breaker: *u.CircuitBreaker.Enabled, Observe: "layer7",
			ErrorLimit: u.CircuitBreaker.ConsecutiveErrors, Rise: u.rise(),
			Interval: u.CircuitBreaker.HealthCheck.Interval, CheckPath: u.CircuitBreaker.HealthCheck.Path,
		}
		if mode == "tcp" {
			c.Observe = "layer4"
		}
		// gRPC servers do not answer a plain GET: they are checked by
		// connecting, like tcp ones and http ones without a check path.
		c.HTTPCheck = c.Breaker && u.protocol == "http" && u.CircuitBreaker.HealthCheck.Path != ""
		if u.tls {
			c.CAFile = "@system-ca"
			if u.CA != nil {
				c.CAFile = templates.Quote(path.Join(CADir, u.Name, u.CA.Key))
			}
		}
		// The canned response is HTTP/1 or h2 content for HTTP clients; a
		// gRPC client gets HAProxy's fail-fast 503 (UNAVAILABLE).
		if u.protocol == "http" && *u.Fallback.Passthrough {
			c.Fallback = true
			c.Status = u.Fallback.Status
			c.ContentType = u.Fallback.ContentType
			c.Body = u.Fallback.Body
		}
		d.Resolvers = d.Resolvers || c.DNS
		d.Defaults.InitAddr = d.Resolvers
		if !c.DNS {
			c.Slots = 0 // an IP address: one server
		}
		d.MaxConnections += u.MaxConnections * max(c.Slots, 1)
		d.Upstreams = append(d.Upstreams, c)
	}
	return d, nil
}
