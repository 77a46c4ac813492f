package transform

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Run transforms docs in place and returns the report. On error nothing
// should be written: the error lists every problem found.
//
// Workloads are independent of each other, so each is parsed, injected and
// encoded on its own (on every core) and its tree dropped at once: memory
// holds the bytes and a small summary per workload and Service. Services
// are read first (injection reads them; their trees let go) and changed
// last, from the summaries, each parsed again, edited and written on its
// own.
//
// The stages (docs/design.md#the-pipeline) are methods of a run, which holds
// what they hand on: sortDocuments, readServices, readPolicies,
// processWorkloads, retarget, writeBack. A stage that found errors ends the
// run.
func (e *Engine) Run(docs []*Doc) (*Report, error) {
	r, err := e.newRun(docs)
	if err != nil {
		return nil, err
	}
	for _, stage := range []func(){
		func() { r.sortDocuments(docs) },
		r.readServices,
		r.readPolicies,
		r.processWorkloads,
		r.retarget,
		r.writeBack,
	} {
		stage()
		if len(r.errs) > 0 {
			return nil, errors.Join(r.errs...)
		}
	}
	return r.rep, nil
}

// run is one Engine.Run: the settings every stage reads, and what each
// stage hands to the next.
type run struct {
	e         *Engine
	rep       *Report
	errs      []error
	specs     []FieldSpec // pod template locations: built in, then the config's
	native    bool
	kv        KubeVersion
	apis      APIVersions
	selectAll bool // rules, -p or uninject: every workload is read

	// sortDocuments
	workloads, services, policies, generated, lists []*object
	unread                                          []*Doc // written back from their bytes
	bystanders                                      []*Doc // unread workloads (bystanderSums)
	anyMention                                      bool   // a document mentions sidecarize
	// readServices, readPolicies
	svcs []*service
	byNS *serviceIndex
	pols []*policy
	// processWorkloads
	sums []*summary
}

func (e *Engine) newRun(docs []*Doc) (*run, error) {
	r := &run{e: e, rep: &Report{}}
	r.specs = append(append([]FieldSpec{}, BuiltinPodTemplates...), e.configSpecs()...)
	var err error
	r.native, r.kv, err = e.nativeSidecars()
	if err != nil {
		return nil, err
	}
	r.apis = e.apiVersions(docs)
	r.selectAll = e.Uninject || len(e.Flags.Patterns) > 0 || (e.Config != nil && len(e.Config.Spec.Rules) > 0)
	return r, nil
}

func (r *run) fail(err error) { r.errs = append(r.errs, err) }

// reads: Services and NetworkPolicies are parsed only when anything can be
// injected or was.
func (r *run) reads() bool { return r.selectAll || r.anyMention }

// sortDocuments (select) sorts documents by a cheap scan. Documents that
// cannot be affected are not parsed at all: they are written back from
// their bytes, only checked for YAML syntax.
func (r *run) sortDocuments(docs []*Doc) {
	var eager []*Doc
	for _, d := range docs {
		kind := d.Kind()
		mentions := bytes.Contains(d.Raw, []byte("sidecarize"))
		r.anyMention = r.anyMention || mentions
		switch {
		case kind == "Service":
			r.services = append(r.services, &object{doc: d, where: d.Where()})
		case kind == "NetworkPolicy":
			r.policies = append(r.policies, &object{doc: d, where: d.Where()})
		case isWorkloadKind(r.specs, kind) && (r.selectAll || mentions):
			r.workloads = append(r.workloads, &object{doc: d, where: d.Where()})
		case kind == "" || strings.HasSuffix(kind, "List") || mentions:
			eager = append(eager, d)
		default:
			if isWorkloadKind(r.specs, kind) {
				r.rep.NotRead++
				r.bystanders = append(r.bystanders, d)
			}
			r.unread = append(r.unread, d)
		}
	}
	// Lists, unknown and sidecarize-generated documents are parsed now.
	for _, d := range eager {
		n, err := d.Node()
		if err != nil {
			r.fail(err)
			continue
		}
		if n == nil {
			continue
		}
		r.sortObject(&object{doc: d, node: n, where: d.Where()})
	}
	// Documents nothing needs are still checked for YAML syntax
	// (docs/contract.md#errors), on every core, without keeping their trees.
	r.errs = append(r.errs, checkSyntax(r.unread)...)
}

