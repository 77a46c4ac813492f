package transform

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// service is a Service in the stream.
type service struct {
	obj      *object
	info     ServiceInfo
	selector map[string]string
	status   *serviceStatus // what this run changed, for the annotation
	used     bool           // matched an injected workload
	warnings []string       // entries of its status left alone (trust.go)
	order    int            // position in the stream
	pos      int            // position among the run's Services (editServices)
}

func newService(o *object) (*service, error) {
	b, err := decodeJSON(o.node.YNode())
	if err != nil {
		return nil, fmt.Errorf("%s: Service %s: %w", o.where, o.node.GetName(), err)
	}
	var s corev1.Service
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: Service %s: %w", o.where, o.node.GetName(), cleanJSONError(err))
	}
	if err := servicePorts(&s); err != nil { // input.go
		return nil, fmt.Errorf("%s: Service %s: %w", o.where, o.node.GetName(), err)
	}
	sel := s.Spec.Selector
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		// An ExternalName Service is a DNS alias: kube-proxy ignores its
		// selector and ports, so it selects no pod and is never edited.
		sel = nil
	}
	if s.Name == "" && len(sel) > 0 {
		// The API server refuses a Service without a name; left as it is,
		// it would bypass the proxy, and retargeted it moved the proxy port
		// on the next run (FuzzStructure).
		return nil, fmt.Errorf("%s: Service: metadata.name: required (the API server refuses a Service without one)", o.where)
	}
	if len(sel) > 0 {
		// Its name goes into certificates' DNS names and labels, its
		// namespace decides which pods it selects: what Kubernetes
		// accepts, or an error (docs/contract.md#errors).
		field, value, msgs := "metadata.name", s.Name, validation.IsDNS1035Label(s.Name)
		if len(msgs) == 0 && s.Namespace != "" {
			field, value, msgs = "metadata.namespace", s.Namespace, validation.IsDNS1123Label(s.Namespace)
		}
		if len(msgs) > 0 {
			return nil, fmt.Errorf("%s: Service %s: %s: %q: %s", o.where, qualified(s.Namespace, s.Name), field, value, strings.Join(msgs, "; "))
		}
	}
	return &service{
		obj:      o,
		selector: sel,
		info: ServiceInfo{
			Name: s.Name, Namespace: s.Namespace, Labels: s.Labels, Ports: s.Spec.Ports,
			Headless: s.Spec.ClusterIP == corev1.ClusterIPNone,
		},
	}, nil
}

// release lets the Service's tree go when the document can be parsed
// again: memory holds its bytes and info until the edits, not a tree per
// Service of the stream.
func (s *service) release() {
	if s.obj.list == nil && s.obj.doc.release() {
		s.obj.node = nil
	}
}

// load parses the Service's document again if its tree was let go. The
// bytes parsed once, so they parse again.
func (s *service) load() error {
	if s.obj.node != nil {
		return nil
	}
	n, err := s.obj.doc.Node()
	if err == nil && n == nil {
		err = fmt.Errorf("%s: internal error: the Service's document parsed empty", s.obj.where)
	}
	s.obj.node = n
	return err
}

// serviceIndex finds the Services that may select a pod without trying
// every Service of the namespace: each Service is filed under its namespace
// and one pair of its selector, which the pod's labels must contain: the
// pair fewest Services of the stream share (then the first sorted), so
// that a pair every Service of a release carries
// (app.kubernetes.io/instance: shop) does not make each pod's candidates
// every Service of the namespace. A nil index has no Services.
type serviceIndex struct {
	byNS map[string][]*service // namespace and pair
	// pair, the Services that have a namespace: filed on first use (a
	// workload without a namespace), by one core.
	named     map[string][]*service
	namedOnce sync.Once
	svcs      []*service
}

func newServiceIndex(svcs []*service) *serviceIndex {
	return &serviceIndex{byNS: fileServices(svcs, func(s *service) string { return s.info.Namespace }), svcs: svcs}
}

