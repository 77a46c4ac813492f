package transform_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarize/sidecarize/transform"
)

// probePattern is a pattern whose Inject is a test's function.
type probePattern struct {
	name   string
	inject func(w *transform.Workload) error
}

type probeOptions struct{}

func (probeOptions) Validate() error { return nil }

func (p probePattern) Name() string                  { return p.name }
func (p probePattern) ConfigKey() string             { return p.name }
func (p probePattern) Summary() string               { return "test probe" }
func (p probePattern) NewOptions() transform.Options { return &probeOptions{} }
func (p probePattern) Inject(w *transform.Workload, _ transform.Options) error {
	return p.inject(w)
}

// Each pattern call gets its own handle: what a handle names does not follow
// the pattern the engine runs next, and the pod spec a pattern reads is its
// own copy, so changing it changes neither the output nor what the next
// pattern reads.
func TestScopedHandles(t *testing.T) {
	var first *transform.Workload
	var names []string
	e := &transform.Engine{Version: "test", Patterns: []transform.Pattern{
		probePattern{"first", func(w *transform.Workload) error {
			first = w
			ps, err := w.PodSpec()
			if err != nil {
				return err
			}
			ps.Containers[0].Image = "example.com/changed:2.0"
			ps.Containers = append(ps.Containers, ps.Containers[0])
			w.Warn("one")
			_, err = w.AddConfigMap("", map[string]string{"k": "v"})
			return err
		}},
		probePattern{"second", func(w *transform.Workload) error {
			names = append(names, first.ObjectName(), w.ObjectName())
			first.Warn("late")
			w.Warn("two")
			ps, err := w.PodSpec()
			if err != nil {
				return err
			}
			if len(ps.Containers) != 1 || ps.Containers[0].Image != "example.com/api:1.0" {
				t.Errorf("second reads the first's changes to its copy: %+v", ps.Containers)
			}
			_, err = w.AddConfigMap("", map[string]string{"k": "v"})
			return err
		}},
	}}
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: api, annotations: {sidecarize.dev/inject: \"first,second\"}}\nspec: {containers: [{name: api, image: \"example.com/api:1.0\"}]}\n"
	out, rep, err := e.Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"api-first", "api-second"}, names); d != "" {
		t.Errorf("object names (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"first: one", "first: late", "second: two"}, rep.Workloads[0].Warnings); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	for _, want := range []string{"name: api-first\n", "name: api-second\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "changed") || strings.Count(string(out), "{name: api, image") != 1 {
		t.Errorf("a change to the PodSpec copy reached the output:\n%s", out)
	}
}

// DeclaredPorts is every container port the pod declares when the pattern
// asks, including those an earlier pattern added.
func TestDeclaredPorts(t *testing.T) {
	var got map[int32]bool
	e := &transform.Engine{Version: "test", Patterns: []transform.Pattern{
		probePattern{"first", func(w *transform.Workload) error {
			return w.AddContainer(corev1.Container{Name: "first", Image: "example.com/helper:1.0",
				Ports: []corev1.ContainerPort{{ContainerPort: 9101, Protocol: corev1.ProtocolTCP}}})
		}},
		probePattern{"second", func(w *transform.Workload) (err error) {
			got, err = w.DeclaredPorts()
			return err
		}},
	}}
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: api, annotations: {sidecarize.dev/inject: \"first,second\"}}\n" +
		"spec:\n  initContainers: [{name: init, image: \"example.com/init:1.0\", ports: [{containerPort: 7000}]}]\n" +
		"  containers: [{name: api, image: \"example.com/api:1.0\", ports: [{containerPort: 8080}, {containerPort: 8443}]}]\n"
	if _, _, err := e.Process("in.yaml", []byte(in)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[int32]bool{7000: true, 8080: true, 8443: true, 9101: true}, got); d != "" {
		t.Errorf("declared ports (-want +got):\n%s", d)
	}
}
