package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// editServices applies the recorded edits of every injected workload to the
// Services that select it, then checks the result: a Service's targetPorts
// (and the ports added to it) must resolve in every pod it selects. One
// Service over several injected workloads (canary Deployments, a Pod beside
// a ReplicationController) gets the edits once; one that also selects pods
// that are not injected is left as it was (reported), unless those pods were
// uninjected by this run while others still hold the Service — then it is an
// error naming them, because neither answer is safe to guess.
func (e *Engine) editServices(rep *Report, svcs []*service, sums []*summary, generated []*object) error {
	var errs []error
	// Which workloads each Service selects: processWorkload listed the
	// Services of each (sum.services); read back in the order of sums.
	type match struct {
		selected, holders []*summary
		elsewhere         []*summary // may be selected (serviceIndex.elsewhere)
		errs              []error
		warns             Report
	}
	matches := make([]match, len(svcs))
	for i, s := range svcs {
		s.pos = i
	}
	for _, sum := range sums {
		if sum == nil {
			continue
		}
		for _, s := range sum.services {
			m := &matches[s.pos]
			m.selected = append(m.selected, sum)
			if sum.injected {
				m.holders = append(m.holders, sum)
			}
		}
		for _, s := range sum.elsewhere {
			m := &matches[s.pos]
			m.elsewhere = append(m.elsewhere, sum)
		}
	}
	// Each Service's edits touch only its own tree: on every core, each
	// Service written out (and its tree let go) once done. Errors and
	// warnings are gathered per Service and reported in stream order.
	parallel(len(svcs), func(i int) {
		s, m := svcs[i], &matches[i]
		if len(m.holders) == 0 {
			return
		}
		s.used = true
		m.errs = s.edit(m.selected, m.holders, m.elsewhere, &m.warns)
		if len(m.errs) == 0 {
			if err := s.finish(); err != nil {
				m.errs = append(m.errs, err)
			} else if err := s.writeOut(); err != nil {
				m.errs = append(m.errs, err)
			}
		}
	})
	for i, s := range svcs {
		errs = append(errs, matches[i].errs...)
		rep.Warnings = append(rep.Warnings, matches[i].warns.Warnings...)
		if len(matches[i].holders) == 0 {
			if err := s.finish(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, sum := range sums {
		if sum != nil && sum.fresh && len(sum.services) == 0 && hasRetarget(sum.edits) {
			msg := "no Service in the input selects this workload's pods; nothing to retarget"
			if len(sum.elsewhere) > 0 {
				var names []string
				for _, s := range sum.elsewhere {
					names = append(names, s.ref())
				}
				msg = fmt.Sprintf("no Service of its namespace selects this workload's pods; %s would, applied in the same namespace (one of the two has none), but is not retargeted: set metadata.namespace on both to have it", joinRefs(names))
			}
			rep.Warn(sum.where, sum.ref, "", msg)
		}
	}
	dedupeMonitors(rep, sums, generated)
	return errors.Join(errs...)
}

// edit applies the edits of the injected workloads (holders) among those
// the Service selects, then checks that its targetPorts resolve in every
// pod it selects, and in those it may select when applied in the same
// namespace (elsewhere: one of the two has none); where they do not, the
// Service is left as it was (see editServices).
func (s *service) edit(selected, holders, elsewhere []*summary, rep *Report) []error {
	if err := s.load(); err != nil {
		return []error{err}
	}
	s.obj.doc.keepOriginal() // before the first edit
	var errs []error
	for _, h := range holders {
		if len(h.edits) > 0 {
			if err := s.apply(h.edits, h.ref); err != nil {
				errs = append(errs, err)
			}
		}
	}
	svcRef := s.ref()
	if s.status != nil {
		pointed := s.pointed()
		lacks := func(sum *summary) bool {
			for _, port := range pointed {
				if !sum.resolves(port) {
					return true
				}
			}
			return false
		}
		var lacking, gone, maybe []string
		for _, sum := range selected {
			if lacks(sum) {
				lacking = append(lacking, sum.ref)
				if sum.uninjected {
					gone = append(gone, sum.ref)
				}
			}
		}
		for _, sum := range elsewhere {
			if lacks(sum) {
				maybe = append(maybe, sum.ref)
			}
		}
		switch {
		case len(gone) > 0:
			return append(errs, fmt.Errorf("%s: %s: uninjecting %s would leave the Service targeting ports of %s, which are still injected, that %s's pods lack; uninject them together (or opt them out too)",
				s.obj.where, svcRef, joinRefs(gone), joinRefs(refs(holders)), joinRefs(gone)))
		case len(lacking) > 0 || len(maybe) > 0:
			if err := s.undo(s.status); err != nil {
				return append(errs, err)
			}
			s.status = nil
			msg := fmt.Sprintf("also selects the pods of %s, which lack the proxy port: left as it was (its traffic reaches %s past their proxies)", joinRefs(lacking), joinRefs(refs(holders)))
			if len(lacking) == 0 {
				msg = fmt.Sprintf("may also select the pods of %s, which lack the proxy port (one of the two has no namespace: applied in the other's, they meet): left as it was", joinRefs(maybe))
			}
			rep.Warn(s.obj.where, svcRef, "spec.selector", msg+s.portsNotAdded(holders))
			return errs
		}
	}
	for _, h := range holders {
		if h.fresh && s.info.Headless && hasRetarget(h.edits) && s.status != nil {
			// A headless Service is not proxied by kube-proxy: its
			// clients dial pod IPs on the port they know.
			rep.Warn(s.obj.where, svcRef, "spec.clusterIP",
				fmt.Sprintf("is headless: clients that resolve it and dial the app's port reach %s directly, past the proxy; only the endpoint port (SRV records) leads to the proxy", h.ref))
		}
	}
	if len(holders) > 1 && s.status != nil {
		rep.Warn(s.obj.where, svcRef, "spec.selector", fmt.Sprintf("selects the pods of %s: one set of ports serves them all", joinRefs(refs(holders))))
	}
	return errs
}

// portsNotAdded says which ports the holders' patterns would have added to
// the Service (a ServiceMonitor scrapes them) when it is left as it was.
func (s *service) portsNotAdded(holders []*summary) string {
	var ports []string
	pattern := ""
	for _, h := range holders {
		for _, e := range h.edits {
			if e.Op == OpPort && (e.Service == "" || e.Service == s.info.Name) {
				ports = append(ports, fmt.Sprintf("%s for %s", e.Name, h.ref))
				pattern = e.Pattern
			}
		}
	}
	if len(ports) == 0 {
		return ""
	}
	return fmt.Sprintf("; nor does it get the port a ServiceMonitor scrapes (%s): that ServiceMonitor finds nothing on it (with %s.scrape=podMonitor the pods are scraped instead)", joinRefs(ports), pattern)
}

// writeOut writes a changed top-level Service's document now and lets its
// tree go (as processWorkload does for a workload): nothing later edits it.
func (s *service) writeOut() error {
	if s.obj.list != nil || !s.obj.changed {
		return nil
	}
	s.obj.doc.MarkChanged()
	if err := s.obj.doc.finalize(nil); err != nil {
		return err
	}
	s.obj.node = nil
	return nil
}

// pointed lists the pod ports this run points the Service at: the
// targetPorts it moved and those of the ports it added.
func (s *service) pointed() []string {
	ports, _ := s.obj.node.Pipe(yaml.Lookup("spec", "ports"))
	if ports == nil || s.status == nil {
		return nil
	}
	var out []string
	for _, p := range ports.Content() {
		key := servicePortKey(p)
		if !s.status.hasPort(key) && !contains(s.status.Ports, key) {
			continue
		}
		if tp := yaml.NewRNode(p).Field("targetPort"); tp != nil {
			out = append(out, tp.Value.YNode().Value)
		}
	}
	return out
}

// joinRefs lists objects in a message: the first five, then how many
// more (a Service over a thousand workloads gets one line, not a page).
func joinRefs(refs []string) string {
	const shown = 5
	if len(refs) <= shown+1 {
		return strings.Join(refs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(refs[:shown], ", "), len(refs)-shown)
}

func refs(sums []*summary) []string {
	var out []string
	for _, s := range sums {
		out = append(out, s.ref)
	}
	return out
}

// dedupeMonitors keeps one of identical ServiceMonitors (or PodMonitors)
// in a namespace: workloads behind one Service each generate the same one,
// and two would scrape every target twice. The first in the stream stays (an
// existing one that is kept comes first).
func dedupeMonitors(rep *Report, sums []*summary, generated []*object) {
	seen := map[string]string{}
	key := func(n *yaml.RNode) string {
		k := n.GetKind()
		if k != "ServiceMonitor" && k != "PodMonitor" {
			return ""
		}
		spec := n.Field("spec")
		if spec == nil {
			return ""
		}
		var v any
		if err := spec.Value.YNode().Decode(&v); err != nil {
			return ""
		}
		b, _ := json.Marshal(v)
		return k + "\x00" + n.GetNamespace() + "\x00" + string(b)
	}
	for _, g := range generated {
		if !g.drop {
			if k := key(g.node); k != "" {
				seen[k] = g.node.GetName()
			}
		}
	}
	for _, sum := range sums {
		if sum == nil || sum.obj == nil {
			continue
		}
		extra := &sum.obj.extra
		if sum.obj.list == nil {
			extra = &sum.obj.doc.extra
		}
		var keep []*yaml.RNode
		for _, x := range *extra {
			k := key(x)
			if k == "" {
				keep = append(keep, x)
				continue
			}
			if first, ok := seen[k]; ok {
				rep.Warn(sum.where, sum.ref, "", fmt.Sprintf("%s %s would scrape what %s %s scrapes (the same Service or pods): not generated", x.GetKind(), x.GetName(), x.GetKind(), first))
				continue
			}
			seen[k] = x.GetName()
			keep = append(keep, x)
		}
		if len(keep) != len(*extra) && sum.obj.list != nil {
			sum.obj.changed = true
		}
		*extra = keep
	}
}