// fileServices files each Service under ns(s) and its rarest pair.
func fileServices(svcs []*service, ns func(*service) string) map[string][]*service {
	shared := map[string]int{}
	for _, s := range svcs {
		for k, v := range s.selector {
			shared[indexKey(ns(s), k, v)]++
		}
	}
	m := map[string][]*service{}
	for _, s := range svcs {
		best := ""
		for k, v := range s.selector {
			key := indexKey(ns(s), k, v)
			if best == "" || shared[key] < shared[best] || shared[key] == shared[best] && key < best {
				best = key
			}
		}
		if best != "" { // an empty selector selects nothing
			m[best] = append(m[best], s)
		}
	}
	return m
}

func indexKey(ns, k, v string) string { return ns + "\x00" + k + "\x00" + v }

// candidates returns the Services of the namespace filed under one of the
// labels, in stream order.
func (ix *serviceIndex) candidates(ns string, labels map[string]string) []*service {
	if ix == nil {
		return nil
	}
	return lookup(ix.byNS, ns, labels)
}

// elsewhere returns the Services that select the labels from the other
// side of a missing namespace: for a pod without one, the Services that
// have one, and for a pod with one, the Services without. An object
// without a namespace goes to the one it is applied in (kubectl -n, the
// Helm release's), which may be any: such a Service may select the pods,
// or not.
func (ix *serviceIndex) elsewhere(ns string, labels map[string]string) []*service {
	if ix == nil {
		return nil
	}
	var cands []*service
	if ns == "" {
		ix.namedOnce.Do(func() {
			var named []*service
			for _, s := range ix.svcs {
				if s.info.Namespace != "" {
					named = append(named, s)
				}
			}
			ix.named = fileServices(named, func(*service) string { return "" })
		})
		cands = lookup(ix.named, "", labels)
	} else {
		cands = lookup(ix.byNS, "", labels)
	}
	var out []*service
	for _, s := range cands {
		if s.selects(s.info.Namespace, labels) {
			out = append(out, s)
		}
	}
	return out
}

func lookup(m map[string][]*service, ns string, labels map[string]string) []*service {
	var out []*service
	for k, v := range labels {
		out = append(out, m[indexKey(ns, k, v)]...)
	}
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool { return out[i].order < out[j].order })
	}
	return out
}

// ref names the Service in messages: Service shop/api.
func (s *service) ref() string { return "Service " + qualified(s.info.Namespace, s.info.Name) }

// selects: same namespace and a non-empty selector that the pod labels
// satisfy. Services without a selector (external endpoints) select nothing.
// As in Kubernetes, every key of the selector must be a label of the pod,
// even when its value is empty: {canary: ""} does not select a pod without
// a canary label (so serviceIndex, which files a Service under one of its
// pairs, finds the same Services whichever pair that is).
func (s *service) selects(namespace string, labels map[string]string) bool {
	if len(s.selector) == 0 || s.info.Namespace != namespace {
		return false
	}
	for k, v := range s.selector {
		if l, ok := labels[k]; !ok || l != v {
			return false
		}
	}
	return true
}

// refresh re-reads the info after a restore.
func (s *service) refresh() error {
	fresh, err := newService(s.obj)
	if err != nil {
		return err
	}
	s.info, s.selector = fresh.info, fresh.selector
	return nil
}

// restore undoes an earlier run's changes, recorded in the Service's own
// sidecarize.dev/status annotation.
func (s *service) restore() (bool, error) {
	n := s.obj.node
	raw, ok := n.GetAnnotations()[AnnotationStatus]
	if !ok {
		return false, nil
	}
	var st serviceStatus
	if err := decodeStatus(raw, &st); err != nil {
		return false, fmt.Errorf("%s: Service %s: annotation %s: %w", s.obj.where, s.info.Name, AnnotationStatus, err)
	}
	s.obj.doc.keepOriginal() // before the first edit
	if err := s.undo(&st); err != nil {
		return false, err
	}
	s.obj.changed = true
	return true, s.refresh()
}

