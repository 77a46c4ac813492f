package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/internal/validate"
)

// Workload is one pattern's handle on one object with a pod template. The
// engine hands each pattern call its own handle, scoped to that pattern:
// Warn, Errorf, ObjectName, EditService and the port allocations name it.
// Patterns read the workload (PodSpec, a copy; Services, ResolvePort) and
// change it only through the handle's methods, which record every change in
// the status (docs/design.md#the-recorded-edit-model-exact-uninject).
type Workload struct {
	*workload
	pattern string // the pattern this handle serves; "" for the engine's own
}

// workload is the state of one workload, shared by the handles of the
// patterns applied to it in turn.
type workload struct {
	Kind, Name, Namespace string
	// Native is true when helpers become native sidecars (docs/contract.md#native-sidecars).
	Native bool
	// KubeVersion is the target cluster version.
	KubeVersion KubeVersion
	// APIs is what the cluster is known to serve (--api-versions, the
	// config's apiVersions, or Prometheus Operator objects in the input).
	APIs APIVersions

	obj      *object
	tmpl     *yaml.RNode // pod template: metadata + spec
	spec     *yaml.RNode
	labels   map[string]string
	images   map[string]string
	services []ServiceInfo

	status   Status
	prev     *Status                    // the earlier run's status: its allocations are kept
	explicit map[string]map[string]bool // pattern -> option paths the user set
	// Ports and port names allocated in this run, not yet in the pod spec.
	reservedPorts  map[int32]bool
	reservedNames  map[string]bool
	renamedVolumes map[string]string // default volume name -> allocated
	podSpec        *corev1.PodSpec   // cache of pod(); edits keep it current or drop it
	configs        []*yaml.RNode     // generated ConfigMaps, hashed into config-hash
	assemblies     []assembly        // objects several patterns contribute to (assemble.go)
	warnings       []string
	annotatedBy    map[string]string // pod annotation -> the pattern that set it in this run
}

// ServiceInfo is a read-only view of a Service that selects the workload.
type ServiceInfo struct {
	Name      string
	Namespace string
	Labels    map[string]string
	Ports     []corev1.ServicePort
	Headless  bool
}

// scoped returns the handle a call of pattern uses.
func (w *Workload) scoped(pattern string) *Workload {
	return &Workload{workload: w.workload, pattern: pattern}
}

// Ref is "Deployment shop/api" (or "Deployment api" without a namespace).
func (w *workload) Ref() string { return w.Kind + " " + qualified(w.Namespace, w.Name) }

// Errorf returns an error naming the document, the workload and the pattern.
func (w *Workload) Errorf(format string, args ...any) error {
	return w.failAt(w.pattern, fmt.Errorf(format, args...))
}

// Warn adds a warning to the report.
func (w *Workload) Warn(format string, args ...any) {
	w.warnings = append(w.warnings, w.pattern+": "+fmt.Sprintf(format, args...))
}

// PodLabels returns the pod template's labels.
func (w *Workload) PodLabels() map[string]string { return w.labels }

// Services returns the Services (same namespace) whose selector matches the
// pod labels, in stream order.
func (w *Workload) Services() []ServiceInfo { return w.services }

// Image returns the configured image for a component, or def.
func (w *Workload) Image(component, def string) string {
	if img, ok := w.images[component]; ok && img != "" {
		return img
	}
	return def
}

// PodSpec returns a copy of the current pod spec, decoded: changing it
// changes nothing (the handle's methods do).
func (w *Workload) PodSpec() (*corev1.PodSpec, error) {
	ps, err := w.pod()
	if err != nil {
		return nil, err
	}
	return ps.DeepCopy(), nil
}

