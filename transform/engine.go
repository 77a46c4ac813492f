package transform

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Engine runs the patterns over a document stream. One Engine serves every
// front end (filter, files, KRM function, Helm post-renderer).
type Engine struct {
	Patterns []Pattern
	Config   *Config // nil: no config file
	Flags    Flags
	Uninject bool
	Version  string
}

// Flags is the command-line layer of configuration (lowest precedence: docs/contract.md#configuration).
type Flags struct {
	Patterns       []string // -p: patterns for every selected workload
	Set            []string // --set pattern.option=value
	Select         Selector // -l, --kind, --name
	NativeSidecars string
	KubeVersion    string
	APIVersions    []string // --api-versions: what the cluster serves
}

// object is one Kubernetes object: a document, or an item of a kind: List.
type object struct {
	doc     *Doc
	node    *yaml.RNode
	where   string
	spec    *FieldSpec // pod template location, for workloads
	extra   []*yaml.RNode
	drop    bool
	changed bool
	list    *object // the List holding this item
}

// summary is what later stages need of a processed workload, once its tree
// is gone.
type summary struct {
	where, ref, namespace string
	labels                map[string]string
	services              []*service // the Services that select its pods, in stream order
	elsewhere             []*service // those that may, one of the two lacking a namespace (serviceIndex.elsewhere)
	injected              bool       // carries an injection after this run
	fresh                 bool       // injected by this run
	edits                 []ServiceEdit
	scrapePorts           []string     // ports the pod's prometheus.io/port names (set by sidecarize)
	oldPorts              []string     // helper ports of the earlier injection (helperPorts)
	self                  string       // Kind/name
	claim                 *objectClaim // the generated objects its earlier injection made, to drop
	report                WorkloadReport
	uninjected            bool // its injection was removed by this run
	obj                   *object
	order                 int
	// The pod's container ports after the run, to check that every
	// Service targetPort resolves in every pod it selects.
	// (Slices, not maps: a few ports each, kept for every workload to the
	// end of the run.)
	portNames []string
	portNums  []int32
}

// detach copies the summary's strings that come from the workload's tree:
// the tree's strings share one string per document (quickparse.go), and the
// summary, kept to the end of the run, would keep every document's text
// (a tenth of the live heap at 50,000 workloads).
func (s *summary) detach() {
	s.namespace = strings.Clone(s.namespace)
	labels := make(map[string]string, len(s.labels))
	for k, v := range s.labels {
		labels[strings.Clone(k)] = strings.Clone(v)
	}
	s.labels = labels
	r := &s.report
	r.Kind, r.Namespace, r.Name = strings.Clone(r.Kind), strings.Clone(r.Namespace), strings.Clone(r.Name)
}

// resolves: does the pod declare the (named or numbered) port?
func (s *summary) resolves(port string) bool {
	if n, err := strconv.Atoi(port); err == nil {
		return slices.Contains(s.portNums, int32(n))
	}
	return slices.Contains(s.portNames, port)
}