// undo reverts the changes st records.
func (s *service) undo(st *serviceStatus) error {
	n := s.obj.node
	ports, _ := n.Pipe(yaml.Lookup("spec", "ports"))
	if ports != nil {
		for _, name := range st.Ports {
			if why := s.addedPortDistrust(ports, name, createdField(st.Created, "ports")); why != "" {
				s.warnings = append(s.warnings, fmt.Sprintf("status: port %q %s: left alone", name, why))
				continue
			}
			if err := ports.PipeE(yaml.ElementSetter{Keys: []string{"name"}, Values: []string{name}}); err != nil {
				return err
			}
		}
		// Newest first: a port may be retargeted twice (proxies chained).
		for i := len(st.TargetPorts) - 1; i >= 0; i-- {
			po := st.TargetPorts[i]
			p := findServicePort(ports, po.Port)
			if p == nil {
				continue
			}
			if po.TargetPort == nil {
				if _, err := p.Pipe(yaml.Clear("targetPort")); err != nil {
					return err
				}
				continue
			}
			if err := setScalar(p, "targetPort", portNode(*po.TargetPort)); err != nil {
				return err
			}
		}
		for _, name := range st.Named {
			if p := findServicePort(ports, name); p != nil {
				if name != "port-"+yaml.GetValue(p.Field("port").Value) {
					s.warnings = append(s.warnings, fmt.Sprintf("status: the name of port %q is not one sidecarize gives (port-<number>): left alone", name))
					continue
				}
				if was, ok := st.NamedFrom[name]; ok && blankName(was) {
					nf := p.Field("name").Value.YNode()
					nf.Value, nf.Tag = was, yaml.NodeTagString
					if was != "" {
						nf.Tag = yaml.NodeTagNull
					}
					continue
				}
				if _, err := p.Pipe(yaml.Clear("name")); err != nil {
					return err
				}
			}
		}
		if spec := n.Field("spec"); spec != nil {
			if err := restoreShape(spec.Value, "ports", st.Created); err != nil {
				return err
			}
		}
	}
	if err := restoreMeta(n, "labels", st.Labels, st.Created); err != nil {
		return err
	}
	return restoreMeta(n, "annotations", []string{AnnotationStatus}, st.Created)
}

// removeMetaKeys deletes keys from metadata.labels or metadata.annotations
// in place (the other keys keep their order and comments), and the field
// itself when it ends up empty and sidecarize had created it.
func removeMetaKeys(n *yaml.RNode, field string, keys []string, created bool) error {
	m, err := n.Pipe(yaml.Lookup("metadata", field))
	if err != nil || m == nil {
		return err
	}
	for _, k := range keys {
		if _, err := m.Pipe(yaml.Clear(k)); err != nil {
			return err
		}
	}
	if created && len(m.Content()) == 0 {
		_, err := n.Pipe(yaml.Lookup("metadata"), yaml.Clear(field))
		return err
	}
	return nil
}

// setMetaKey sets metadata.<field>[key] in place: an existing value keeps
// its position, style and comments; a new key goes last. Directly on the
// nodes where the shape is plain, by kyaml's filters otherwise (metaedit.go).
func setMetaKey(n *yaml.RNode, field, key, value string) error {
	slow := func(n *yaml.RNode) error { return setMetaKeySlow(n, field, key, value) }
	ok, err := checkMetaEdit(n, func(n *yaml.RNode) bool { return setMetaKeyFast(n, field, key, value) }, slow)
	if ok || err != nil {
		return err
	}
	return slow(n)
}

// setMetaKeySlow is setMetaKey by kyaml's filters (metaedit.go).
func setMetaKeySlow(n *yaml.RNode, field, key, value string) error {
	m, err := n.Pipe(yaml.LookupCreate(yaml.MappingNode, "metadata", field))
	if err != nil {
		return err
	}
	if key == AnnotationStatus || key == AnnotationConfigHash {
		// sidecarize's own keys are written one way — last, single-quoted —
		// whatever a stray copy looked like or where it stood, so the next
		// run (which removes them first) writes the same bytes.
		if _, err := m.Pipe(yaml.Clear(key)); err != nil {
			return err
		}
	}
	if f := m.Field(key); f != nil && f.Value.YNode().Kind == yaml.ScalarNode {
		f.Value.YNode().Value, f.Value.YNode().Tag = value, yaml.NodeTagString
		return nil
	}
	v := yaml.NewStringRNode(value)
	if field == "annotations" {
		// Quoted as kyaml writes annotations: a value such as "true" or
		// JSON stays a string to every reader.
		v.YNode().Style = yaml.SingleQuotedStyle
	}
	return m.PipeE(yaml.SetField(key, v))
}

