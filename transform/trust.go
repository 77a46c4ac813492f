package transform

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The status is trusted only as far as sidecarize can check it.
//
// sidecarize.dev/status sits in the manifest, where anyone who edits the
// manifest can change it, and statuses get copied between workloads. Uninject
// and re-injection therefore remove only what the recorded patterns would
// have made for this workload (README, "Trust model"):
//
//   - helper containers named by a recorded pattern's scheme (the pattern's
//     name, or <pattern>-…), never a container that a recorded edit changes,
//     never the pod's last container; an initContainer only when it is a
//     native sidecar (restartPolicy: Always);
//   - volumes named sidecarize-<pattern>[-…] that no remaining container
//     mounts (except through a mount the status records);
//   - edits of the app's containers and pod annotations whose recorded value
//     is still in place;
//   - generated objects in the workload's namespace, labelled
//     app.kubernetes.io/managed-by: sidecarize, whose sidecarize.dev/owner
//     annotation names this workload as it was injected, that the status
//     lists under their names or renamed as the workload was (claimObjects;
//     objects of earlier versions have no owner and are matched by name);
//   - Service edits (re-applied to a workload left as it is) pointing at a
//     port of a trusted helper.
//
// Everything else in a status is reported as a warning and left alone, and
// the creation of these names is enforced where they are made (AddContainer,
// AddVolume, addObject), so that the rules above hold for every pattern.