// pod decodes the current pod spec, for the engine's own reading. The decode
// is cached; AddContainer and AddVolume keep the cache current and the other
// edits drop it (dropPod).
func (w *workload) pod() (*corev1.PodSpec, error) {
	if w.podSpec != nil {
		return w.podSpec, nil
	}
	b, err := decodeJSON(w.spec.YNode())
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %s: %w", w.obj.where, w.Ref(), w.fieldPath("spec"), err)
	}
	var ps corev1.PodSpec
	if err := json.Unmarshal(b, &ps); err != nil {
		return nil, fmt.Errorf("%s: %s: %s: %w", w.obj.where, w.Ref(), w.fieldPath("spec"), cleanJSONError(err))
	}
	if err := podPorts(&ps, w.fieldPath("spec")); err != nil { // input.go
		return nil, fmt.Errorf("%s: %s: %w", w.obj.where, w.Ref(), err)
	}
	w.podSpec = &ps
	return &ps, nil
}

// dropPod forgets the cached decode after an edit the cache does not follow.
func (w *workload) dropPod() { w.podSpec = nil }

func (w *workload) fieldPath(rest string) string {
	fs := w.obj.spec
	p := strings.ReplaceAll(fs.Path, "/", ".")
	if p == "" {
		return rest
	}
	return p + "." + rest
}

// FieldPath is the path of a pod spec field in the workload, for messages:
// FieldPath("containers[0].ports") = "spec.template.spec.containers[0].ports".
func (w *Workload) FieldPath(rest string) string { return w.fieldPath("spec." + rest) }

// ResolvePort finds an app container port by name or number. "" picks the
// first port a TCP proxy can front: UDP and SCTP ports are passed over, and
// so are TLS ports (see PortProtocol) — an HTTP proxy in front of TLS breaks
// it, and a TCP one measures nothing; a workload with no other port is
// skipped with a reason (no_ports, no_tcp_port, tls_port). Injected
// containers are not app ports.
func (w *Workload) ResolvePort(ref string) (container string, port corev1.ContainerPort, err error) {
	ps, err := w.pod()
	if err != nil {
		return "", port, err
	}
	n, numErr := strconv.Atoi(ref)
	if strings.TrimLeft(strings.TrimPrefix(ref, "-"), "0123456789") == "" && ref != "" && ref != "-" {
		// A number (port names have a letter): a port, or an error.
		if numErr != nil || validate.Port("", int64(n)) != nil {
			return "", port, fmt.Errorf("port %q: not a port (1 to 65535)", ref)
		}
	}
	var udp, tls []string
	for _, c := range ps.Containers {
		for _, p := range c.Ports {
			if ref == "" {
				switch proto, src := w.PortProtocol(p); proto {
				case ProtoUDP:
					udp = append(udp, portLabel(p))
					continue
				case ProtoTLS:
					tls = append(tls, portLabel(p)+" ("+src+")")
					continue
				}
				return c.Name, p, nil
			}
			if (numErr == nil && int(p.ContainerPort) == n) || (numErr != nil && p.Name == ref) {
				if proto, _ := w.PortProtocol(p); proto == ProtoUDP {
					return "", port, fmt.Errorf("port %q is %s: a TCP proxy cannot front it", ref, p.Protocol)
				}
				return c.Name, p, nil
			}
		}
	}
	if ref == "" {
		switch {
		case len(tls) > 0:
			return "", port, Skip(ReasonTLSPort, "the only TCP ports are TLS: %s; an HTTP proxy in front of TLS would break it (set %s.port and %s.protocol=tcp to proxy one as TCP)", strings.Join(tls, ", "), w.pattern, w.pattern)
		case len(udp) > 0:
			return "", port, Skip(ReasonNoTCPPort, "no TCP port to proxy (%s)", strings.Join(udp, ", "))
		}
		return "", port, Skip(ReasonNoPorts, "no container declares a port; set the port option (e.g. %s.port=8080) to proxy one", w.pattern)
	}
	if numErr == nil {
		// A numeric port the app listens on without declaring it.
		if len(ps.Containers) > 0 {
			return ps.Containers[0].Name, corev1.ContainerPort{ContainerPort: int32(n), Protocol: corev1.ProtocolTCP}, nil
		}
	}
	return "", port, fmt.Errorf("port %q: no container port has that name", ref)
}