// processWorkload runs one workload through plan, uninject and inject. A
// top-level document is encoded at once and its tree released.
func (e *Engine) processWorkload(o *object, specs []FieldSpec, byNS *serviceIndex, native bool, kv KubeVersion, apis APIVersions) (*summary, error) {
	if o.node == nil {
		n, err := o.doc.Node()
		if err != nil {
			return nil, err
		}
		if n == nil {
			return nil, nil
		}
		o.node = n
		fs := findSpec(specs, n.GetApiVersion(), n.GetKind())
		if fs == nil {
			return nil, nil // the kind matched, the group did not
		}
		o.spec = fs
	}
	p, err := e.plan(o, native, kv, apis)
	if err != nil {
		return nil, err
	}
	w := p.w
	sum := &summary{where: o.where, ref: w.Ref(), namespace: w.Namespace, labels: w.labels, self: w.ownerRef(), obj: o}
	wr := WorkloadReport{Source: o.doc.Source, Index: o.doc.Index, Where: o.where, Kind: w.Kind, Namespace: w.Namespace, Name: w.Name,
		Field: strings.ReplaceAll(o.spec.Path, "/", ".")}
	if p.old != nil {
		sum.oldPorts = helperPorts(p.old)
	}
	if p.old != nil && p.step != stepLeave {
		if err := uninjectWorkload(w, p.old); err != nil {
			return nil, w.failAt("uninject", err)
		}
		o.changed = true
		sum.claim = w.claimOf(p.old)
	}
	// The Services that select the pods, found here on every core rather
	// than by editServices on one: it applies their edits from this list.
	for _, s := range byNS.candidates(w.Namespace, w.labels) {
		if s.selects(w.Namespace, w.labels) {
			sum.services = append(sum.services, s)
		}
	}
	sum.elsewhere = byNS.elsewhere(w.Namespace, w.labels)
	switch p.step {
	case stepInject:
		for _, s := range sum.services {
			w.services = append(w.services, s.info)
		}
		if err := e.inject(p); err != nil {
			return nil, err
		}
		if len(w.status.Patterns) == 0 {
			wr.Action, wr.Reason = ActionSkipped, Reason(strings.Join(p.skipped, ","))
			break
		}
		o.changed = true
		wr.Action, wr.Patterns = ActionInjected, w.status.Patterns
		sum.injected, sum.fresh, sum.edits = true, true, w.status.Services
		sum.scrapePorts = scrapePorts(w.status.Edits)
	case stepUninject:
		wr.Action = ActionUninjected
		sum.uninjected = true
	case stepLeave:
		wr.Action, wr.Reason = ActionUnchanged, ReasonAlreadyInjectedNotSelected
		sum.injected, sum.edits = true, p.old.Services
		sum.scrapePorts = scrapePorts(p.old.Edits)
	case stepSkip:
		wr.Action, wr.Reason = ActionSkipped, p.reason
	default:
		panic(fmt.Sprintf("transform: unhandled plan step %d", p.step))
	}
	wr.Warnings = w.warnings
	sum.report = wr
	if w.spec != nil {
		if ps, err := w.pod(); err == nil {
			for _, c := range allContainers(ps) {
				for _, cp := range c.Ports {
					sum.portNums = append(sum.portNums, cp.ContainerPort)
					if cp.Name != "" {
						sum.portNames = append(sum.portNames, cp.Name)
					}
				}
			}
		}
	}
	sum.detach()
	if o.list == nil {
		if o.changed {
			o.doc.MarkChanged()
		}
		// The workload's own document is encoded now and its tree let go,
		// with its generated objects (finalize).
		if err := o.doc.finalize(o.extra); err != nil {
			return nil, err
		}
		o.node, o.extra = nil, nil
	}
	return sum, nil
}

func docsOf(objs []*object) []*Doc {
	var out []*Doc
	for _, o := range objs {
		if o.list == nil {
			out = append(out, o.doc)
		}
	}
	return out
}

func hasRetarget(edits []ServiceEdit) bool {
	for _, e := range edits {
		if e.Op == OpRetarget {
			return true
		}
	}
	return false
}

// rebuildList writes a List's items back: dropped items removed, generated
// objects after their workload.
func rebuildList(l *object, objs []*object) {
	byNode := map[*yaml.Node]*object{}
	for _, o := range objs {
		if o.list == l {
			byNode[o.node.YNode()] = o
		}
	}
	items := l.node.Field("items").Value.YNode()
	var out []*yaml.Node
	for _, c := range items.Content {
		o := byNode[c]
		if o != nil && o.drop {
			continue
		}
		out = append(out, c)
		if o != nil {
			for _, x := range o.extra {
				out = append(out, x.YNode())
			}
		}
	}
	items.Content = out
}

func (e *Engine) configSpecs() []FieldSpec {
	if e.Config == nil {
		return nil
	}
	return e.Config.Spec.PodTemplates
}

// nativeSidecars resolves nativeSidecars and kubeVersion (config over flags).
func (e *Engine) nativeSidecars() (bool, KubeVersion, error) {
	mode, ver := e.Flags.NativeSidecars, e.Flags.KubeVersion
	if e.Config != nil {
		if e.Config.Spec.NativeSidecars != "" {
			mode = e.Config.Spec.NativeSidecars
		}
		if e.Config.Spec.KubeVersion != "" {
			ver = e.Config.Spec.KubeVersion
		}
	}
	if ver == "" {
		ver = DefaultKubeVersion
	}
	kv, err := ParseKubeVersion(ver)
	if err != nil {
		return false, kv, fmt.Errorf("kubeVersion: %w", err)
	}
	switch mode {
	case "", "auto":
		return kv.AtLeast(1, 29), kv, nil
	case "true":
		if !kv.AtLeast(1, 29) {
			return false, kv, fmt.Errorf("nativeSidecars: true needs kubeVersion 1.29 or later (got %s)", ver)
		}
		return true, kv, nil
	case "false":
		return false, kv, nil
	}
	return false, kv, fmt.Errorf("nativeSidecars: %q: must be auto, true or false", mode)
}

