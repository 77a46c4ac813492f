package scrape

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/transform"
)

// CheckRules says whether rules can select the series this scrape mode
// produces: only the Prometheus Operator's objects give a job label known
// in advance (with prometheus.io annotations the job is whatever the
// cluster's Prometheus config calls it).
func (o Options) CheckRules() error {
	if o.Scrape != Auto && o.Scrape != ServiceMonitor && o.Scrape != PodMonitor {
		return fmt.Errorf("rules: need scrape auto, serviceMonitor or podMonitor (the rules select series by their job)")
	}
	return nil
}

// CheckErrorRateRules checks the options of rules with an error-ratio
// alert: a scrape mode rules can select, a threshold between 0 and 1.
func (o Options) CheckErrorRateRules(errorRatio float64) error {
	if err := o.CheckRules(); err != nil {
		return err
	}
	if !(errorRatio > 0 && errorRatio < 1) { // NaN too
		return fmt.Errorf("errorRatio: %v: must be between 0 and 1", errorRatio)
	}
	return nil
}

// CheckAlertFor checks an alert's for: a duration Prometheus reads (zero is
// "fire at once"; us is not a Prometheus unit).
func CheckAlertFor(option, v string) error {
	if _, err := validate.Duration(option, v); err != nil {
		return err
	}
	if strings.HasSuffix(v, "us") {
		return fmt.Errorf("%s: %q: Prometheus takes ms, s, m or h", option, v)
	}
	return nil
}

// RuleScope is what a pattern's rules select and label: the series of the
// scrape job in the workload's namespace, recorded and alerted with the
// workload's name.
type RuleScope struct {
	// Selector matches the job's series: `namespace="ns",job="name"`.
	Selector string
	// Labels are added to recorded series and alerts.
	Labels map[string]string
	// Ref selects the recorded series of the workload: `workload="name"`.
	Ref string
}

// Scope is the rule scope of a workload scraped as job.
func Scope(w *transform.Workload, job string) RuleScope {
	s := RuleScope{Selector: fmt.Sprintf(`job=%q`, job), Labels: map[string]string{"workload": w.Name}, Ref: fmt.Sprintf(`workload=%q`, w.Name)}
	if w.Namespace != "" {
		s.Selector = fmt.Sprintf(`namespace=%q,`, w.Namespace) + s.Selector
		s.Labels["workload_namespace"] = w.Namespace
		s.Ref += fmt.Sprintf(`,workload_namespace=%q`, w.Namespace)
	}
	return s
}

// With returns the scope's labels plus extra (a new map).
func (s RuleScope) With(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range s.Labels {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// NewPrometheusRule is the pattern's PrometheusRule: one group named after
// the object.
func NewPrometheusRule(w *transform.Workload, rules ...Rule) PrometheusRule {
	return PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"},
		ObjectMeta: metav1.ObjectMeta{Name: w.ObjectName()},
		Spec:       RuleSpec{Groups: []RuleGroup{{Name: "sidecarize." + w.ObjectName(), Rules: rules}}},
	}
}