func portLabel(p corev1.ContainerPort) string {
	s := strconv.Itoa(int(p.ContainerPort))
	if p.Name != "" {
		s += " (" + p.Name + ")"
	}
	if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
		s += "/" + string(p.Protocol)
	}
	return s
}

// ObjectName is the name of a generated object: <workload>-<pattern>[-<part>],
// a valid DNS label of at most 63 characters (docs/contract.md#generated-objects).
func (w *Workload) ObjectName(parts ...string) string {
	return GeneratedName(append([]string{w.Name, w.pattern}, parts...)...)
}

// GeneratedName joins parts with "-" and, past 63 characters, truncates
// deterministically and appends a hash of the full name.
func GeneratedName(parts ...string) string {
	full := strings.ToLower(strings.Join(parts, "-"))
	if len(full) <= 63 {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	h := hex.EncodeToString(sum[:])[:8]
	return strings.TrimRight(full[:63-9], "-.") + "-" + h
}

// AddContainer adds a helper container. Sidecars (long-running helpers)
// become native sidecars (an initContainer with restartPolicy: Always) when
// w.Native is set, otherwise regular containers. Secure defaults (docs/contract.md#secure-defaults) are
// filled in where the pattern left them empty, and port and name collisions
// with the pod are errors.
func (w *Workload) AddContainer(c corev1.Container) error {
	ps, err := w.pod()
	if err != nil {
		return err
	}
	// The pod's containers; of the ephemeral ones the name only (their ports
	// are not checked against the helper's).
	all := allContainers(ps)
	for i := len(all) - len(ps.EphemeralContainers); i < len(all); i++ {
		all[i] = &corev1.Container{Name: all[i].Name}
	}
	names := map[string]bool{}
	for _, o := range all {
		names[o.Name] = true
		if o.Name == c.Name && leftoverHelper(*o) {
			return fmt.Errorf("container name %q is already used in %s%s", c.Name, w.FieldPath("containers"), leftoverHint)
		}
	}
	c.Name = w.uniqueName("container", c.Name, names)
	for i, m := range c.VolumeMounts {
		if to, ok := w.renamedVolumes[m.Name]; ok {
			c.VolumeMounts[i].Name = to
		}
	}
	for _, o := range all {
		for _, op := range o.Ports {
			for _, p := range c.Ports {
				if op.ContainerPort == p.ContainerPort {
					return fmt.Errorf("port %d (%s) is already used by container %q; set another port", p.ContainerPort, p.Name, o.Name)
				}
				if op.Name != "" && op.Name == p.Name {
					return fmt.Errorf("port name %q is already used by container %q", p.Name, o.Name)
				}
			}
		}
	}
	if err := w.checkScheme("container", c.Name); err != nil {
		return err
	}
	for _, p := range c.Ports {
		if p.ContainerPort < 1024 {
			return fmt.Errorf("port %d: injected containers listen on ports >= 1024", p.ContainerPort)
		}
	}
	if !imagePinned(c.Image) {
		return fmt.Errorf("image %q: pin a tag or digest (not latest)", c.Image)
	}
	applySecureDefaults(&c)
	list := "containers"
	if w.Native {
		always := corev1.ContainerRestartPolicyAlways
		c.RestartPolicy = &always
		list = "initContainers"
		w.status.InitContainers = append(w.status.InitContainers, c.Name)
	} else {
		w.status.Containers = append(w.status.Containers, c.Name)
		if w.Kind == "Job" || w.Kind == "CronJob" {
			w.Warn("native sidecars are off: container %q keeps running and the %s will not complete", c.Name, w.Kind)
		}
	}
	// nodecache.go: most pods get the same helper. A top-level document's
	// tree is let go when it is finalized (a List's items are written later).
	var d *Doc
	if w.obj.list == nil {
		d = w.obj.doc
	}
	n, err := toRNodeSharedIn(c, d)
	if err != nil {
		return err
	}
	if list == "initContainers" {
		ps.InitContainers = append(ps.InitContainers, c)
	} else {
		ps.Containers = append(ps.Containers, c)
	}
	return w.appendTo(list, n)
}

// leftoverHelper: a container by a helper's name that mounts a volume of
// sidecarize's naming scheme is a helper an earlier injection left (its
// status no longer lists it): an error, not a name to step around. Any
// other container of that name is the app's, and the helper takes the next
// free name.
func leftoverHelper(c corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(m.Name, "sidecarize-") {
			return true
		}
	}
	return false
}