// findServicePort finds a Service port by name, or by number when unnamed.
func findServicePort(ports *yaml.RNode, key string) *yaml.RNode {
	for _, p := range ports.Content() {
		rn := yaml.NewRNode(p)
		if servicePortKey(p) == key || (rn.Field("port") != nil && rn.Field("port").Value.YNode().Value == key) {
			return yaml.NewRNode(p)
		}
	}
	return nil
}

func servicePortKey(p *yaml.Node) string {
	if name := servicePortName(p); name != "" {
		return name
	}
	if n := yaml.NewRNode(p).Field("port"); n != nil {
		return n.Value.YNode().Value
	}
	return ""
}

// servicePortName is a Service port's name; "" when it has none: absent,
// "" or null (the API server reads all three as unnamed).
func servicePortName(p *yaml.Node) string {
	n := yaml.NewRNode(p).Field("name")
	if n == nil || isNull(n.Value.YNode()) {
		return ""
	}
	return n.Value.YNode().Value
}

// blankName: is v how a port's name field says "no name" ("" or null)?
func blankName(v string) bool {
	switch v {
	case "", "null", "Null", "NULL", "~":
		return true
	}
	return false
}

// portNode is an int node for numbers, a string node for names (named ports
// always contain a letter, so the two cannot be confused).
func portNode(v string) *yaml.RNode {
	if _, err := strconv.Atoi(v); err == nil {
		n := yaml.NewScalarRNode(v)
		n.YNode().Tag = yaml.NodeTagInt
		return n
	}
	return yaml.NewStringRNode(v)
}

// record returns the Service's status for this run, creating it (and
// recording the shape of its metadata.annotations) on the first change: a
// Service that needs no edit is not touched.
func (s *service) record() *serviceStatus {
	if s.status == nil {
		s.status = &serviceStatus{Created: metaShape(s.obj.node, "annotations")}
	}
	s.obj.changed = true
	return s.status
}

