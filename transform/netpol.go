package transform

import (
	"encoding/json"
	"fmt"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// policy is a NetworkPolicy in the stream. One that selects an injected pod
// and admits its app port in an ingress rule that lists ports must admit the
// proxy port the Service now targets (and the metrics port: the one a
// ServiceMonitor's Service port targets, or the one prometheus.io/port
// names) in the same rule, or the traffic sent there is dropped. The ports added are
// recorded in its sidecarize.dev/status and removed by uninject; rules that
// do not list ports (they admit every port) and policies that select no
// injected pod are not touched.
type policy struct {
	obj      *object
	name, ns string
	selector labels.Selector
	recorded *policyStatus // the status the input carries: undone first
	status   *policyStatus
}

type policyStatus struct {
	Ports   []policyPort `json:"ports"`
	Created []string     `json:"created,omitempty"`
}

// policyPort is a port entry added to spec.ingress[Rule].ports.
type policyPort struct {
	Rule int    `json:"rule"`
	Port string `json:"port"`
}

func parsePolicies(objs []*object) ([]*policy, []error) {
	var out []*policy
	var errs []error
	for _, o := range objs {
		if o.node == nil {
			n, err := o.doc.Node()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if n == nil {
				continue
			}
			o.node = n
		}
		var generic map[string]any
		if err := o.node.YNode().Decode(&generic); err != nil {
			errs = append(errs, fmt.Errorf("%s: NetworkPolicy %s: %w", o.where, o.node.GetName(), err))
			continue
		}
		b, err := json.Marshal(generic)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var np networkingv1.NetworkPolicy
		if err := json.Unmarshal(b, &np); err != nil {
			errs = append(errs, fmt.Errorf("%s: NetworkPolicy %s: %w", o.where, o.node.GetName(), cleanJSONError(err)))
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: NetworkPolicy %s: spec.podSelector: %w", o.where, np.Name, err))
			continue
		}
		p := &policy{obj: o, name: np.Name, ns: np.Namespace, selector: sel}
		if raw, ok := np.Annotations[AnnotationStatus]; ok {
			p.recorded = &policyStatus{}
			if err := decodeStatus(raw, p.recorded); err != nil {
				errs = append(errs, fmt.Errorf("%s: NetworkPolicy %s: annotation %s: %w", o.where, np.Name, AnnotationStatus, cleanJSONError(err)))
				continue
			}
		}
		out = append(out, p)
	}
	return out, errs
}

// restore removes the ports an earlier run added — only what it can prove
// (see the trust model in the README): an entry as sidecarize writes it,
// {protocol: TCP, port: P}, where P is a helper port that the (trusted)
// earlier status of a workload the policy selects records, and never the
// last port of a rule (a rule without ports admits every port). The rest is
// reported and left alone.
func (p *policy) restore(sums []*summary, warn func(string)) error {
	st := p.recorded
	if st == nil {
		return nil
	}
	proven := map[string]bool{}
	for _, sum := range sums {
		if sum != nil && sum.namespace == p.ns && p.selector.Matches(labels.Set(sum.labels)) {
			for _, port := range sum.oldPorts {
				proven[port] = true
			}
		}
	}
	n := p.obj.node
	for i := len(st.Ports) - 1; i >= 0; i-- {
		pp := st.Ports[i]
		ports, err := n.Pipe(yaml.Lookup("spec", "ingress", strconv.Itoa(pp.Rule), "ports"))
		if err != nil || ports == nil || ports.YNode().Kind != yaml.SequenceNode {
			warn(fmt.Sprintf("status: port %q of ingress[%d] is not in the policy: left alone", pp.Port, pp.Rule))
			continue
		}
		c := ports.YNode().Content
		j := len(c) - 1
		for ; j >= 0; j-- {
			e := c[j]
			if e.Kind == yaml.MappingNode && len(e.Content) == 4 && scalarField(e, "protocol") == "TCP" && scalarField(e, "port") == pp.Port {
				break
			}
		}
		switch {
		case j < 0:
			warn(fmt.Sprintf("status: port %q of ingress[%d] is not an entry sidecarize adds ({protocol: TCP, port: %s}): left alone", pp.Port, pp.Rule, pp.Port))
		case !proven[pp.Port]:
			warn(fmt.Sprintf("status: port %q of ingress[%d] is not a helper port of a workload this policy selects: left alone", pp.Port, pp.Rule))
		case len(c) == 1:
			warn(fmt.Sprintf("status: port %q is the only port of ingress[%d] (without it the rule would admit every port): left alone", pp.Port, pp.Rule))
		default:
			ports.YNode().Content = append(c[:j], c[j+1:]...)
		}
	}
	if err := restoreMeta(n, "annotations", []string{AnnotationStatus}, st.Created); err != nil {
		return err
	}
	p.obj.changed = true
	return nil
}

// helperPorts are the ports (numbers and names) a status's Service edits
// and prometheus.io/port edits record: what a policy's status may remove.
func helperPorts(st *Status) []string {
	out := scrapePorts(st.Edits)
	for _, e := range st.Services {
		switch e.Op {
		case OpRetarget:
			out = append(out, strconv.Itoa(int(e.ProxyPort)), e.ProxyPortName)
		case OpPort:
			out = append(out, e.TargetPort)
		}
	}
	return out
}

// editPolicies undoes what earlier runs added and admits the helper ports
// wherever the app port is admitted.
func editPolicies(rep *Report, pols []*policy, sums []*summary) error {
	for _, p := range pols {
		warn := func(msg string) {
			rep.Warn(p.obj.where, "NetworkPolicy "+qualified(p.ns, p.name), "metadata.annotations["+AnnotationStatus+"]", msg)
		}
		if err := p.restore(sums, warn); err != nil {
			return fmt.Errorf("%s: NetworkPolicy %s: %w", p.obj.where, p.name, err)
		}
	}
	for _, p := range pols {
		for _, sum := range sums {
			if sum == nil || !sum.injected || sum.namespace != p.ns || !p.selector.Matches(labels.Set(sum.labels)) {
				continue
			}
			if err := p.admit(sum); err != nil {
				return fmt.Errorf("%s: NetworkPolicy %s: %w", p.obj.where, p.name, err)
			}
		}
		if p.status != nil {
			b, err := json.Marshal(p.status)
			if err != nil {
				return err
			}
			if err := setMetaKey(p.obj.node, "annotations", AnnotationStatus, string(b)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *policy) admit(sum *summary) error {
	rules, err := p.obj.node.Pipe(yaml.Lookup("spec", "ingress"))
	if err != nil || rules == nil || rules.YNode().Kind != yaml.SequenceNode {
		return err
	}
	for i, r := range rules.Content() {
		ports := yaml.NewRNode(r).Field("ports")
		if ports == nil || ports.Value.YNode().Kind != yaml.SequenceNode || len(ports.Value.Content()) == 0 {
			continue // every port is admitted
		}
		admitted := func(num int32, name string) bool {
			for _, e := range ports.Value.Content() {
				en := yaml.NewRNode(e)
				if pr := en.Field("protocol"); pr != nil && pr.Value.YNode().Value != "TCP" {
					continue
				}
				pf := en.Field("port")
				if pf == nil {
					return true // every TCP port
				}
				v := pf.Value.YNode().Value
				if v == name && name != "" {
					return true
				}
				if n, err := strconv.Atoi(v); err == nil {
					end := int32(n)
					if ef := en.Field("endPort"); ef != nil {
						if m, err := strconv.Atoi(ef.Value.YNode().Value); err == nil {
							end = int32(m)
						}
					}
					if num >= int32(n) && num <= end {
						return true
					}
				}
			}
			return false
		}
		add := func(port string) error {
			m := yaml.NewMapRNode(nil)
			m.YNode().Style = ports.Value.YNode().Content[0].Style
			if err := m.PipeE(yaml.SetField("protocol", yaml.NewScalarRNode("TCP"))); err != nil {
				return err
			}
			if err := m.PipeE(yaml.SetField("port", portNode(port))); err != nil {
				return err
			}
			if err := ports.Value.PipeE(yaml.Append(m.YNode())); err != nil {
				return err
			}
			st := p.record()
			st.Ports = append(st.Ports, policyPort{Rule: i, Port: port})
			return nil
		}
		// Follow the chain of proxies in the order they were recorded.
		any := false
		for _, e := range sum.edits {
			if e.Op != OpRetarget || !admitted(e.AppPort, e.AppPortName) {
				continue
			}
			any = true
			if !admitted(e.ProxyPort, e.ProxyPortName) {
				if err := add(strconv.Itoa(int(e.ProxyPort))); err != nil {
					return err
				}
			}
		}
		if !any {
			continue
		}
		for _, e := range sum.edits {
			if e.Op == OpPort && e.TargetPort != "" && !admitted(0, e.TargetPort) {
				if err := add(e.TargetPort); err != nil {
					return err
				}
			}
		}
		// Scraped through prometheus.io annotations: Prometheus dials the
		// pod's metrics port directly.
		for _, port := range sum.scrapePorts {
			if n, err := strconv.Atoi(port); err == nil && !admitted(int32(n), "") {
				if err := add(port); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// scrapePorts are the values sidecarize gave the pod's prometheus.io/port
// annotation (edits of the status).
func scrapePorts(edits []Edit) []string {
	var out []string
	for _, e := range edits {
		if e.Op == "annotation" && e.Name == "prometheus.io/port" && e.Set != nil {
			out = append(out, *e.Set)
		}
	}
	return out
}

func (p *policy) record() *policyStatus {
	if p.status == nil {
		p.status = &policyStatus{Created: metaShape(p.obj.node, "annotations")}
	}
	p.obj.changed = true
	return p.status
}