// leftoverVolume: a volume by a helper volume's name that holds a ConfigMap
// or Secret named like this workload's generated objects was left by an
// earlier injection.
func (w *Workload) leftoverVolume(v corev1.Volume) bool {
	var ref string
	switch {
	case v.ConfigMap != nil:
		ref = v.ConfigMap.Name
	case v.Secret != nil:
		ref = v.Secret.SecretName
	}
	return ref != "" && strings.HasPrefix(ref, strings.ToLower(w.Name)+"-")
}

// appendTo appends to a pod spec list, creating it (and recording that) when
// absent.
func (w *Workload) appendTo(list string, n *yaml.RNode) error {
	if !w.createdMeta(list) {
		if rec := nullToList(w.spec, list); rec != "" {
			w.status.Created = append(w.status.Created, rec)
		}
	}
	seq := fieldNode(w.spec, list)
	if seq == nil || seq.Kind != yaml.SequenceNode || seq.Tag == yaml.NodeTagNull {
		if seq == nil && !w.status.has(w.status.Created, list) {
			w.status.Created = append(w.status.Created, list)
		}
		if err := w.spec.PipeE(yaml.SetField(list, yaml.NewListRNode())); err != nil {
			return err
		}
		seq = fieldNode(w.spec, list)
	}
	return yaml.NewRNode(seq).PipeE(yaml.Append(n.YNode()))
}

// AddVolume adds a pod volume; a name already in use is an error.
func (w *Workload) AddVolume(v corev1.Volume) error {
	ps, err := w.pod()
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, o := range ps.Volumes {
		names[o.Name] = true
		if o.Name == v.Name && w.leftoverVolume(o) {
			return fmt.Errorf("volume name %q is already used in %s%s", v.Name, w.FieldPath("volumes"), leftoverHint)
		}
	}
	if got := w.uniqueName("volume", v.Name, names); got != v.Name {
		if w.renamedVolumes == nil {
			w.renamedVolumes = map[string]string{}
		}
		w.renamedVolumes[v.Name] = got
		v.Name = got
	}
	if err := w.checkScheme("volume", v.Name); err != nil {
		return err
	}
	n, err := toRNode(v)
	if err != nil {
		return err
	}
	w.status.Volumes = append(w.status.Volumes, v.Name)
	ps.Volumes = append(ps.Volumes, v)
	return w.appendTo("volumes", n)
}

// Mount adds a volumeMount to one of the app's containers (recorded).
func (w *Workload) Mount(container string, m corev1.VolumeMount) error {
	w.dropPod()
	if to, ok := w.renamedVolumes[m.Name]; ok {
		m.Name = to
	}
	c, err := w.container(container)
	if err != nil {
		return err
	}
	n, err := toRNode(m)
	if err != nil {
		return err
	}
	created := c.Field("volumeMounts") == nil
	if created {
		if err := c.PipeE(yaml.SetField("volumeMounts", yaml.NewListRNode())); err != nil {
			return err
		}
	}
	w.status.Edits = append(w.status.Edits, Edit{Op: EditMount, Container: container, Name: m.Name, Created: created})
	return c.Field("volumeMounts").Value.PipeE(yaml.Append(n.YNode()))
}

// SetEnv sets the value of an app container's env var (recorded).
func (w *Workload) SetEnv(container, name, value string) error {
	w.dropPod()
	c, err := w.container(container)
	if err != nil {
		return err
	}
	env := c.Field("env")
	created := env == nil
	if created {
		if err := c.PipeE(yaml.SetField("env", yaml.NewListRNode())); err != nil {
			return err
		}
		env = c.Field("env")
	}
	e, err := env.Value.Pipe(yaml.MatchElement("name", name))
	if err != nil {
		return err
	}
	var old *string
	if e == nil {
		e = yaml.NewMapRNode(&map[string]string{"name": name})
		if err := env.Value.PipeE(yaml.Append(e.YNode())); err != nil {
			return err
		}
	} else if v := e.Field("value"); v != nil {
		old = strPtr(v.Value.YNode().Value)
	}
	w.status.Edits = append(w.status.Edits, Edit{Op: EditEnv, Container: container, Name: name, Old: old, Set: strPtr(value), Created: created})
	return setScalar(e, "value", yaml.NewStringRNode(value))
}

