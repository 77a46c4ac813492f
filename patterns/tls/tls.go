package tls

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/haproxy"
	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// Names of what the pattern adds to the pod.
const (
	ContainerName    = transform.TLSContainer
	ConfigVolume     = transform.TLSVolume
	CertVolume       = transform.TLSCertVolume
	TLSPortName      = transform.TLSPortName
	RedirectPortName = transform.TLSRedirectPortName
	MetricsPortName  = transform.TLSMetricsPortName
	// ServicePortName is the metrics port a ServiceMonitor scrapes.
	ServicePortName = transform.TLSServicePort
	// CertDir is where the Secret is mounted in the proxy container; HAProxy
	// runs with -C CertDir and names the files relative to it.
	CertDir = "/etc/sidecarize/tls"
	// CertFile and KeyFile are the kubernetes.io/tls Secret's keys.
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// Mozilla's "intermediate" server profile (TLS 1.2 ciphers without the DHE
// ones, which need DH parameters; TLS 1.3 suites).
const (
	ciphers      = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
	ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
)

// Options of the tls pattern.
type Options struct {
	// Port is the app container port to put TLS in front of.
	Port string `json:"port,omitempty" doc:"app port to terminate TLS for, name or number (default: the first declared port)"`
	// Protocol is http (TLS + HTTP, redirect and X-Forwarded-Proto) or tcp.
	Protocol string `json:"protocol,omitempty" doc:"http | tcp (TLS in front of any TCP protocol)"`
	// SecretName is the kubernetes.io/tls Secret with tls.crt and tls.key.
	SecretName string `json:"secretName,omitempty" doc:"kubernetes.io/tls Secret with tls.crt and tls.key (default with certManager: <workload>-tls-cert)" consent:"secrets"`
	// TLSPort is where HAProxy serves TLS; the Service targetPort moves here.
	TLSPort int32 `json:"tlsPort,omitempty" doc:"port HAProxy serves TLS on"`
	// RedirectPort, when set, serves HTTP redirects to HTTPS.
	RedirectPort int32 `json:"redirectPort,omitempty" doc:"port of an HTTP listener that redirects to HTTPS (0: none)"`
	// HTTPSPort is the port clients reach HTTPS on, for redirects.
	HTTPSPort int32 `json:"httpsPort,omitempty" doc:"port clients use for HTTPS, in the redirect's Location"`
	// MinVersion is the lowest TLS version accepted.
	MinVersion string `json:"minVersion,omitempty" doc:"TLSv1.2 | TLSv1.3"`
	// HSTS is the Strict-Transport-Security max-age in seconds (0: no header).
	HSTS int `json:"hsts,omitempty" doc:"Strict-Transport-Security max-age in seconds (0: no header)"`
	// MetricsPort serves HAProxy's Prometheus metrics.
	MetricsPort int32 `json:"metricsPort,omitempty" doc:"port of the Prometheus endpoint"`
	// MetricsPath is the metrics URL path.
	MetricsPath string `json:"metricsPath,omitempty" doc:"path of the Prometheus endpoint"`
	scrape.Options
	// CertManager, when set, generates a cert-manager Certificate that
	// issues the Secret.
	CertManager *CertManager `json:"certManager,omitempty" doc:"generate a cert-manager Certificate issuing the Secret" consent:"secrets"`
	// Timeout is HAProxy's client/server timeout.
	Timeout string `json:"timeout,omitempty" doc:"client and server timeout"`
	// MaxConnections caps concurrent connections.
	MaxConnections int `json:"maxConnections,omitempty" doc:"maximum concurrent connections"`
	// Resources overrides the container's requests and limits.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty" doc:"requests and limits of the proxy container"`
}

// CertManager configures the generated Certificate (cert-manager.io/v1).
type CertManager struct {
	// IssuerRef is the Issuer or ClusterIssuer.
	IssuerRef IssuerRef `json:"issuerRef" doc:"the Issuer or ClusterIssuer that signs the certificate"`
	// DNSNames default to the names of the Services selecting the pods.
	DNSNames []string `json:"dnsNames,omitempty" doc:"names in the certificate (default: the Services' names, short and qualified)"`
}

// IssuerRef references a cert-manager issuer.
type IssuerRef struct {
	Name  string `json:"name" doc:"issuer name"`
	Kind  string `json:"kind,omitempty" doc:"Issuer | ClusterIssuer (cert-manager's default: Issuer)"`
	Group string `json:"group,omitempty" doc:"issuer API group (default: cert-manager.io)"`
}

// Default returns the defaults.
func Default() *Options {
	return &Options{
		Protocol:       "http",
		TLSPort:        transform.TLSPort,
		HTTPSPort:      443,
		MinVersion:     "TLSv1.2",
		MetricsPort:    transform.TLSMetricsPort,
		MetricsPath:    "/metrics",
		Options:        scrape.Options{Scrape: scrape.Auto, Interval: "30s"},
		Timeout:        "60s",
		MaxConnections: 4096,
	}
}

// Validate checks option values.
func (o *Options) Validate() error {
	switch o.Protocol {
	case "http", "tcp":
	default:
		return fmt.Errorf("protocol: %q: must be http or tcp", o.Protocol)
	}
	if o.SecretName == "" && o.CertManager == nil {
		return fmt.Errorf("secretName: name the kubernetes.io/tls Secret with the certificate (or set certManager to have one issued)")
	}
	if o.SecretName != "" {
		if err := validate.Secret("secretName", o.SecretName); err != nil {
			return err
		}
	}
	var ports validate.PortSet
	if err := ports.Add("tlsPort", o.TLSPort); err != nil {
		return err
	}
	if err := ports.Add("metricsPort", o.MetricsPort); err != nil {
		return err
	}
	if o.RedirectPort != 0 {
		if err := ports.Add("redirectPort", o.RedirectPort); err != nil {
			return err
		}
	}
	if err := validate.Port("httpsPort", int64(o.HTTPSPort)); err != nil {
		return err
	}
	if o.RedirectPort != 0 && o.Protocol != "http" {
		return fmt.Errorf("redirectPort: redirects need protocol http")
	}
	if o.HSTS != 0 && (o.HSTS < 0 || o.Protocol != "http") {
		return fmt.Errorf("hsts: %d: a max-age in seconds, with protocol http", o.HSTS)
	}
	switch o.MinVersion {
	case "TLSv1.2", "TLSv1.3":
	default:
		return fmt.Errorf("minVersion: %q: must be TLSv1.2 or TLSv1.3 (older versions are broken)", o.MinVersion)
	}
	if err := haproxy.CheckFront(o.MetricsPath, o.Options, o.Timeout, o.MaxConnections); err != nil {
		return err
	}
	if cm := o.CertManager; cm != nil {
		if cm.IssuerRef.Name == "" {
			return fmt.Errorf("certManager.issuerRef.name: the Issuer or ClusterIssuer to sign the certificate")
		}
		switch cm.IssuerRef.Kind {
		case "", "Issuer", "ClusterIssuer":
		default:
			if cm.IssuerRef.Group == "" || cm.IssuerRef.Group == "cert-manager.io" {
				return fmt.Errorf("certManager.issuerRef.kind: %q: must be Issuer or ClusterIssuer (or set the group of an external issuer)", cm.IssuerRef.Kind)
			}
		}
		for i, n := range cm.DNSNames {
			if !validate.IsDNSSubdomain(strings.TrimPrefix(n, "*.")) {
				return fmt.Errorf("certManager.dnsNames[%d]: %q: not a DNS name", i, n)
			}
		}
	}
	return nil
}

// Pattern is the tls pattern.
type Pattern struct{}

var _ transform.Pattern = Pattern{}

// Name implements transform.Pattern.
func (Pattern) Name() string { return "tls" }

// ConfigKey implements transform.Pattern.
func (Pattern) ConfigKey() string { return "tls" }

// ImageKeys implements transform.ImageUser: the spec.images keys it reads.
func (Pattern) ImageKeys() []string { return []string{"haproxy"} }

// Summary implements transform.Pattern.
func (Pattern) Summary() string {
	return "sidecar: HAProxy terminating TLS in front of an app port (kubernetes.io/tls Secret, TLS 1.2+, HTTP→HTTPS redirect, cert-manager Certificate)"
}

// NewOptions implements transform.Pattern.
func (Pattern) NewOptions() transform.Options { return Default() }

type cfgData struct {
	haproxy.Config
	Secret       string
	CertFile     string
	KeyFile      string
	AppPort      int32
	TLSPort      int32
	RedirectPort int32
	HTTPSPort    int32
	Mode         string
	HSTS         int
}

// Inject implements transform.Pattern.
func (Pattern) Inject(w *transform.Workload, opts transform.Options) error {
	o := opts.(*Options)
	_, port, err := w.ResolvePort(o.Port)
	if err != nil {
		return err
	}
	// An earlier pattern (monitor) already fronts the app port: chain in
	// front of its proxy, or the Service would bypass TLS.
	backend, from := port.ContainerPort, port
	if prev, ok := w.Retargeted(port.ContainerPort); ok {
		backend = prev.ProxyPort
		from = corev1.ContainerPort{ContainerPort: prev.ProxyPort, Name: prev.ProxyPortName}
		w.Warn("port %d is already proxied by %s's port %d: TLS terminates in front of it", port.ContainerPort, prev.Pattern, prev.ProxyPort)
	}
	tlsPort, err := w.Port("tlsPort", o.TLSPort, TLSPortName)
	if err != nil {
		return err
	}
	var redirect corev1.ContainerPort
	if o.RedirectPort != 0 {
		if redirect, err = w.Port("redirectPort", o.RedirectPort, RedirectPortName); err != nil {
			return err
		}
	}
	metrics, err := w.Port("metricsPort", o.MetricsPort, MetricsPortName)
	if err != nil {
		return err
	}
	o.TLSPort, o.RedirectPort, o.MetricsPort = tlsPort.ContainerPort, redirect.ContainerPort, metrics.ContainerPort
	secret := o.SecretName
	if secret == "" {
		secret = w.ObjectName("cert")
	}
	data := cfgData{
		Config: haproxy.Config{
			Workload: w.Ref(), MaxConnections: o.MaxConnections,
			MetricsPort: o.MetricsPort, MetricsPath: o.MetricsPath,
			SSL:      &haproxy.SSL{MinVersion: o.MinVersion, Ciphers: ciphers, Ciphersuites: ciphersuites},
			Defaults: haproxy.FrontDefaults(o.Protocol, o.Timeout),
		},
		Secret: secret, CertFile: CertFile, KeyFile: KeyFile,
		AppPort: backend, TLSPort: o.TLSPort, RedirectPort: o.RedirectPort, HTTPSPort: o.HTTPSPort,
		Mode: o.Protocol, HSTS: o.HSTS,
	}
	// Only the certificate and key are projected: a Secret issued by
	// cert-manager also holds ca.crt, which the proxy does not need.
	if err := w.AddVolume(corev1.Volume{
		Name: CertVolume,
		VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secret,
			Items:      []corev1.KeyToPath{{Key: CertFile, Path: CertFile}, {Key: KeyFile, Path: KeyFile}},
		}},
	}); err != nil {
		return err
	}
	ports := []corev1.ContainerPort{tlsPort}
	if o.RedirectPort != 0 {
		ports = append(ports, redirect)
	}
	ports = append(ports, metrics)
	if err := haproxy.Deploy(w, "haproxy-tls.cfg.tmpl", data, haproxy.Spec{
		Name: ContainerName, Volume: ConfigVolume,
		Ports:       ports,
		ProbePort:   o.TLSPort,
		Resources:   o.Resources,
		ExtraMounts: []corev1.VolumeMount{{Name: CertVolume, MountPath: CertDir, ReadOnly: true}},
		Dir:         CertDir,
	}); err != nil {
		return err
	}
	w.EditService(transform.Retarget(from, o.TLSPort, tlsPort.Name))
	if _, err := scrape.Apply(w, o.Options, scrape.Endpoint{PortName: metrics.Name, Port: o.MetricsPort, Path: o.MetricsPath, ServicePort: ServicePortName}); err != nil {
		return err
	}
	if o.CertManager != nil {
		c, err := certificate(w, o.CertManager, secret)
		if err != nil {
			return err
		}
		return w.AddObject(c)
	}
	return nil
}

