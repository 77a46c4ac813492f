package transform

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// MonitoringV1 is the Prometheus Operator's API group version
// (ServiceMonitor, PodMonitor, PrometheusRule).
const MonitoringV1 = "monitoring.coreos.com/v1"

// APIVersions is what the target cluster serves, as `helm template
// --api-versions` takes it: "group/version" or "group/version/Kind" entries
// ("v1" for the core group).
type APIVersions map[string]bool

// Has reports whether gv ("group/version") or any "gv/Kind" is listed.
func (a APIVersions) Has(gv string) bool {
	if a[gv] {
		return true
	}
	for k := range a {
		if strings.HasPrefix(k, gv+"/") {
			return true
		}
	}
	return false
}

// List is the sorted entries.
func (a APIVersions) List() []string {
	out := make([]string, 0, len(a))
	for k := range a {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ValidAPIVersion checks one --api-versions / spec.apiVersions entry.
func ValidAPIVersion(s string) error {
	parts := strings.Split(s, "/")
	if len(parts) > 3 || s == "" || strings.ContainsAny(s, " \t,") {
		return fmt.Errorf("%q: expected group/version or group/version/Kind (e.g. %s)", s, MonitoringV1)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("%q: expected group/version or group/version/Kind (e.g. %s)", s, MonitoringV1)
		}
	}
	return nil
}

// operatorKinds are the Prometheus Operator kinds whose presence in the input
// shows the operator is installed (a chart rendered them, or a manifest
// repository ships them).
var operatorKinds = map[string]bool{
	"ServiceMonitor": true, "PodMonitor": true, "PrometheusRule": true, "Probe": true,
	"Prometheus": true, "Alertmanager": true, "ScrapeConfig": true, "PrometheusAgent": true,
}

// apiVersions gathers what the cluster is known to serve: the flags and the
// config (spec.apiVersions) say so, or the input does — a Prometheus Operator
// object that sidecarize did not generate, or the operator's CRDs. Only the
// few documents that mention monitoring.coreos.com are parsed.
func (e *Engine) apiVersions(docs []*Doc) APIVersions {
	out := APIVersions{}
	for _, v := range e.Flags.APIVersions {
		out[v] = true
	}
	if e.Config != nil {
		for _, v := range e.Config.Spec.APIVersions {
			out[v] = true
		}
	}
	for _, d := range docs {
		kind := d.Kind()
		if (!operatorKinds[kind] && kind != "CustomResourceDefinition") || !bytes.Contains(d.Raw, []byte("monitoring.coreos.com")) {
			continue
		}
		n, err := d.Node()
		if err != nil || n == nil {
			continue // reported where the document is read
		}
		if kind == "CustomResourceDefinition" {
			if g, _ := n.GetString("spec.group"); g == "monitoring.coreos.com" {
				out[MonitoringV1] = true
			}
			continue
		}
		if n.GetApiVersion() == MonitoringV1 && n.GetLabels()[LabelManagedBy] != ManagedByValue {
			out[MonitoringV1+"/"+kind] = true
		}
	}
	return out
}