// SetArg rewrites an app container's argument (args[i]) (recorded).
func (w *Workload) SetArg(container string, i int, value string) error {
	w.dropPod()
	c, err := w.container(container)
	if err != nil {
		return err
	}
	args := c.Field("args")
	if args == nil || i >= len(args.Value.YNode().Content) {
		return fmt.Errorf("container %q has no args[%d]", container, i)
	}
	node := args.Value.YNode().Content[i]
	w.status.Edits = append(w.status.Edits, Edit{Op: EditArg, Container: container, Index: i, Old: strPtr(node.Value), Set: strPtr(value)})
	// In place: the node keeps its quoting style and comments (the encoder
	// quotes a plain scalar that needs it).
	node.Value = value
	node.Tag = yaml.NodeTagString
	return nil
}

// SetPodAnnotation sets a pod template annotation (recorded).
func (w *Workload) SetPodAnnotation(key, value string) error {
	var old *string
	if v, ok := w.tmpl.GetAnnotations()[key]; ok {
		old = strPtr(v)
	}
	w.status.Edits = append(w.status.Edits, Edit{Op: EditAnnotation, Name: key, Old: old, Set: strPtr(value)})
	if w.annotatedBy == nil {
		w.annotatedBy = map[string]string{}
	}
	w.annotatedBy[key] = w.pattern
	return w.setTemplateAnnotation(key, value)
}

// PodAnnotationSetBy is the pattern that set a pod annotation earlier in
// this run ("" when none did).
func (w *Workload) PodAnnotationSetBy(key string) string { return w.annotatedBy[key] }

func (w *Workload) setTemplateAnnotation(key, value string) error {
	if err := w.prepareAnnotations(); err != nil {
		return err
	}
	return setMetaKey(w.tmpl, "annotations", key, value)
}

// prepareAnnotations creates the pod template's metadata.annotations,
// recording in the status what did not exist, so uninject removes it. It
// runs before the status itself is encoded.
func (w *Workload) prepareAnnotations() error {
	if fieldNode(w.tmpl, "metadata") == nil && !w.status.has(w.status.Created, "metadata") {
		w.status.Created = append(w.status.Created, "metadata")
	}
	// A plain mapping that is there once is what LookupCreate finds and
	// leaves as it is (plainMap): kyaml's path walk only when one is missing.
	var md *yaml.RNode
	if n := plainMap(w.tmpl.YNode(), "metadata"); n != nil {
		md = yaml.NewRNode(n)
	} else {
		var err error
		if md, err = w.tmpl.Pipe(yaml.LookupCreate(yaml.MappingNode, "metadata")); err != nil {
			return err
		}
	}
	if !w.createdMeta("annotations") {
		if rec := shapeOf(md, "annotations", !hasUserKeys(w.tmpl, "annotations")); rec != "" {
			w.status.Created = append(w.status.Created, rec)
		}
	}
	if md != nil && plainMap(md.YNode(), "annotations") != nil {
		return nil
	}
	_, err := md.Pipe(yaml.LookupCreate(yaml.MappingNode, "annotations"))
	return err
}

// createdMeta: is the shape of a field already recorded?
func (w *Workload) createdMeta(field string) bool {
	for _, c := range w.status.Created {
		if c == field || strings.HasPrefix(c, field+"=") {
			return true
		}
	}
	return false
}

// container returns an app container's node by name.
func (w *Workload) container(name string) (*yaml.RNode, error) {
	c, err := w.spec.Pipe(yaml.Lookup("containers"), yaml.MatchElement("name", name))
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("no container named %q in %s", name, w.FieldPath("containers"))
	}
	return c, nil
}