// trustStatus returns the part of a recorded status that sidecarize can
// prove it made on this workload; each entry left out is a warning.
func (w *Workload) trustStatus(st *Status, unknown []string, patterns []Pattern) (*Status, error) {
	warn := func(format string, args ...any) {
		w.warnings = append(w.warnings, "status: "+fmt.Sprintf(format, args...))
	}
	if len(unknown) > 0 {
		warn("written by sidecarize %s with fields this version does not know (%s): what they record is left alone", versionOr(st.Version), strings.Join(unknown, "; "))
	}
	ps, err := w.PodSpec()
	if err != nil {
		return nil, err
	}
	t := &Status{Version: st.Version, Created: st.Created}
	for _, p := range st.Patterns {
		if patternByName(patterns, p) == nil {
			warn("pattern %q (recorded by sidecarize %s) is not known to this version: what it made is left alone", p, versionOr(st.Version))
			continue
		}
		t.Patterns = append(t.Patterns, p)
	}

	// Containers the edits change are the app's.
	edited := map[string]bool{}
	for _, e := range st.Edits {
		if e.Container != "" {
			edited[e.Container] = true
		}
	}
	helper := func(c corev1.Container, list string) bool {
		switch {
		case schemeOf(c.Name, t.Patterns, "") == "":
			warn("%s %q is not named like a helper of %s: left alone", singular(list), c.Name, patternList(t.Patterns))
		case edited[c.Name]:
			warn("%s %q is changed by the status's own edits, so it is the app's: left alone", singular(list), c.Name)
		case list == "initContainers" && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways):
			warn("initContainer %q is not a native sidecar (restartPolicy: Always): left alone", c.Name)
		default:
			return true
		}
		return false
	}
	removed := map[string]bool{}
	for _, name := range st.InitContainers {
		if c := findContainer(ps.InitContainers, name); c == nil {
			warn("initContainer %q is not in the pod: nothing to remove", name)
		} else if helper(*c, "initContainers") {
			t.InitContainers = append(t.InitContainers, name)
			removed[name] = true
		}
	}
	var helpers []string
	for _, name := range st.Containers {
		if c := findContainer(ps.Containers, name); c == nil {
			warn("container %q is not in the pod: nothing to remove", name)
		} else if helper(*c, "containers") {
			helpers = append(helpers, name)
		}
	}
	if len(helpers) > 0 && len(helpers) >= len(ps.Containers) {
		warn("removing containers %s would leave the pod without containers: left alone", quoteList(helpers))
		helpers = nil
	}
	for _, name := range helpers {
		t.Containers = append(t.Containers, name)
		removed[name] = true
	}

	// Volumes: named by the scheme, and not mounted by a container that
	// stays except through a mount the status records.
	candidates := map[string]bool{}
	for _, name := range st.Volumes {
		switch {
		case findVolume(ps.Volumes, name) == nil:
			warn("volume %q is not in the pod: nothing to remove", name)
		case schemeOf(name, t.Patterns, "sidecarize-") == "":
			warn("volume %q is not named like a volume of %s (sidecarize-<pattern>): left alone", name, patternList(t.Patterns))
		default:
			candidates[name] = true
		}
	}
	recordedMount := map[[2]string]bool{}
	for _, e := range st.Edits {
		if e.Op == EditMount && candidates[e.Name] && !removed[e.Container] {
			recordedMount[[2]string{e.Container, e.Name}] = true
		}
	}
	stays := append(append([]corev1.Container{}, ps.InitContainers...), ps.Containers...)
	for _, c := range stays {
		if removed[c.Name] {
			continue
		}
		for _, m := range c.VolumeMounts {
			if candidates[m.Name] && !recordedMount[[2]string{c.Name, m.Name}] {
				warn("volume %q is still mounted by container %q: left alone", m.Name, c.Name)
				delete(candidates, m.Name)
			}
		}
	}
	for _, name := range st.Volumes {
		if candidates[name] {
			t.Volumes = append(t.Volumes, name)
			candidates[name] = false // once
		}
	}

	// Edits: undone in reverse order, each only where the value it wrote is
	// still in place (the one before it, for stacked edits of one key).
	current := map[string]*string{}
	valueOf := func(e Edit) (key string, v *string, ok bool) {
		switch e.Op {
		case EditAnnotation:
			key = "annotation\x00" + e.Name
			if x, found := w.tmpl.GetAnnotations()[e.Name]; found {
				v = &x
			}
			return key, v, true
		case EditEnv:
			c := findContainer(ps.Containers, e.Container)
			if c == nil {
				return "", nil, false
			}
			key = "env\x00" + e.Container + "\x00" + e.Name
			for _, ev := range c.Env {
				if ev.Name == e.Name {
					x := ev.Value
					v = &x
				}
			}
			return key, v, true
		case EditArg:
			c := findContainer(ps.Containers, e.Container)
			if c == nil || e.Index < 0 || e.Index >= len(c.Args) {
				return "", nil, false
			}
			x := c.Args[e.Index]
			return "arg\x00" + e.Container + "\x00" + strconv.Itoa(e.Index), &x, true
		}
		return "", nil, false
	}
	keep := make([]bool, len(st.Edits))
	for i := len(st.Edits) - 1; i >= 0; i-- {
		e := st.Edits[i]
		switch e.Op {
		case EditMount:
			switch {
			case findContainer(ps.Containers, e.Container) == nil:
				warn("edits[%d]: container %q is not an app container of the pod: left alone", i, e.Container)
			case !contains(t.Volumes, e.Name):
				warn("edits[%d]: the mount of volume %q in container %q is not sidecarize's: left alone", i, e.Name, e.Container)
			default:
				keep[i] = true
			}
		case EditAnnotation, EditEnv, EditArg:
			key, v, ok := valueOf(e)
			if !ok {
				warn("edits[%d]: %s %q of container %q is not in the pod: left alone", i, e.Op, editName(e), e.Container)
				continue
			}
			if c, seen := current[key]; seen {
				v = c
			}
			if e.Set == nil && st.Workload != "" {
				// Every status that records its workload also records the
				// value of each edit: one without it was not written by
				// sidecarize, and undoing it "by name" would remove the
				// app's own env var or annotation.
				warn("edits[%d]: %s %q records no value, although its status is of a version that records them: left alone", i, e.Op, editName(e))
				continue
			}
			if e.Set != nil && (v == nil || *v != *e.Set) {
				warn("edits[%d]: %s %q no longer has the value sidecarize set: left alone", i, e.Op, editName(e))
				continue
			}
			if e.Op == EditAnnotation && strings.HasPrefix(e.Name, AnnotationPrefix) {
				warn("edits[%d]: annotation %q is sidecarize's own: left alone", i, e.Name)
				continue
			}
			current[key] = e.Old
			keep[i] = true
		default:
			warn("edits[%d]: unknown edit %q: left alone", i, e.Op)
		}
	}
	for i, e := range st.Edits {
		if keep[i] {
			t.Edits = append(t.Edits, e)
		}
	}

	// Service edits point at ports of trusted helpers.
	helperPorts := map[string]bool{}
	for _, c := range append(append([]corev1.Container{}, ps.InitContainers...), ps.Containers...) {
		if removed[c.Name] {
			for _, p := range c.Ports {
				helperPorts[p.Name] = p.Name != ""
				helperPorts[strconv.Itoa(int(p.ContainerPort))] = true
			}
		}
	}
	for i, s := range st.Services {
		ok := contains(t.Patterns, s.Pattern)
		switch s.Op {
		case OpRetarget:
			ok = ok && (helperPorts[s.ProxyPortName] || s.ProxyPortName == "" && helperPorts[strconv.Itoa(int(s.ProxyPort))])
		case OpPort:
			ok = ok && helperPorts[s.TargetPort]
		case OpLabel:
			ok = ok && len(removed) > 0
		default:
			ok = false
		}
		if !ok {
			warn("services[%d]: %s %s of pattern %q does not lead to a helper of this pod: left alone", i, s.Op, firstNonEmpty(s.ProxyPortName, s.TargetPort, s.Key), s.Pattern)
			continue
		}
		t.Services = append(t.Services, s)
	}

	// Objects: found in the stream by what they carry (claimObjects): the
	// managed-by label, the owner annotation naming the workload as it was
	// injected, its namespace. A workload renamed since (kustomize's
	// namePrefix/nameSuffix) contains the name it was injected under, and
	// its objects contain the names the status lists.
	t.Workload, t.owner, t.recorded = st.Workload, w.ownerRef(), w.Name
	objectsOK := true
	if st.Workload != "" {
		kind, name, _ := strings.Cut(st.Workload, "/")
		if kind != w.Kind || name == "" || !strings.Contains(w.Name, name) {
			warn("written for %s, not for %s (nor renamed from it): its generated objects are left alone", st.Workload, w.ownerRef())
			objectsOK = false
		} else {
			t.owner, t.recorded = st.Workload, name
		}
	}
	for _, o := range st.Objects {
		if !objectsOK {
			break
		}
		if o.Kind != "" && !generatedKinds[o.Kind] {
			warn("%s %q: sidecarize generates no %s: left alone", o.Kind, o.Name, o.Kind)
			continue
		}
		if o.Kind == "" || o.Name == "" || !generatedFor(t.recorded, o.Name, t.Patterns) {
			warn("%s %q is not named like an object generated for %s (%s-<pattern>): left alone", firstNonEmpty(o.Kind, "object"), o.Name, w.Ref(), t.recorded)
			continue
		}
		t.Objects = append(t.Objects, o)
	}
	return t, nil
}