// sortObject files a parsed object by what it is. A List (kind List, or
// a typed one such as DeploymentList, with items) is unpacked, as kubectl
// unpacks it: its items are the objects. A List in a List is unpacked too
// (kubectl refuses it), so that no Service is retargeted past its items.
func (r *run) sortObject(o *object) {
	kind := o.node.GetKind()
	if it := o.node.Field("items"); it != nil && strings.HasSuffix(kind, "List") && it.Value.YNode().Kind == yaml.SequenceNode {
		r.lists = append(r.lists, o)
		for i, c := range it.Value.Content() {
			r.sortObject(&object{doc: o.doc, node: yaml.NewRNode(c), where: fmt.Sprintf("%s.items[%d]", o.where, i), list: o})
		}
		return
	}
	if o.list == nil && kind == "List" {
		r.lists = append(r.lists, o) // items: null or absent
		return
	}
	if fs := findSpec(r.specs, o.node.GetApiVersion(), kind); fs != nil {
		o.spec = fs
		r.workloads = append(r.workloads, o)
	} else if kind == "Service" {
		r.services = append(r.services, o)
	} else if kind == "NetworkPolicy" {
		r.policies = append(r.policies, o)
	} else if o.node.GetLabels()[LabelManagedBy] == ManagedByValue {
		r.generated = append(r.generated, o)
	}
}

// readServices parses the Services, restores each to what it was before
// any earlier run, and indexes them by namespace (or only syntax-checks
// them when nothing can be injected).
func (r *run) readServices() {
	if !r.reads() {
		r.errs = append(r.errs, checkSyntax(docsOf(r.services))...)
		return
	}
	svcErrs := make([]error, len(r.services))
	parsed := make([]*service, len(r.services))
	parallel(len(r.services), func(i int) {
		o := r.services[i]
		if o.node == nil {
			n, err := o.doc.Node()
			if err != nil || n == nil {
				svcErrs[i] = err
				return
			}
			o.node = n
		}
		s, err := newService(o)
		restored := false
		if err == nil {
			s.order = i
			restored, err = s.restore()
		}
		if err == nil && !restored {
			// Most Services are never edited: their trees are let go
			// and parsed again if they are (service.load).
			s.release()
		}
		parsed[i], svcErrs[i] = s, err
	})
	seen := map[string]*service{}
	for i, s := range parsed {
		if svcErrs[i] != nil {
			r.fail(svcErrs[i])
		} else if s != nil {
			// Two Services of one name in one file: kubectl applies the
			// last over the first, so editing either one is wrong (and not
			// idempotent). Across files (a directory of overlays, -i a b)
			// the same name is common and allowed.
			id := qualified(s.info.Namespace, s.info.Name)
			key := s.obj.doc.Source + "\x00" + id
			if first := seen[key]; first != nil {
				r.fail(fmt.Errorf("%s: Service %s: metadata.name: the stream already has Service %s (%s); one object may appear once", s.obj.where, id, id, first.obj.where))
				continue
			}
			seen[key] = s
			r.svcs = append(r.svcs, s)
			for _, m := range s.warnings {
				r.rep.Warn(s.obj.where, s.ref(), "metadata.annotations["+AnnotationStatus+"]", m)
			}
		}
	}
	r.byNS = newServiceIndex(r.svcs)
}

// readPolicies parses the NetworkPolicies (or only syntax-checks them).
func (r *run) readPolicies() {
	if !r.reads() {
		r.errs = append(r.errs, checkSyntax(docsOf(r.policies))...)
		return
	}
	var errs []error
	r.pols, errs = parsePolicies(r.policies)
	r.errs = append(r.errs, errs...)
}

// processWorkloads (plan, inject) runs each workload, in parallel: plan,
// undo an earlier injection that is redone or undone, inject, and (for
// top-level documents) encode and let go. Then the generated objects in
// the stream are claimed by their workloads or kept.
func (r *run) processWorkloads() {
	r.sums = make([]*summary, len(r.workloads))
	wErrs := make([]error, len(r.workloads))
	parallel(len(r.workloads), func(i int) {
		r.sums[i], wErrs[i] = r.e.processWorkload(r.workloads[i], r.specs, r.byNS, r.native, r.kv, r.apis)
	})
	var claims []*objectClaim
	seen := map[string]*summary{}
	for i, sum := range r.sums {
		if wErrs[i] != nil {
			r.fail(wErrs[i])
			continue
		}
		if sum == nil {
			continue
		}
		// Two workloads of one kind and name in one file: their generated
		// objects would share names, and kubectl applies the last over the
		// first. (Across files, as with Services, it is allowed.)
		if sum.injected || sum.uninjected {
			id := sum.obj.doc.Source + "\x00" + sum.namespace + "/" + sum.self
			if first := seen[id]; first != nil {
				r.fail(fmt.Errorf("%s: %s: metadata.name: the stream already has %s (%s); one object may appear once", sum.where, sum.ref, sum.ref, first.where))
				continue
			}
			seen[id] = sum
		}
		sum.order = i
		r.rep.Workloads = append(r.rep.Workloads, sum.report)
		if sum.claim != nil {
			claims = append(claims, sum.claim)
		}
	}
	if len(r.errs) > 0 {
		return
	}
	claimObjects(r.rep, r.generated, claims, r.e.Uninject)
	r.sums = append(r.sums, r.bystanderSums()...)
}

