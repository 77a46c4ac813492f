package golden

import (
	"bytes"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/kio"
	sigyaml "sigs.k8s.io/yaml"
)

// CheckPod checks the Deployment and Service of stream: container names,
// port numbers, port names and volume names are unique in the pod, and
// every Service targetPort names a port the pod declares.
func CheckPod(t *testing.T, out []byte) {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(out), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.PodSpec
	var svc corev1.Service
	for _, n := range nodes {
		s, err := n.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		switch n.GetKind() {
		case "Deployment":
			var d struct {
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			}
			if err := sigyaml.Unmarshal(s, &d); err != nil {
				t.Fatal(err)
			}
			pod = d.Spec.Template.Spec
		case "Service":
			if err := sigyaml.Unmarshal(s, &svc); err != nil {
				t.Fatal(err)
			}
		}
	}
	names, nums, pnames := map[string]bool{}, map[int32]string{}, map[string]bool{}
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		if names[c.Name] {
			t.Errorf("container name %q twice", c.Name)
		}
		names[c.Name] = true
		for _, p := range c.Ports {
			if o, ok := nums[p.ContainerPort]; ok {
				t.Errorf("port %d in %s and %s", p.ContainerPort, o, c.Name)
			}
			nums[p.ContainerPort] = c.Name
			if p.Name != "" {
				if pnames[p.Name] || len(p.Name) > 15 {
					t.Errorf("port name %q twice or too long", p.Name)
				}
				pnames[p.Name] = true
			}
		}
	}
	vols := map[string]bool{}
	for _, v := range pod.Volumes {
		if vols[v.Name] {
			t.Errorf("volume %q twice", v.Name)
		}
		vols[v.Name] = true
	}
	sp := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		key := fmt.Sprint(p.Port)
		if sp[p.Name] || sp[key] {
			t.Errorf("Service port %s/%d twice", p.Name, p.Port)
		}
		sp[p.Name], sp[key] = true, true
		tp := p.TargetPort.String()
		if p.TargetPort.Type == 1 && !pnames[tp] {
			t.Errorf("Service port %s: targetPort %s is not a port of the pod", p.Name, tp)
		}
	}
}
