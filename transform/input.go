package transform

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sidecarize/sidecarize/internal/validate"
)

// Checks of the input's values that the engine builds on: a port it proxies
// or retargets must be a port (a containerPort of 65536 would become a
// proxy pointing at 127.0.0.1:65536). The API server refuses the same
// values; here they are errors before anything is generated.

// podPorts checks the container ports of a pod spec; field is the spec's
// path ("spec.template.spec").
func podPorts(ps *corev1.PodSpec, field string) error {
	for _, list := range []struct {
		name string
		cs   []corev1.Container
	}{{"initContainers", ps.InitContainers}, {"containers", ps.Containers}} {
		for i, c := range list.cs {
			for j, p := range c.Ports {
				f := fmt.Sprintf("%s.%s[%d].ports[%d]", field, list.name, i, j)
				if err := validate.Port(f+".containerPort", int64(p.ContainerPort)); err != nil {
					return err
				}
				if p.HostPort != 0 {
					if err := validate.Port(f+".hostPort", int64(p.HostPort)); err != nil {
						return err
					}
				}
				if p.Name != "" {
					if err := validate.PortName(f+".name", p.Name); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// servicePorts checks a Service's ports and numeric target ports; a port
// (number and protocol) or a port name given twice is an error, as the API
// server has it: the engine finds ports by name or number.
func servicePorts(s *corev1.Service) error {
	numbers, names := map[string]int{}, map[string]int{}
	for i, p := range s.Spec.Ports {
		f := fmt.Sprintf("spec.ports[%d]", i)
		if err := validate.Port(f+".port", int64(p.Port)); err != nil {
			return err
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		key := fmt.Sprintf("%d/%s", p.Port, proto)
		if j, ok := numbers[key]; ok {
			return fmt.Errorf("%s.port: %s is also spec.ports[%d]", f, key, j)
		}
		numbers[key] = i
		if p.Name != "" {
			if j, ok := names[p.Name]; ok {
				return fmt.Errorf("%s.name: %q is also the name of spec.ports[%d]", f, p.Name, j)
			}
			names[p.Name] = i
		}
		switch p.TargetPort.Type {
		case intstr.Int:
			if p.TargetPort.IntVal != 0 {
				if err := validate.Port(f+".targetPort", int64(p.TargetPort.IntVal)); err != nil {
					return err
				}
			}
		case intstr.String:
			if err := validate.PortName(f+".targetPort", p.TargetPort.StrVal); err != nil {
				return err
			}
		}
	}
	return nil
}