// certificate builds the cert-manager Certificate issuing the Secret.
func certificate(w *transform.Workload, cm *CertManager, secret string) (Certificate, error) {
	names := cm.DNSNames
	if len(names) == 0 {
		names = serviceNames(w)
		if len(names) == 0 {
			return Certificate{}, fmt.Errorf("certManager.dnsNames: no Service selects the pods; list the certificate's names")
		}
	}
	return Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: "cert-manager.io/v1", Kind: "Certificate"},
		ObjectMeta: metav1.ObjectMeta{Name: w.ObjectName()},
		Spec: CertificateSpec{
			SecretName: secret,
			IssuerRef:  cm.IssuerRef,
			DNSNames:   names,
			// ECDSA P-256, a fresh key on every renewal.
			PrivateKey: &PrivateKey{Algorithm: "ECDSA", Size: 256, RotationPolicy: "Always"},
		},
	}, nil
}

// serviceNames are the DNS names clients reach the pods by: each selecting
// Service's short name and, when the namespace is known, the qualified ones.
func serviceNames(w *transform.Workload) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, s := range w.Services() {
		add(s.Name)
		if s.Namespace != "" {
			add(s.Name + "." + s.Namespace)
			add(s.Name + "." + s.Namespace + ".svc")
			add(s.Name + "." + s.Namespace + ".svc.cluster.local")
		}
	}
	return out
}

// Certificate is cert-manager.io/v1 Certificate, with the fields sidecarize
// sets.
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              CertificateSpec `json:"spec"`
}

// CertificateSpec is the Certificate's spec.
type CertificateSpec struct {
	SecretName string      `json:"secretName"`
	IssuerRef  IssuerRef   `json:"issuerRef"`
	DNSNames   []string    `json:"dnsNames"`
	PrivateKey *PrivateKey `json:"privateKey,omitempty"`
}

// PrivateKey is the Certificate's key settings.
type PrivateKey struct {
	Algorithm      string `json:"algorithm"`
	Size           int    `json:"size"`
	RotationPolicy string `json:"rotationPolicy,omitempty"`
}