// apply applies one workload's edits to this Service, recording originals.
// Several workloads behind one Service apply the same edits: a port an
// earlier workload added in this run is shared, not added twice.
func (s *service) apply(edits []ServiceEdit, from string) error {
	n := s.obj.node
	ports, err := n.Pipe(yaml.Lookup("spec", "ports"))
	if err != nil {
		return err
	}
	for _, e := range edits {
		if e.Service != "" && e.Service != s.info.Name {
			continue
		}
		switch e.Op {
		case OpRetarget:
			if ports == nil {
				continue
			}
			for _, p := range ports.Content() {
				rn := yaml.NewRNode(p)
				if !tcpPort(rn) {
					continue // a UDP or SCTP port never goes to a TCP proxy
				}
				tp := rn.Field("targetPort")
				var cur string
				if tp != nil {
					cur = tp.Value.YNode().Value
				} else if pn := rn.Field("port"); pn != nil {
					cur = pn.Value.YNode().Value // targetPort defaults to port
				}
				if !(cur == e.AppPortName && cur != "") && cur != strconv.Itoa(int(e.AppPort)) {
					continue
				}
				st := s.record()
				key := servicePortKey(p)
				if !st.hasPort(key) {
					var old *string
					if tp != nil {
						old = strPtr(cur)
					}
					st.TargetPorts = append(st.TargetPorts, portOrig{Port: key, TargetPort: old})
				}
				// Keep the Service's style: a named targetPort stays named.
				nv := strconv.Itoa(int(e.ProxyPort))
				if _, numErr := strconv.Atoi(cur); numErr != nil && e.ProxyPortName != "" {
					nv = e.ProxyPortName
				}
				if err := setScalar(rn, "targetPort", portNode(nv)); err != nil {
					return err
				}
			}
		case OpPort:
			if ports != nil {
				if p := findServicePort(ports, e.Name); p != nil {
					tp := p.Field("targetPort")
					if s.status != nil && contains(s.status.Ports, e.Name) && tp != nil && tp.Value.YNode().Value == e.TargetPort {
						continue // added for another workload behind this Service
					}
					return fmt.Errorf("%s: Service %s: spec.ports: %s: a port named %q already exists", s.obj.where, s.info.Name, from, e.Name)
				}
			}
			if i := servicePortNumbered(ports, e.Port); i >= 0 {
				// The allocation avoids the Service's ports; a port that
				// is in the way now was edited after the run that recorded
				// it (its name changed or removed): adding it again would
				// write a Service the API server refuses (FuzzStructure).
				return fmt.Errorf("%s: Service %s: spec.ports[%d]: port %d/TCP is in the way of the port %q the %s pattern adds (recorded in the workload's %s; the Service was edited since): rename or remove one of them", s.obj.where, s.info.Name, i, e.Port, e.Name, e.Pattern, AnnotationStatus)
			}
			st := s.record()
			if ports == nil || len(ports.YNode().Content) == 0 {
				// No ports yet (absent, null or []): the shape is recorded,
				// so uninject may remove the only port and put it back.
				if ports, err = s.openPorts(st); err != nil {
					return err
				}
			}
			sp := corev1.ServicePort{Name: e.Name, Port: e.Port, TargetPort: intOrString(e.TargetPort), Protocol: corev1.ProtocolTCP}
			pn, err := toRNode(sp)
			if err != nil {
				return err
			}
			if err := ports.PipeE(yaml.Append(pn.YNode())); err != nil {
				return err
			}
			st.Ports = append(st.Ports, e.Name)
			// A Service with several ports needs every port named: an
			// unnamed port is named port-<number> (recorded, restored by
			// uninject).
			for _, p := range ports.Content() {
				if servicePortName(p) != "" {
					continue
				}
				num := servicePortKey(p)
				rn := yaml.NewRNode(p)
				if nf := rn.Field("name"); nf != nil {
					// name: "" or null: named in place, the blank kept
					// for uninject.
					if st.NamedFrom == nil {
						st.NamedFrom = map[string]string{}
					}
					st.NamedFrom["port-"+num] = nf.Value.YNode().Value
					nf.Value.YNode().Value, nf.Value.YNode().Tag = "port-"+num, yaml.NodeTagString
				} else if err := rn.PipeE(yaml.SetField("name", yaml.NewStringRNode("port-"+num))); err != nil {
					return err
				}
				st.Named = append(st.Named, "port-"+num)
			}
		case OpLabel:
			if _, ok := metaMap(n, "labels")[e.Key]; ok {
				continue
			}
			st := s.record()
			if !createdField(st.Created, "labels") {
				st.Created = append(st.Created, metaShape(n, "labels")...)
			}
			if err := setMetaKey(n, "labels", e.Key, e.Value); err != nil {
				return err
			}
			st.Labels = append(st.Labels, e.Key)
		default:
			return fmt.Errorf("%s: Service %s: unknown Service edit %q (pattern %s)", s.obj.where, s.info.Name, e.Op, e.Pattern)
		}
	}
	return nil
}

// servicePortNumbered is the index of the TCP port numbered port, or -1.
func servicePortNumbered(ports *yaml.RNode, port int32) int {
	if ports == nil {
		return -1
	}
	want := strconv.Itoa(int(port))
	for i, p := range ports.Content() {
		rn := yaml.NewRNode(p)
		if !tcpPort(rn) {
			continue
		}
		if pn := rn.Field("port"); pn != nil && pn.Value.YNode().Value == want {
			return i
		}
	}
	return -1
}

// tcpPort: is the Service port TCP (its protocol absent, empty or TCP)?
func tcpPort(p *yaml.RNode) bool {
	pr := p.Field("protocol")
	return pr == nil || pr.Value.YNode().Value == "" || pr.Value.YNode().Value == "TCP"
}

// openPorts makes spec.ports a list sidecarize can append to, recording
// its shape before (absent, null, []) in the status's Created list.
func (s *service) openPorts(st *serviceStatus) (*yaml.RNode, error) {
	spec, err := s.obj.node.Pipe(yaml.LookupCreate(yaml.MappingNode, "spec"))
	if err != nil {
		return nil, err
	}
	rec := "ports"
	if f := spec.Field("ports"); f == nil {
		if err := spec.PipeE(yaml.SetField("ports", yaml.NewListRNode())); err != nil {
			return nil, err
		}
	} else if rec = nullToList(spec, "ports"); rec == "" {
		rec = "ports=[]"
	}
	if !createdField(st.Created, "ports") {
		st.Created = append(st.Created, rec)
	}
	return spec.Pipe(yaml.Lookup("ports"))
}

// createdField: is the shape of a field recorded in created?
func createdField(created []string, field string) bool {
	for _, c := range created {
		if c == field || strings.HasPrefix(c, field+"=") {
			return true
		}
	}
	return false
}

