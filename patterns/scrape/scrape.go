// Package scrape makes a helper's Prometheus endpoint scrapeable, the same
// way for every pattern (docs/contract.md#scraping): a ServiceMonitor (adds
// a `metrics` port to the workload's Service), a PodMonitor, or prometheus.io
// annotations; auto (the default) picks between the first and the last. It
// also holds the Prometheus Operator object types.
package scrape

import (
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/transform"
)

// Modes.
const (
	Auto           = "auto"
	ServiceMonitor = "serviceMonitor"
	PodMonitor     = "podMonitor"
	Annotations    = "annotations"
	None           = "none"
)

// Options is embedded in each pattern's options that exports metrics.
type Options struct {
	// Scrape is auto, serviceMonitor, podMonitor, annotations or none.
	Scrape string `json:"scrape,omitempty" doc:"auto (serviceMonitor when the cluster serves monitoring.coreos.com/v1, else annotations) | serviceMonitor | podMonitor | annotations | none"`
	// Interval between scrapes (ServiceMonitor/PodMonitor).
	Interval string `json:"interval,omitempty" doc:"scrape interval"`
	// Operator is set by a pattern that generates other Prometheus Operator
	// objects (a PrometheusRule): auto then means the operator.
	Operator bool `json:"-"`
}

// Validate checks the mode and the interval (a positive duration
// Prometheus reads: digits and one unit of ms, s, m or h).
func (o Options) Validate() error {
	switch o.Scrape {
	case Auto, ServiceMonitor, PodMonitor, Annotations, None:
	default:
		return fmt.Errorf("scrape: %q: must be auto, serviceMonitor, podMonitor, annotations or none", o.Scrape)
	}
	if _, err := validate.PositiveDuration("interval", o.Interval); err != nil {
		return err
	}
	if strings.HasSuffix(o.Interval, "us") {
		return fmt.Errorf("interval: %q: Prometheus takes ms, s, m or h", o.Interval)
	}
	return nil
}

// Mode resolves auto for the workload: serviceMonitor when the Prometheus
// Operator is known to be there (see the package doc), else annotations.
func (o Options) Mode(w *transform.Workload) string {
	if o.Scrape != Auto && o.Scrape != "" {
		return o.Scrape
	}
	if o.Operator || w.APIs.Has(transform.MonitoringV1) {
		return ServiceMonitor
	}
	return Annotations
}

// Endpoint is the metrics endpoint of a helper container.
type Endpoint struct {
	PortName string // container port name, e.g. mon-metrics
	Port     int32
	Path     string
	// ServicePort is the name of the port added to the Service.
	ServicePort string
}

// Result says how the endpoint ended up scraped, for rules that select the
// scraped series (the job label).
type Result struct {
	Mode string
	Job  string // Prometheus job label of the targets
}

// Apply wires scraping for ep. ServiceMonitor mode falls back to a
// PodMonitor (with a warning) when no Service selects the pods.
func Apply(w *transform.Workload, o Options, ep Endpoint) (Result, error) {
	mode := o.Mode(w)
	svcs := w.Services()
	if mode == ServiceMonitor && len(svcs) == 0 {
		w.Warn("no Service selects the pods: scraping with a PodMonitor instead of a ServiceMonitor")
		mode = PodMonitor
	}
	name := w.ObjectName()
	switch mode {
	case ServiceMonitor:
		s := svcs[0]
		sel := s.Labels
		if len(sel) == 0 {
			// The ServiceMonitor selects Services by label: give one that
			// has none a label to be selected by.
			sel = map[string]string{"app.kubernetes.io/name": s.Name}
			w.EditService(transform.AddLabel(s.Name, "app.kubernetes.io/name", s.Name))
		}
		// The Service may already have a port of that name or number (an
		// app that exports its own metrics): the next free one is used.
		portName, port := w.ServicePort(s.Name, ep.ServicePort, ep.Port)
		w.EditService(transform.AddPort(s.Name, portName, port, ep.PortName))
		sm := Monitor{
			TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "ServiceMonitor"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: MonitorSpec{
				Selector:  &metav1.LabelSelector{MatchLabels: sel},
				Endpoints: []MetricsEndpoint{{Port: portName, Path: ep.Path, Interval: o.Interval}},
			},
		}
		// jobLabel unset: the job is the Service's name.
		return Result{Mode: mode, Job: s.Name}, w.AddObject(sm)
	case PodMonitor:
		pm := Monitor{
			TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PodMonitor"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: MonitorSpec{
				Selector:            &metav1.LabelSelector{MatchLabels: w.PodLabels()},
				PodMetricsEndpoints: []MetricsEndpoint{{Port: ep.PortName, Path: ep.Path, Interval: o.Interval}},
			},
		}
		if len(w.PodLabels()) == 0 {
			return Result{}, fmt.Errorf("scrape: podMonitor: the pod template has no labels to select it by")
		}
		job := name
		if w.Namespace != "" {
			job = w.Namespace + "/" + name
		}
		return Result{Mode: mode, Job: job}, w.AddObject(pm)
	case Annotations:
		// A pod has one prometheus.io/port: a second pattern's endpoint
		// cannot be scraped this way.
		if first := w.PodAnnotationSetBy("prometheus.io/port"); first != "" {
			const how = "scrape it with a podMonitor or serviceMonitor (the Prometheus Operator; spec.apiVersions: [monitoring.coreos.com/v1] makes auto choose them)"
			if o.Scrape == Annotations {
				return Result{}, fmt.Errorf("scrape: annotations: the pod's prometheus.io/port already names %s's metrics port, and a pod has only one: %s", first, how)
			}
			w.Warn("metrics not scraped: the pod's prometheus.io/port already names %s's metrics port, and a pod has only one; %s", first, how)
			return Result{Mode: None}, nil
		}
		for _, kv := range [][2]string{{"prometheus.io/scrape", "true"}, {"prometheus.io/port", strconv.Itoa(int(ep.Port))}, {"prometheus.io/path", ep.Path}} {
			if err := w.SetPodAnnotation(kv[0], kv[1]); err != nil {
				return Result{}, err
			}
		}
		return Result{Mode: mode}, nil
	}
	return Result{Mode: None}, nil
}

// Monitor is a ServiceMonitor or PodMonitor (monitoring.coreos.com/v1),
// with the fields sidecarize sets.
type Monitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              MonitorSpec `json:"spec"`
}

// MonitorSpec is the union of the two specs' fields we use.
type MonitorSpec struct {
	Selector            *metav1.LabelSelector `json:"selector"`
	Endpoints           []MetricsEndpoint     `json:"endpoints,omitempty"`
	PodMetricsEndpoints []MetricsEndpoint     `json:"podMetricsEndpoints,omitempty"`
}

// MetricsEndpoint is an endpoint of either.
type MetricsEndpoint struct {
	Port     string `json:"port"`
	Path     string `json:"path,omitempty"`
	Interval string `json:"interval,omitempty"`
}

// PrometheusRule is monitoring.coreos.com/v1 PrometheusRule.
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              RuleSpec `json:"spec"`
}

// RuleSpec holds rule groups.
type RuleSpec struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is a Prometheus rule group.
type RuleGroup struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// Rule is a recording or alerting rule.
type Rule struct {
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}