// bystanderSums reads the workloads left unread (a run without rules or
// flags reads only those that mention sidecarize) that a Service holding
// an injected workload may also select: their bytes may spell one of its
// pod labels' values (mayHoldValue). A Service over the pods of both is
// left as it was (editServices), as when rules read every workload;
// retargeted, the traffic to the bystander's pods would go to a port they
// lack. They are not reported (NotRead counts them); one that does not
// read gets a warning.
func (r *run) bystanderSums() []*summary {
	values := map[string]bool{}
	for _, sum := range r.sums {
		if sum != nil && sum.injected {
			for _, v := range sum.labels {
				values[v] = true
			}
		}
	}
	var cand []*object
	for _, d := range r.bystanders {
		if values[""] || mayHoldValue(d.Raw, values) {
			cand = append(cand, &object{doc: d, where: d.Where()})
		}
	}
	sums := make([]*summary, len(cand))
	errs := make([]error, len(cand))
	parallel(len(cand), func(i int) {
		sum, err := r.e.processWorkload(cand[i], r.specs, r.byNS, r.native, r.kv, r.apis)
		if err == nil && sum != nil && !sum.injected && !sum.uninjected {
			sums[i] = sum
		}
		errs[i] = err
	})
	var out []*summary
	for i, sum := range sums {
		if sum != nil {
			out = append(out, sum)
		}
		if errs[i] != nil {
			// Not the run's error (nothing asked for this workload), but
			// a Service over its pods may have been retargeted.
			r.rep.Warn(cand[i].where, cand[i].doc.Kind(), "", "could not be read as a workload, so the Services retargeted for injected workloads may also select its pods: "+strings.TrimPrefix(errs[i].Error(), cand[i].where+": "))
		}
	}
	return out
}

// mayHoldValue reports whether a document's bytes may spell one of the
// (non-empty) label values: one of its words, a maximal run of the
// characters a label value is made of, is one. A label value holds no
// space, quote, colon or line break, so in YAML it is a word of the text
// (plain or quoted, a block scalar, an anchor's), unless a double-quoted
// scalar spells it with an escape ("w\x65b") or a !!binary scalar
// encodes it: a document with a backslash, "binary" or a %TAG directive
// (which could spell that tag otherwise) is read whatever it holds. One
// pass over the bytes, whatever the number of values.
func mayHoldValue(raw []byte, values map[string]bool) bool {
	if bytes.IndexByte(raw, '\\') >= 0 || bytes.Contains(raw, []byte("binary")) || bytes.Contains(raw, []byte("%TAG")) {
		return true
	}
	isValueByte := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	for i := 0; i < len(raw); {
		if !isValueByte(raw[i]) {
			i++
			continue
		}
		j := i
		for j < len(raw) && isValueByte(raw[j]) {
			j++
		}
		if values[string(raw[i:j])] { // no allocation: the compiler looks up in place
			return true
		}
		i = j
	}
	return false
}

// retarget makes the Services and NetworkPolicies follow the workloads:
// every injected workload's recorded edits (fresh or left as they were)
// are applied.
func (r *run) retarget() {
	if err := r.e.editServices(r.rep, r.svcs, r.sums, r.generated); err != nil {
		r.fail(err)
		return
	}
	if err := editPolicies(r.rep, r.pols, r.sums); err != nil {
		r.fail(err)
	}
}

// writeBack (encode) hands every changed object back to its document; a
// List is rebuilt from its items. Top-level workloads were encoded already.
func (r *run) writeBack() {
	all := append(append(append(append([]*object{}, r.workloads...), r.generated...), r.services...), r.policies...)
	for _, o := range all {
		if o.list != nil {
			if o.changed || o.drop || len(o.extra) > 0 {
				o.list.changed = true
			}
			continue
		}
		if o.doc.finalized {
			continue
		}
		if o.changed {
			o.doc.MarkChanged()
		}
		o.doc.drop = o.drop
		o.doc.extra = o.extra
	}
	for _, l := range r.lists {
		if !l.changed {
			continue
		}
		rebuildList(l, all)
		l.doc.MarkChanged()
	}
}