// otherMeshes are containers and annotations of proxies sidecarize must not
// stack on top of.
var otherMeshes = map[string]string{
	"istio-proxy":                                "Istio",
	"linkerd-proxy":                              "Linkerd",
	"envoy-sidecar":                              "Consul",
	"consul-dataplane":                           "Consul",
	"sidecar.istio.io/status":                    "Istio",
	"linkerd.io/proxy-version":                   "Linkerd",
	"consul.hashicorp.com/connect-inject-status": "Consul",
}

func patternNames(patterns []Pattern) []string {
	var out []string
	for _, p := range patterns {
		out = append(out, p.Name())
	}
	return out
}

// inject applies the enabled patterns, then writes the status and
// config-hash annotations.
func (e *Engine) inject(p *plan) error {
	w := p.w
	ps, err := w.pod()
	if err != nil {
		return err
	}
	// A pod sidecarize cannot serve: an error when the workload was named,
	// skipped with the reason when it was selected implicitly (a broad rule
	// or -p over a whole stream never aborts on one such workload).
	unsuited := func(reason Reason, field, msg string) error {
		if p.named {
			return w.failAt(field, fmt.Errorf("%s (%s)", msg, reason))
		}
		p.skipped = append(p.skipped, string(reason))
		w.warnings = append(w.warnings, "not injected: "+msg)
		return nil
	}
	// The API server refuses a pod without containers; a sidecar added to
	// one would be its only container, which no status may remove.
	if len(ps.Containers) == 0 {
		return w.failAt(w.FieldPath("containers"), errors.New("required: a pod needs at least one container"))
	}
	if ps.HostNetwork {
		return unsuited(ReasonHostNetwork, w.FieldPath("hostNetwork"), "hostNetwork pods share the node's ports; sidecarize does not inject them")
	}
	for _, c := range append(append([]string{}, containerNames(ps.InitContainers)...), containerNames(ps.Containers)...) {
		if mesh, ok := otherMeshes[c]; ok {
			return unsuited(ReasonSidecarExists, w.FieldPath("containers"), fmt.Sprintf("container %q is %s's proxy; sidecarize does not inject pods that run another mesh's proxy", c, mesh))
		}
	}
	anns := metaMap(w.tmpl, "annotations")
	keys := make([]string, 0, len(anns))
	for k := range anns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if mesh, ok := otherMeshes[k]; ok {
			return unsuited(ReasonSidecarExists, "annotation "+k, fmt.Sprintf("the pod is already injected by %s", mesh))
		}
	}
	w.status = Status{Version: e.Version, Workload: w.ownerRef()}
	w.explicit = p.explicit
	for _, pat := range p.enabled {
		pw := w.scoped(pat.Name())
		if err := pat.Inject(pw, p.opts[pat.Name()]); err != nil {
			var skip *SkipError
			if errors.As(err, &skip) {
				if p.named && (skip.Reason == ReasonNoTCPPort || skip.Reason == ReasonTLSPort) {
					return pw.Errorf("%s (%s)", skip.Message, skip.Reason)
				}
				pw.Warn("not applied: %s (%s)", skip.Message, skip.Reason)
				p.skipped = append(p.skipped, string(skip.Reason))
				continue
			}
			var we *WorkloadError
			if errors.As(err, &we) {
				return err
			}
			return pw.Errorf("%v", err)
		}
		w.status.Patterns = append(w.status.Patterns, pat.Name())
	}
	if len(w.status.Patterns) == 0 {
		return nil // every pattern skipped: the workload stays as it is
	}
	if err := w.assemble(); err != nil {
		return err
	}
	hash, err := w.configHash()
	if err != nil {
		return err
	}
	if hash != "" {
		if err := w.setTemplateAnnotation(AnnotationConfigHash, hash); err != nil {
			return err
		}
	}
	return w.writeStatus()
}

func containerNames(list []corev1.Container) []string {
	var out []string
	for _, c := range list {
		out = append(out, c.Name)
	}
	return out
}

// qualified is "namespace/name", or "name" without a namespace.
func qualified(ns, name string) string {
	if ns == "" {
		return shown(name)
	}
	return shown(ns) + "/" + shown(name)
}

// shown is a name as messages show it: quoted when it holds anything but
// printable characters other than space (a newline would start a line of
// its own in the report).
func shown(s string) string {
	for _, r := range s {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
