package transform

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// editPattern makes one edit of the op it is given, through the Workload
// method that records it.
type editPattern struct{ op EditOp }

type noOptions struct{}

func (noOptions) Validate() error { return nil }

func (editPattern) Name() string        { return "edit" }
func (editPattern) ConfigKey() string   { return "edit" }
func (editPattern) Summary() string     { return "test: one edit" }
func (editPattern) NewOptions() Options { return &noOptions{} }
func (p editPattern) Inject(w *Workload, _ Options) error {
	switch p.op {
	case EditMount:
		if err := w.AddVolume(corev1.Volume{Name: "sidecarize-edit", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}); err != nil {
			return err
		}
		return w.Mount("app", corev1.VolumeMount{Name: "sidecarize-edit", MountPath: "/edit"})
	case EditEnv:
		return w.SetEnv("app", "MODE", "edited")
	case EditArg:
		return w.SetArg("app", 0, "--edited")
	case EditAnnotation:
		return w.SetPodAnnotation("example.com/edited", "yes")
	}
	return fmt.Errorf("no sample edit for %q", p.op)
}

const editInput = `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    sidecarize.dev/inject: edit
spec:
  containers:
  - name: app
    image: example.com/app:1.0
    args: [--plain]
    env:
    - name: MODE
      value: plain
`

// Every EditOp is recorded by its method, trusted on the next run and undone
// exactly: a case missing from undoEdit or trustStatus (or a method that
// records another op) fails here.
func TestEveryEditOpUndoes(t *testing.T) {
	for _, op := range editOps {
		t.Run(string(op), func(t *testing.T) {
			e := &Engine{Patterns: []Pattern{editPattern{op}}, Version: "test"}
			out, _, err := e.Process("in.yaml", []byte(editInput))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), `"edits":[{"op":"`+string(op)+`"`) {
				t.Fatalf("the status records no %q edit:\n%s", op, out)
			}
			again, rep, err := e.Process("out.yaml", out)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(out), string(again)); d != "" {
				t.Errorf("second run changed the output (-first +second):\n%s", d)
			}
			if len(rep.Warnings)+len(rep.Workloads[0].Warnings) > 0 {
				t.Errorf("second run: %v %v", rep.Warnings, rep.Workloads[0].Warnings)
			}
			e.Uninject = true
			back, rep, err := e.Process("out.yaml", out)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(editInput, string(back)); d != "" {
				t.Errorf("uninject is not exact (-in +back):\n%s", d)
			}
			if len(rep.Warnings)+len(rep.Workloads[0].Warnings) > 0 {
				t.Errorf("uninject: %v %v", rep.Warnings, rep.Workloads[0].Warnings)
			}
		})
	}
}
