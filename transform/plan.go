package transform

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// plan is what the engine decided for one workload, and what carrying it out
// needs. The steps of Engine.plan fill it in turn.
type plan struct {
	skipped []string // reasons of patterns that did not apply
	obj     *object
	w       *Workload
	old     *Status
	enabled []Pattern
	opts    map[string]Options
	step    step
	reason  Reason // why a skip
	// named: the workload was selected by name (a rule's or --name's names,
	// or its own sidecarize.dev/inject annotation): a pattern that cannot
	// serve it is an error. Selected implicitly, it is skipped with a reason.
	named    bool
	explicit map[string]map[string]bool // pattern -> option paths set

	// readWorkload
	anns      map[string]string // the object's (for nested templates) and the pod template's annotations
	annKeys   []string          // anns' keys, sorted
	objLabels map[string]string // the object's own labels
	// selectPatterns
	on    map[string]bool // pattern name -> enabled
	rules []Rule          // the config rules that select the workload
}

// step is what plan decided for a workload.
type step int

const (
	stepSkip     step = iota // leave it alone; plan.reason says why
	stepInject               // (re)inject the enabled patterns
	stepUninject             // remove an earlier injection
	stepLeave                // injected earlier, not selected now: keep it
)

// settled: a step has already decided the workload's fate.
func (p *plan) settled() bool { return p.step != stepSkip || p.reason != "" }

// uninjectElse removes an earlier injection, or skips with reason when
// there is none.
func (p *plan) uninjectElse(reason Reason) {
	if p.old != nil {
		p.step = stepUninject
	} else {
		p.reason = reason
	}
}

// plan decides what happens to one workload and layers its options:
// defaults, then flags, then config rules, then annotations
// (docs/contract.md#configuration). Its steps, in order: readWorkload,
// readRecord, selectPatterns, layerOptions, checkAnnotations, decide; one
// that settles the workload's fate (a skip, an uninject) ends the plan.
func (e *Engine) plan(o *object, native bool, kv KubeVersion, apis APIVersions) (*plan, error) {
	p, err := e.readWorkload(o, native, kv, apis)
	if err != nil {
		return nil, err
	}
	if p.settled() {
		return p, nil
	}
	if err := e.readRecord(p); err != nil {
		return nil, err
	}
	if e.Uninject {
		p.uninjectElse(ReasonNotInjected)
		return p, nil
	}
	if err := e.selectPatterns(p); err != nil {
		return nil, err
	}
	if err := p.checkName(); err != nil {
		return nil, err
	}
	if p.settled() {
		return p, nil
	}
	if err := e.layerOptions(p); err != nil {
		return nil, err
	}
	if err := e.checkAnnotations(p); err != nil {
		return nil, err
	}
	p.decide()
	return p, nil
}

// skipNameless: a workload without a name that mentions no sidecarize
// annotation (a Job created with generateName, selected by a broad run) is
// skipped; one that asks for injection fails in podTemplate.
func skipNameless(o *object) bool {
	if scalarField(field(o.node.YNode(), "metadata"), "name") != "" {
		return false
	}
	return !mentionsSidecarize(o.node.YNode())
}

// mentionsSidecarize: does the object itself (not its document: a List's
// other items may be injected) hold a sidecarize.dev/ key?
func mentionsSidecarize(n *yaml.Node) bool {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if strings.HasPrefix(n.Content[i].Value, AnnotationPrefix) {
				return true
			}
		}
	}
	for _, c := range n.Content {
		if mentionsSidecarize(c) {
			return true
		}
	}
	return false
}

// readWorkload finds the pod template and builds the workload's state, its
// annotations and labels. A workload without a name or without a pod
// template is settled as a skip.
func (e *Engine) readWorkload(o *object, native bool, kv KubeVersion, apis APIVersions) (*plan, error) {
	n := o.node
	if skipNameless(o) {
		w := &Workload{workload: &workload{Kind: n.GetKind(), Namespace: metaString(n, "namespace"), obj: o}}
		w.warnings = append(w.warnings, "not injected: it has no metadata.name (generateName?), and the objects sidecarize adds are named after the workload")
		return &plan{obj: o, w: w, opts: map[string]Options{}, reason: ReasonNoName}, nil
	}
	tmpl, err := podTemplate(n, o.spec)
	if err != nil {
		return nil, &WorkloadError{Where: o.where, Workload: strings.TrimSpace(n.GetKind() + " " + n.GetName()), Err: err} // err names the field
	}
	w := &Workload{workload: &workload{Kind: n.GetKind(), Name: metaString(n, "name"), Namespace: metaString(n, "namespace"), Native: native, KubeVersion: kv, APIs: apis, obj: o}}
	p := &plan{obj: o, w: w, opts: map[string]Options{}}
	if tmpl == nil {
		p.reason = ReasonNoPodTemplate
		return p, nil
	}
	w.tmpl = tmpl
	spec := fieldNode(tmpl, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, w.fail("%s: missing pod spec", w.fieldPath("spec"))
	}
	w.spec = yaml.NewRNode(spec)
	w.labels = metaMap(tmpl, "labels")
	w.reservedNames = map[string]bool{}
	if e.Config != nil {
		w.images = e.Config.Spec.Images
	}
	p.anns = map[string]string{}
	if o.spec.Path != "" {
		for k, v := range metaMap(n, "annotations") {
			p.anns[k] = v
		}
	}
	for k, v := range metaMap(tmpl, "annotations") {
		p.anns[k] = v
	}
	for k := range p.anns {
		p.annKeys = append(p.annKeys, k)
	}
	sort.Strings(p.annKeys)
	p.objLabels = metaMap(n, "labels")
	return p, nil
}