// objectParts are the parts a generated object's name may carry after its
// pattern (<workload>-<pattern>-<part>; addObject enforces it). A
// workload named <other>-<part> is never read as <other> renamed with the
// suffix -<part>: its status would claim <other>'s objects.
var objectParts = map[string]bool{"dashboard": true}

// generatedKinds are the kinds of object sidecarize generates (addObject
// enforces it): a status that lists another kind, a Secret, is not
// sidecarize's, and uninject must not drop that object.
var generatedKinds = map[string]bool{"ConfigMap": true, "ServiceMonitor": true, "PodMonitor": true, "PrometheusRule": true, "Certificate": true}

// schemeOf returns the pattern whose naming scheme name follows: prefix +
// pattern, alone or followed by "-…"; "" when none.
func schemeOf(name string, patterns []string, prefix string) string {
	for _, p := range patterns {
		base := prefix + p
		if name == base || strings.HasPrefix(name, base+"-") {
			return p
		}
	}
	return ""
}

// generatedFor: name is GeneratedName(workload, pattern, …) for one of
// patterns. A name cut to 63 characters keeps its first 54.
func generatedFor(workload, name string, patterns []string) bool {
	for _, p := range patterns {
		base := strings.ToLower(workload + "-" + p)
		if name == base || strings.HasPrefix(name, base+"-") {
			return true
		}
		if len(base) > 54 && len(name) == 63 && strings.HasPrefix(name, strings.TrimRight(base[:54], "-.")+"-") {
			return true
		}
	}
	return false
}

