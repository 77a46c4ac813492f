package transform

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// NonRootUID is the user injected containers run as unless a pattern sets
// one: the conventional "nonroot" UID of distroless images. A numeric UID is
// needed because runAsNonRoot cannot be verified for images whose USER is a
// name (haproxy's official image runs as "haproxy").
const NonRootUID int64 = 65532

// applySecureDefaults fills in the secure defaults
// (docs/contract.md#secure-defaults) where the pattern left the
// fields empty: Pod Security "restricted" compliant, resources bounded.
func applySecureDefaults(c *corev1.Container) {
	t, f := true, false
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	sc := c.SecurityContext
	if sc.RunAsNonRoot == nil {
		sc.RunAsNonRoot = &t
	}
	if sc.RunAsUser == nil {
		uid := NonRootUID
		sc.RunAsUser = &uid
	}
	if sc.RunAsGroup == nil {
		gid := NonRootUID
		sc.RunAsGroup = &gid
	}
	if sc.AllowPrivilegeEscalation == nil {
		sc.AllowPrivilegeEscalation = &f
	}
	if sc.ReadOnlyRootFilesystem == nil {
		sc.ReadOnlyRootFilesystem = &t
	}
	if sc.Capabilities == nil {
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	}
	if sc.SeccompProfile == nil {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	if c.Resources.Requests == nil && c.Resources.Limits == nil {
		c.Resources = DefaultResources()
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = corev1.PullIfNotPresent
	}
}

// DefaultResources are the requests and limits of a helper container unless
// its pattern's `resources` option says otherwise.
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("200m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
	}
}

// The one table of every pattern's default ports and names. No two patterns
// share a default (a test checks it), so patterns combined on one workload
// with default options never collide with each other; when a default is
// taken by the app, Workload.Port and AddContainer/AddVolume move it to the
// next free one (alloc.go).
const (
	// Ports.
	MonitorProxyPort      int32 = 9080
	MonitorMetricsPort    int32 = 9101
	TLSPort               int32 = 8443
	TLSMetricsPort        int32 = 9103
	AmbassadorMetricsPort int32 = 9102
	AmbassadorFirstLocal  int32 = 9001 // automatic local ports count up from here
	TracingProxyPort      int32 = 10000
	TracingAdminPort      int32 = 9901
	TracingMetricsPort    int32 = 9902

	// Container names.
	MonitorContainer    = "monitor-proxy"
	TLSContainer        = "tls-proxy"
	AmbassadorContainer = "ambassador"
	ExporterContainer   = "exporter"
	LogsContainer       = "logs-adapter"
	TracingContainer    = "tracing-proxy"

	// Volume names.
	MonitorVolume    = "sidecarize-monitor"
	TLSVolume        = "sidecarize-tls"
	TLSCertVolume    = "sidecarize-tls-cert"
	AmbassadorVolume = "sidecarize-ambassador"
	LogsVolume       = "sidecarize-logs" // the shared log directory (…-2, -3 for more)
	LogsConfigVolume = "sidecarize-logs-config"
	LogsDBVolume     = "sidecarize-logs-db"
	TracingVolume    = "sidecarize-tracing"

	// Container port names (IANA service names: at most 15 characters).
	MonitorProxyPortName      = "mon-proxy"
	MonitorMetricsPortName    = "mon-metrics"
	TLSPortName               = "tls-https"
	TLSRedirectPortName       = "tls-redirect"
	TLSMetricsPortName        = "tls-metrics"
	AmbassadorMetricsPortName = "amb-metrics"
	ExporterMetricsPortName   = "exp-metrics"
	TracingProxyPortName      = "trace-proxy"
	TracingMetricsPortName    = "trace-metrics"

	// Service port names added for a ServiceMonitor.
	MonitorServicePort    = "metrics"
	TLSServicePort        = "tls-metrics"
	AmbassadorServicePort = "amb-metrics"
	ExporterServicePort   = "exp-metrics"
	TracingServicePort    = "tracing-metrics"
)

// DefaultPorts lists the table's ports by "<pattern>.<option>".
var DefaultPorts = map[string]int32{
	"monitor.proxyPort":      MonitorProxyPort,
	"monitor.metricsPort":    MonitorMetricsPort,
	"tls.tlsPort":            TLSPort,
	"tls.metricsPort":        TLSMetricsPort,
	"ambassador.metricsPort": AmbassadorMetricsPort,
	"ambassador.localPort":   AmbassadorFirstLocal,
	"tracing.proxyPort":      TracingProxyPort,
	"tracing.adminPort":      TracingAdminPort,
	"tracing.metricsPort":    TracingMetricsPort,
}

// DefaultNames lists the table's names by kind: every container, volume,
// container port and Service port name a pattern adds by default.
var DefaultNames = map[string][]string{
	"container": {MonitorContainer, TLSContainer, AmbassadorContainer, ExporterContainer, LogsContainer, TracingContainer},
	"volume":    {MonitorVolume, TLSVolume, TLSCertVolume, AmbassadorVolume, LogsVolume, LogsConfigVolume, LogsDBVolume, TracingVolume},
	"portName": {MonitorProxyPortName, MonitorMetricsPortName, TLSPortName, TLSRedirectPortName, TLSMetricsPortName,
		AmbassadorMetricsPortName, ExporterMetricsPortName, TracingProxyPortName, TracingMetricsPortName},
	"servicePort": {MonitorServicePort, TLSServicePort, AmbassadorServicePort, ExporterServicePort, TracingServicePort},
}