// readRecord reads an earlier injection's status, keeping what can be
// trusted of it (trust.go).
func (e *Engine) readRecord(p *plan) error {
	w := p.w
	raw, _, ok := readStatus(p.obj.node, w.tmpl)
	if !ok {
		if _, stray := metaMap(w.tmpl, "annotations")[AnnotationConfigHash]; stray {
			// A config-hash without the status it belongs to (a copied
			// output, the status cut by hand) is read as an earlier
			// injection of nothing: re-injection and uninject remove it,
			// and so, now, does the first run (FuzzStructure: it stayed on
			// the first run and went on the second). An annotation map that
			// held nothing else goes with it.
			p.old = &Status{}
			if !hasUserKeys(w.tmpl, "annotations") {
				p.old.Created = []string{"annotations"}
			}
		}
		return nil
	}
	st, unknown, err := parseStatus(raw)
	if err != nil {
		return w.fail("%w", err)
	}
	if p.old, err = w.trustStatus(st, unknown, e.Patterns); err != nil {
		return err
	}
	w.prev = st
	return nil
}

// selectPatterns decides which patterns are on: -p for workloads the flags
// select, the patterns of each matching config rule, and those the
// sidecarize.dev/inject annotation names. An annotation that opts out
// settles the plan.
func (e *Engine) selectPatterns(p *plan) error {
	w := p.w
	p.on = map[string]bool{}
	inject := strings.TrimSpace(p.anns[AnnotationInject])
	switch strings.ToLower(inject) {
	case "disabled", "false", "none", "off":
		p.uninjectElse(ReasonOptedOut)
		return nil
	}
	if len(e.Flags.Patterns) > 0 && e.Flags.Select.Matches(w.Kind, w.Name, w.Namespace, p.objLabels, w.labels) {
		p.named = p.named || len(e.Flags.Select.Names) > 0
		for _, name := range e.Flags.Patterns {
			p.on[name] = true
		}
	}
	if e.Config != nil {
		for _, r := range e.Config.Spec.Rules {
			if r.Select.Matches(w.Kind, w.Name, w.Namespace, p.objLabels, w.labels) {
				p.named = p.named || len(r.Select.Names) > 0
				p.rules = append(p.rules, r)
				for k := range r.Patterns {
					p.on[patternByKey(e.Patterns, k).Name()] = true
				}
			}
		}
	}
	if inject != "" {
		p.named = true // the workload asks for it itself
	}
	if inject == "" || strings.EqualFold(inject, "enabled") || strings.EqualFold(inject, "true") {
		return nil
	}
	for _, name := range strings.Split(inject, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if patternByName(e.Patterns, name) == nil {
			return w.fail("metadata.annotations[%q]: unknown pattern %q (patterns: %s)", AnnotationInject, name, strings.Join(patternNames(e.Patterns), ", "))
		}
		p.on[name] = true
	}
	return nil
}

// checkName: a selected workload's name and namespace are what Kubernetes
// accepts for them (a DNS-1123 subdomain, a DNS-1123 label): they are
// written into generated object names, configs (haproxy.cfg, Envoy's
// bootstrap) and certificate names, where a newline or a quote would write
// something else. Named explicitly, a workload with another is an error;
// selected by a broad run, it is skipped with invalid_name.
func (p *plan) checkName() error {
	if len(p.on) == 0 || p.settled() {
		return nil
	}
	w := p.w
	field, value, msgs := "metadata.name", w.Name, validation.IsDNS1123Subdomain(w.Name)
	if len(msgs) == 0 && w.Namespace != "" {
		field, value, msgs = "metadata.namespace", w.Namespace, validation.IsDNS1123Label(w.Namespace)
	}
	if len(msgs) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s: %q: %s", field, value, strings.Join(msgs, "; "))
	if p.named {
		return w.fail("%s", msg)
	}
	w.warnings = append(w.warnings, "not injected: "+msg)
	p.reason = ReasonInvalidName
	return nil
}