// AddConfigMap generates a ConfigMap <workload>-<pattern>[-part] holding
// data; its content goes into the pod's config-hash so a change rolls the
// pods (docs/contract.md#rollouts). It returns the ConfigMap's name.
func (w *Workload) AddConfigMap(part string, data map[string]string) (string, error) {
	var name string
	if part == "" {
		name = w.ObjectName()
	} else {
		name = w.ObjectName(part)
	}
	cm := corev1.ConfigMap{Data: data}
	cm.APIVersion, cm.Kind, cm.Name = "v1", "ConfigMap", name
	n, err := w.addObject(cm)
	if err != nil {
		return "", err
	}
	w.configs = append(w.configs, n)
	return name, nil
}

// AddObject adds a generated object (typed or a struct with apiVersion, kind
// and metadata.name). It gets the workload's namespace and the managed-by
// label, and follows the workload in the stream.
func (w *Workload) AddObject(obj any) error {
	_, err := w.addObject(obj)
	return err
}

// partOf: name is the workload's object name for its pattern, alone or
// with a part of objectParts.
func (w *Workload) partOf(name string) bool {
	if name == w.ObjectName() {
		return true
	}
	for part := range objectParts {
		if name == w.ObjectName(part) {
			return true
		}
	}
	return false
}

func (w *Workload) addObject(obj any) (*yaml.RNode, error) {
	n, err := toRNode(obj)
	if err != nil {
		return nil, err
	}
	if w.Namespace != "" {
		ns := w.Namespace
		slow := func(n *yaml.RNode) error { return n.SetNamespace(ns) }
		ok, err := checkMetaEdit(n, func(n *yaml.RNode) bool { return setNamespaceFast(n, ns) }, slow)
		if err == nil && !ok {
			err = slow(n)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := w.checkScheme("object", n.GetName()); err != nil {
		return nil, err
	}
	if !generatedKinds[n.GetKind()] {
		return nil, fmt.Errorf("internal error: pattern %s generates a %s, a kind uninject does not trust (transform.generatedKinds)", w.pattern, n.GetKind())
	}
	if !w.partOf(n.GetName()) {
		return nil, fmt.Errorf("internal error: pattern %s names an object %q, not %s or %s-<part> with a part uninject knows (transform.objectParts)", w.pattern, n.GetName(), w.ObjectName(), w.ObjectName())
	}
	if err := setMetaKey(n, "labels", LabelManagedBy, ManagedByValue); err != nil {
		return nil, err
	}
	if err := setMetaKey(n, "annotations", AnnotationOwner, w.ownerRef()); err != nil {
		return nil, err
	}
	if err := w.carryHelmHook(n); err != nil {
		return nil, err
	}
	for _, o := range w.status.Objects {
		if o.Kind == n.GetKind() && o.Name == n.GetName() {
			return nil, fmt.Errorf("generated %s %q twice", o.Kind, o.Name)
		}
	}
	w.status.Objects = append(w.status.Objects, ObjectRef{Kind: n.GetKind(), Name: n.GetName()})
	w.obj.extra = append(w.obj.extra, n)
	return n, nil
}

// EditService records a change to the Services selecting the workload.
func (w *Workload) EditService(e ServiceEdit) {
	e.Pattern = w.pattern
	w.status.Services = append(w.status.Services, e)
}

// configHash hashes the generated ConfigMaps' data in a stable order.
func (w *Workload) configHash() (string, error) {
	if len(w.configs) == 0 {
		return "", nil
	}
	h := sha256.New()
	for _, c := range w.configs {
		data := c.GetDataMap()
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(h, "%s\x00", c.GetName())
		for _, k := range keys {
			fmt.Fprintf(h, "%s\x00%s\x00", k, data[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// imagePinned: a tag other than latest, or a digest.
func imagePinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	i := strings.LastIndex(name, ":")
	return i > 0 && name[i+1:] != "latest" && name[i+1:] != ""
}