// addedPortDistrust says why a Service port its status lists as added by
// sidecarize is not removed ("" when it is): sidecarize adds named ports
// that target a helper's port by name, and never the Service's only port —
// unless the status records that the Service had no ports (portsCreated)
// and the port targets one of the table's helper port names.
func (s *service) addedPortDistrust(ports *yaml.RNode, name string, portsCreated bool) string {
	var p *yaml.RNode
	for _, c := range ports.Content() {
		if rn := yaml.NewRNode(c); rn.Field("name") != nil && yaml.GetValue(rn.Field("name").Value) == name {
			p = rn
		}
	}
	switch {
	case p == nil:
		return "is not in the Service"
	case len(ports.Content()) == 1 && !(portsCreated && targetsHelperPort(p)):
		return "is the Service's only port"
	case p.Field("targetPort") == nil || p.Field("targetPort").Value.YNode().ShortTag() == yaml.NodeTagInt:
		return "does not target a container port by name, as the ports sidecarize adds do"
	}
	return ""
}

// targetsHelperPort: the port's targetPort is a default helper port name of
// the table (DefaultNames), possibly with the allocator's number suffix.
func targetsHelperPort(p *yaml.RNode) bool {
	tp := p.Field("targetPort")
	if tp == nil {
		return false
	}
	v := strings.TrimRight(tp.Value.YNode().Value, "0123456789")
	for _, n := range DefaultNames["portName"] {
		if v == n {
			return true
		}
	}
	return false
}

// leftoverHint ends the error of a helper name already in use: usually a
// helper of an earlier injection that the workload's status no longer lists.
const leftoverHint = " (a helper left by an earlier injection that the workload's " + AnnotationStatus + " does not list? remove it, or restore the status sidecarize wrote)"

// ownerRef is the value of sidecarize.dev/owner for w's generated objects.
func (w *Workload) ownerRef() string { return w.Kind + "/" + w.Name }

// objectClaim is what a workload that is uninjected or re-injected claims
// of the stream's generated objects: those its trusted status lists.
type objectClaim struct {
	ref       string // the workload, for messages
	namespace string
	self      string // its name now
	recorded  string // its name when injected
	owner     string // the sidecarize.dev/owner of its objects: Kind/name when injected
	objects   []ObjectRef
	// ownerRequired: the status records its workload, so the objects it
	// generated carry sidecarize.dev/owner; one without it is not its.
	ownerRequired bool
}

// claimOf is what the workload claims, from its trusted status.
func (w *Workload) claimOf(st *Status) *objectClaim {
	return &objectClaim{ref: w.Ref(), namespace: w.Namespace, self: w.Name, recorded: st.recorded, owner: st.owner, objects: st.Objects, ownerRequired: st.Workload != ""}
}

// lists: the status lists the object, under the name it was generated
// with, or renamed as the workload was: the workload's name now is its
// name then with a prefix and a suffix (kustomize's namePrefix and
// nameSuffix), and so is the object's. Every place the old name occurs in
// the new one is tried (api renamed apishop-api).
func (c *objectClaim) lists(kind, name string) bool {
	for _, o := range c.objects {
		if o.Kind != kind {
			continue
		}
		for i := 0; c.recorded != "" && i+len(c.recorded) <= len(c.self); i++ {
			suffix := c.self[i+len(c.recorded):]
			if objectParts[strings.TrimPrefix(suffix, "-")] {
				// web-dashboard is not web renamed with the suffix
				// -dashboard: web-monitor-dashboard is web's own.
				continue
			}
			if strings.HasPrefix(c.self[i:], c.recorded) && name == c.self[:i]+o.Name+suffix {
				return true
			}
		}
	}
	return false
}