// layerOptions builds each enabled pattern's options, layer by layer, and
// validates them: what annotations set beyond tuning needs the config's
// consent (consent.go), and every refusal is reported at once.
func (e *Engine) layerOptions(p *plan) error {
	w := p.w
	p.explicit = map[string]map[string]bool{}
	var refused []error // annotations that set options without the config's consent
	for _, pat := range e.Patterns {
		if skipUnmentioned && !p.on[pat.Name()] && !e.mentioned(p, pat) {
			// Its options would be its defaults, which nothing reads.
			p.explicit[pat.Name()] = map[string]bool{}
			if verify { // verify.go
				if err := e.checkUnmentioned(p, pat); err != nil {
					return err
				}
			}
			continue
		}
		set := e.explicitOptions(pat, p.rules)
		p.explicit[pat.Name()] = set
		opts, annotated, err := e.annotatedOptions(p, pat, set)
		if err != nil {
			return err
		}
		if !p.on[pat.Name()] {
			continue
		}
		if len(annotated) > 0 {
			base, err := e.configured(w, pat, p.rules)
			if err != nil {
				return err
			}
			refused = append(refused, w.checkConsent(pat, base, opts, e.annotationPolicy(), annotated)...)
			if len(refused) > 0 {
				continue
			}
		}
		if err := opts.Validate(); err != nil {
			return w.failAt(pat.Name(), err)
		}
		if err := checkResources(opts); err != nil {
			return w.failAt(pat.Name(), err)
		}
		p.enabled = append(p.enabled, pat)
		p.opts[pat.Name()] = opts
	}
	return errors.Join(refused...)
}

// skipUnmentioned: layerOptions skips the patterns that are not on and not
// mentioned (TestPlanUnmentioned runs it both ways).
var skipUnmentioned = true

// mentioned: a flag (--set), one of the workload's rules or an annotation
// sets an option of pat. Else its options are NewOptions() and none is
// explicit (what explicitOptions and annotatedOptions would work out).
func (e *Engine) mentioned(p *plan, pat Pattern) bool {
	for _, s := range e.Flags.Set {
		key, _, _ := strings.Cut(s, "=")
		if pn, _, _ := strings.Cut(key, "."); pn == pat.Name() {
			return true
		}
	}
	for _, r := range p.rules {
		if _, ok := r.Patterns[pat.ConfigKey()]; ok {
			return true
		}
		if _, ok := r.Patterns[pat.Name()]; ok {
			return true
		}
	}
	for _, k := range p.annKeys {
		if strings.HasPrefix(k, AnnotationPrefix+pat.Name()+".") {
			return true
		}
	}
	return false
}

// checkUnmentioned: for a pattern that is not on and not mentioned,
// explicitOptions and annotatedOptions give what layerOptions assumes (no
// explicit option, the defaults, no annotation, no error).
func (e *Engine) checkUnmentioned(p *plan, pat Pattern) error {
	set := e.explicitOptions(pat, p.rules)
	opts, annotated, err := e.annotatedOptions(p, pat, set)
	if err != nil || len(set) > 0 || len(annotated) > 0 || !reflect.DeepEqual(opts, pat.NewOptions()) {
		return fmt.Errorf("internal error: %s: pattern %s is not mentioned, but its options are not its defaults (%v)", p.w.Ref(), pat.Name(), err)
	}
	return nil
}

// annotatedOptions is a pattern's options from defaults, flags and rules,
// with its option annotations on top; it returns the annotations applied
// and adds the options they set to set. An option annotation of a pattern
// that is not on is a warning.
func (e *Engine) annotatedOptions(p *plan, pat Pattern, set map[string]bool) (Options, []string, error) {
	w := p.w
	opts, err := e.configured(w, pat, p.rules)
	if err != nil {
		return nil, nil, err
	}
	var annotated []string
	for _, k := range p.annKeys {
		rest, ok := strings.CutPrefix(k, AnnotationPrefix+pat.Name()+".")
		if !ok {
			continue
		}
		if !p.on[pat.Name()] {
			w.scoped(pat.Name()).Warn("annotation %s is set but the pattern is not enabled on this workload", k)
			continue
		}
		if err := SetOption(opts, rest, p.anns[k]); err != nil {
			return nil, nil, w.failAt(fmt.Sprintf("metadata.annotations[%q]", k), err)
		}
		annotated = append(annotated, k)
		set[rest] = true
	}
	return opts, annotated, nil
}

// checkAnnotations: every sidecarize.dev/<pattern>.… annotation names a
// known pattern.
func (e *Engine) checkAnnotations(p *plan) error {
	for _, k := range p.annKeys {
		if !strings.HasPrefix(k, AnnotationPrefix) || k == AnnotationStatus || k == AnnotationConfigHash || k == AnnotationInject {
			continue
		}
		pn, _, _ := strings.Cut(strings.TrimPrefix(k, AnnotationPrefix), ".")
		if patternByName(e.Patterns, pn) == nil {
			return p.w.fail("metadata.annotations[%q]: unknown pattern %q (patterns: %s)", k, pn, strings.Join(patternNames(e.Patterns), ", "))
		}
	}
	return nil
}

// decide: inject what is enabled; else keep an earlier injection; else skip.
func (p *plan) decide() {
	switch {
	case len(p.enabled) > 0:
		p.step = stepInject
	case p.old != nil:
		p.step = stepLeave
	default:
		p.reason = ReasonNotSelected
	}
}
