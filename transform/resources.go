package transform

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// checkResources refuses the requests and limits of a helper container
// that kube-apiserver would refuse in the pod (and so fail the apply after
// sidecarize said it was ready): a negative quantity, a request above its
// limit, a resource name that is neither a standard container resource
// (cpu, memory, ephemeral-storage, hugepages-<size>) nor a qualified
// extended resource (vendor.example/gpu). Every options field of type
// corev1.ResourceRequirements is checked, wherever it is set.
func checkResources(opts Options) error {
	var errs []string
	v := reflect.ValueOf(opts)
	walkConsent(v, v, "", "", func(field, category string, _, f reflect.Value) {
		if category != ConsentResources {
			return
		}
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				return
			}
			f = f.Elem()
		}
		rr := f.Interface().(corev1.ResourceRequirements)
		for _, l := range []struct {
			name string
			list corev1.ResourceList
		}{{"requests", rr.Requests}, {"limits", rr.Limits}} {
			for _, n := range sortedResourceNames(l.list) {
				q := l.list[n]
				at := fmt.Sprintf("%s.%s.%s", field, l.name, n)
				switch {
				case !containerResource(string(n)):
					errs = append(errs, fmt.Sprintf("%s: not a container resource (cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with a domain, like vendor.example/gpu)", at))
				case q.Sign() < 0:
					errs = append(errs, fmt.Sprintf("%s: %s: must not be negative", at, q.String()))
				}
			}
		}
		for _, n := range sortedResourceNames(rr.Requests) {
			req := rr.Requests[n]
			if lim, ok := rr.Limits[n]; ok && req.Cmp(lim) > 0 {
				errs = append(errs, fmt.Sprintf("%s.requests.%s: %s is above its limit %s (kube-apiserver refuses it)", field, n, req.String(), lim.String()))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func sortedResourceNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// containerResource: a name kube-apiserver accepts in a container's
// requests and limits.
func containerResource(name string) bool {
	switch name {
	case "cpu", "memory", "ephemeral-storage":
		return true
	}
	if strings.HasPrefix(name, "hugepages-") {
		return true
	}
	domain, rest, ok := strings.Cut(name, "/")
	return ok && rest != "" && strings.Contains(domain, ".") && !strings.Contains(rest, "/")
}