// claimObjects decides, for each generated object of the stream (labelled
// app.kubernetes.io/managed-by: sidecarize), whether it goes. It does when
// a workload that is uninjected or re-injected claims it: the object is in
// the workload's namespace, its sidecarize.dev/owner names the workload as
// it was injected, and the status lists it (under its name, or renamed as
// the workload was: kustomize's namePrefix/nameSuffix rename both alike,
// its namespace transformer moves both). Objects of earlier versions,
// without the owner annotation, are matched by their exact name. Anything
// else stays, with a warning when a status listed it or when uninject finds
// it unclaimed.
func claimObjects(rep *Report, generated []*object, claims []*objectClaim, uninject bool) {
	byOwner := map[string][]*objectClaim{} // namespace/owner
	byName := map[string][]*objectClaim{}  // Kind/namespace/name as the status lists it
	for _, c := range claims {
		byOwner[c.namespace+"/"+c.owner] = append(byOwner[c.namespace+"/"+c.owner], c)
		for _, o := range c.objects {
			k := o.Kind + "/" + c.namespace + "/" + o.Name
			byName[k] = append(byName[k], c)
		}
	}
	for _, g := range generated {
		n := g.node
		kind, ns, name := n.GetKind(), n.GetNamespace(), n.GetName()
		ref := kind + " " + qualified(ns, name)
		listed := byName[kind+"/"+ns+"/"+name]
		owner, hasOwner := n.GetAnnotations()[AnnotationOwner]
		drop := false
		if hasOwner {
			for _, c := range byOwner[ns+"/"+owner] {
				drop = drop || c.lists(kind, name)
			}
			for _, c := range listed {
				if !drop && c.owner != owner {
					rep.Warn(g.where, ref, "metadata.annotations["+AnnotationOwner+"]",
						fmt.Sprintf("generated for %s, not for %s whose status lists it: left alone", owner, c.ref))
				}
			}
		} else {
			for _, c := range listed {
				if c.ownerRequired {
					rep.Warn(g.where, ref, "metadata.annotations",
						fmt.Sprintf("has no %s, which every object generated for %s's status carries: left alone", AnnotationOwner, c.ref))
					continue
				}
				drop = true
			}
		}
		if drop {
			g.drop, g.changed = true, true
		} else if uninject && len(listed) == 0 {
			rep.Warn(g.where, ref, "", "no workload of the input lists it in its "+AnnotationStatus+": left alone")
		}
	}
}

func findContainer(list []corev1.Container, name string) *corev1.Container {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func findVolume(list []corev1.Volume, name string) *corev1.Volume {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func versionOr(v string) string {
	if v == "" {
		return "(no version)"
	}
	return strconv.Quote(v)
}

func singular(list string) string { return strings.TrimSuffix(list, "s") }

func patternList(ps []string) string {
	if len(ps) == 0 {
		return "no known pattern"
	}
	return "pattern " + strings.Join(ps, ", ")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func editName(e Edit) string {
	if e.Op == EditArg {
		return "args[" + strconv.Itoa(e.Index) + "]"
	}
	return e.Name
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// checkScheme enforces, where sidecarize creates them, the names the trust
// model relies on.
func (w *Workload) checkScheme(what, name string) error {
	var ok bool
	switch what {
	case "container":
		ok = schemeOf(name, []string{w.pattern}, "") != ""
	case "volume":
		ok = schemeOf(name, []string{w.pattern}, "sidecarize-") != ""
	default:
		ok = generatedFor(w.Name, name, []string{w.pattern})
	}
	if !ok {
		return fmt.Errorf("internal error: pattern %s names a generated %s %q outside its scheme (uninject could not prove it made it)", w.pattern, what, name)
	}
	return nil
}