func (st *serviceStatus) hasPort(key string) bool {
	for _, p := range st.TargetPorts {
		if p.Port == key {
			return true
		}
	}
	return false
}

// finish writes the status annotation when anything was recorded.
func (s *service) finish() error {
	if s.status == nil {
		return nil
	}
	b, err := json.Marshal(s.status)
	if err != nil {
		return err
	}
	return setMetaKey(s.obj.node, "annotations", AnnotationStatus, string(b))
}

func intOrString(v string) intstr.IntOrString {
	if n, err := strconv.Atoi(v); err == nil {
		return intstr.FromInt32(int32(n))
	}
	return intstr.FromString(v)
}

// setScalar sets a scalar field, changing the existing node in place so its
// comments stay with it, and a string its quoting style (a number is written
// plain).
func setScalar(n *yaml.RNode, field string, v *yaml.RNode) error {
	if f := n.Field(field); f != nil && f.Value.YNode().Kind == yaml.ScalarNode {
		old, nv := f.Value.YNode(), v.YNode()
		old.Value, old.Tag = nv.Value, nv.Tag
		if nv.Tag != yaml.NodeTagString || old.Tag == "" {
			old.Style = nv.Style
		}
		return nil
	}
	return n.PipeE(yaml.SetField(field, v))
}

// hasUserKeys reports whether metadata.<field> exists with a key of the
// user's: the bookkeeping annotations KRM hosts add while a function runs
// (config.kubernetes.io/…, internal.config.kubernetes.io/…,
// kustomize.config.k8s.io/id) do not count, so
// the CLI and a KRM host record the same thing, and the field is removed
// again when the host strips its own keys. Nor do sidecarize's own status
// and config-hash (a stray copy, without an injection it belongs to).
func hasUserKeys(n *yaml.RNode, field string) bool {
	has := userKeys(n.YNode(), field)
	if verify { // verify.go
		checkUserKeys(n, field, has)
	}
	return has
}

// checkUserKeys panics (an internal error, reported as such by Run) when
// userKeys answered otherwise than kyaml's lookup.
func checkUserKeys(n *yaml.RNode, field string, has bool) {
	if slow := hasUserKeysSlow(n, field); slow != has {
		panic(fmt.Sprintf("internal error: hasUserKeys(metadata.%s) is %v, kyaml's lookup says %v", field, has, slow))
	}
}

// userKeys is hasUserKeysSlow on the nodes, without kyaml's path walk
// and its allocations.
func userKeys(n *yaml.Node, field string) bool {
	m := fieldOf(fieldOf(n, "metadata"), field)
	if m == nil {
		return false
	}
	if m.Kind != yaml.MappingNode {
		return true
	}
	if len(m.Content)%2 != 0 {
		return false // kyaml's Fields: an error
	}
	for i := 0; i < len(m.Content); i += 2 {
		if k := m.Content[i].Value; !isHostKey(k) && k != AnnotationStatus && k != AnnotationConfigHash {
			return true
		}
	}
	return false
}

// fieldOf is a step of kyaml's Lookup (its Get filter) on nodes: the value
// of the mapping's first key of that name; nil where the step finds
// nothing — a missing or null node, a missing key — or fails (a node that
// is no mapping).
func fieldOf(n *yaml.Node, name string) *yaml.Node {
	if n == nil || n.Tag == yaml.NodeTagNull || len(n.Content)%2 != 0 {
		return nil
	}
	return field(n, name) // shape.go
}

// hasUserKeysSlow is hasUserKeys by kyaml's lookup (verify compares).
func hasUserKeysSlow(n *yaml.RNode, field string) bool {
	m, err := n.Pipe(yaml.Lookup("metadata", field))
	if err != nil || m == nil {
		return false
	}
	if m.YNode().Kind != yaml.MappingNode {
		return true
	}
	keys, _ := m.Fields()
	for _, k := range keys {
		if !isHostKey(k) && k != AnnotationStatus && k != AnnotationConfigHash {
			return true
		}
	}
	return false
}

func isHostKey(k string) bool {
	for _, p := range []string{"config.kubernetes.io/", "internal.config.kubernetes.io/", "kustomize.config.k8s.io/", "config.k8s.io/"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
