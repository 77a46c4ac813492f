package page

import (
	"fmt"
	"html"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/transform"
)

// Names of what the pattern adds to the pod.
const (
	ContainerName = "page"
	VolumeName    = "sidecarize-page"
	PortName      = "page"
	MountPath     = "/www"
	// DefaultImage is busybox, pinned; spec.images.busybox overrides it.
	DefaultImage = "busybox:1.37.0"
)

// Options of the page pattern. The json tags are the option names in config
// rules, --set and annotations; the doc tags feed `sidecarize patterns`.
type Options struct {
	Port        int32                        `json:"port,omitempty" doc:"port the page is served on"`
	Title       string                       `json:"title,omitempty" doc:"the page's title"`
	Text        string                       `json:"text,omitempty" doc:"the page's text"`
	ServicePort string                       `json:"servicePort,omitempty" doc:"name of the port added to the selecting Services (none: add no port)"`
	Resources   *corev1.ResourceRequirements `json:"resources,omitempty" doc:"requests and limits of the page container"`
}

// Default returns the defaults; they live here and nowhere else.
func Default() *Options {
	return &Options{Port: 8090, Title: "Maintenance", Text: "Back soon.", ServicePort: "page"}
}

// Validate checks the options once every layer (flags, config, annotations)
// is applied. It uses internal/validate, as every pattern does, so a port
// or a name is checked the same way everywhere.
func (o *Options) Validate() error {
	if err := validate.ListenPort("port", o.Port); err != nil {
		return err
	}
	if o.ServicePort != "none" {
		if err := validate.PortName("servicePort", o.ServicePort); err != nil {
			return err
		}
	}
	if o.Title == "" {
		return fmt.Errorf("title: must not be empty")
	}
	return nil
}

// Pattern is the page pattern.
type Pattern struct{}

var _ transform.Pattern = Pattern{}

// Name implements transform.Pattern.
func (Pattern) Name() string { return "page" }

// ConfigKey implements transform.Pattern.
func (Pattern) ConfigKey() string { return "page" }

// ImageKeys implements transform.ImageUser: the spec.images keys it reads.
func (Pattern) ImageKeys() []string { return []string{"busybox"} }

// Summary implements transform.Pattern.
func (Pattern) Summary() string {
	return "sidecar: a static page served by busybox httpd on its own port (example pattern)"
}

// NewOptions implements transform.Pattern.
func (Pattern) NewOptions() transform.Options { return Default() }

// Inject implements transform.Pattern. It changes the workload only through
// w's methods, which record every change for re-runs and uninject.
func (Pattern) Inject(w *transform.Workload, opts transform.Options) error {
	o := opts.(*Options)

	// The page, HTML-escaped: user strings never break the generated file.
	cm, err := w.AddConfigMap("", map[string]string{"index.html": render(o)})
	if err != nil {
		return err
	}
	if err := w.AddVolume(corev1.Volume{Name: VolumeName, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}},
	}}); err != nil {
		return err
	}
	port := strconv.Itoa(int(o.Port))
	c := corev1.Container{
		Name:  ContainerName,
		Image: w.Image("busybox", DefaultImage),
		// -f: stay in the foreground; httpd serves the mounted ConfigMap
		// read-only, so the read-only root filesystem suits it.
		Command:      []string{"httpd", "-f", "-p", port, "-h", MountPath},
		Ports:        []corev1.ContainerPort{{Name: PortName, ContainerPort: o.Port, Protocol: corev1.ProtocolTCP}},
		VolumeMounts: []corev1.VolumeMount{{Name: VolumeName, MountPath: MountPath, ReadOnly: true}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(PortName)},
		}},
		Resources: resources(o),
	}
	// AddContainer fills in the secure defaults (non-root user, read-only
	// root filesystem, no capabilities …), makes it a native sidecar when
	// the cluster has them, and rejects a port or name the pod already uses.
	if err := w.AddContainer(c); err != nil {
		return err
	}
	if o.ServicePort != "none" {
		for _, s := range w.Services() {
			w.EditService(transform.AddPort(s.Name, o.ServicePort, o.Port, PortName))
		}
	}
	return nil
}

func render(o *Options) string {
	return fmt.Sprintf("<!doctype html>\n<title>%s</title>\n<h1>%s</h1>\n<p>%s</p>\n",
		html.EscapeString(o.Title), html.EscapeString(o.Title), html.EscapeString(o.Text))
}

func resources(o *Options) corev1.ResourceRequirements {
	if o.Resources != nil {
		return *o.Resources
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("8Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
	}
}
