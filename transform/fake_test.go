package transform_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarize/sidecarize/transform"
)

// fakePattern is the engine tests' pattern. It does what a proxying pattern
// does, through the same Workload API, and nothing more: a proxy sidecar in
// front of the app port, its config in a generated ConfigMap, the Services
// retargeted to the proxy and given a metrics port. The engine's tests run
// on it, so they do not change when a real pattern does; the real patterns'
// tests run on the engine.
type fakePattern struct{}

// fakeOptions has a field of each kind SetOption handles.
type fakeOptions struct {
	Port        string                       `json:"port,omitempty"`
	ProxyPort   int32                        `json:"proxyPort,omitempty"`
	MetricsPort int32                        `json:"metricsPort,omitempty"`
	Verbose     bool                         `json:"verbose,omitempty"`
	Ratio       float64                      `json:"ratio,omitempty"`
	Tags        []string                     `json:"tags,omitempty"`
	Resources   *corev1.ResourceRequirements `json:"resources,omitempty"`
	fakeCommon
}

// fakeCommon is embedded, as patterns embed shared options.
type fakeCommon struct {
	Mode string `json:"mode,omitempty"`
}

func defaultFakeOptions() *fakeOptions {
	return &fakeOptions{ProxyPort: 9080, Ratio: 0.5, fakeCommon: fakeCommon{Mode: "a"}}
}

func (o *fakeOptions) Validate() error {
	if o.ProxyPort < 1024 || o.ProxyPort > 65535 {
		return fmt.Errorf("proxyPort: %d: must be 1024-65535", o.ProxyPort)
	}
	if o.Mode != "a" && o.Mode != "b" {
		return fmt.Errorf("mode: %q: must be a or b", o.Mode)
	}
	return nil
}

func (fakePattern) Name() string                  { return "fake" }
func (fakePattern) ConfigKey() string             { return "fake" }
func (fakePattern) Summary() string               { return "engine test pattern" }
func (fakePattern) NewOptions() transform.Options { return defaultFakeOptions() }

func (fakePattern) Inject(w *transform.Workload, opts transform.Options) error {
	o := opts.(*fakeOptions)
	_, port, err := w.ResolvePort(o.Port)
	if err != nil {
		return err
	}
	cm, err := w.AddConfigMap("", map[string]string{"upstream": strconv.Itoa(int(port.ContainerPort))})
	if err != nil {
		return err
	}
	if err := w.AddVolume(corev1.Volume{Name: "sidecarize-fake", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}},
	}}); err != nil {
		return err
	}
	c := corev1.Container{
		Name:         "fake-proxy",
		Image:        w.Image("fake", "example.com/fake-proxy:1.0"),
		Ports:        []corev1.ContainerPort{{Name: "fake-proxy", ContainerPort: o.ProxyPort, Protocol: corev1.ProtocolTCP}},
		VolumeMounts: []corev1.VolumeMount{{Name: "sidecarize-fake", MountPath: "/etc/fake", ReadOnly: true}},
	}
	if o.MetricsPort != 0 {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: "fake-metrics", ContainerPort: o.MetricsPort, Protocol: corev1.ProtocolTCP})
	}
	if err := w.AddContainer(c); err != nil {
		return err
	}
	w.EditService(transform.Retarget(port, o.ProxyPort, "fake-proxy"))
	if o.MetricsPort != 0 {
		for _, s := range w.Services() {
			w.EditService(transform.AddPort(s.Name, "fake-metrics", o.MetricsPort, "fake-metrics"))
		}
	}
	return nil
}

// fakeEngine runs the fake pattern.
func fakeEngine() *transform.Engine {
	return &transform.Engine{Patterns: []transform.Pattern{fakePattern{}}, Version: "test"}
}

// The engine's tests run on fakePattern (and the probes of handle_test.go),
// never on a real pattern: a change to a pattern cannot break them.
func TestEngineTestsImportNoPattern(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) < 10 {
		t.Fatalf("test files: %d, %v", len(files), err)
	}
	for _, f := range files {
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pf.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, "github.com/sidecarize/sidecarize/patterns") {
				t.Errorf("%s imports %s: engine tests run on fakePattern", f, p)
			}
		}
	}
}
