package transform

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Allocation records a default that was already taken (in the pod, by the
// app or an earlier pattern, or on a Service) and was moved to the next free
// value. A re-run keeps the recorded value while it is still free, so the
// pods do not roll because a default became free again.
type Allocation struct {
	Pattern string `json:"pattern"`
	// What: the option ("proxyPort", "metricsPort"), or "container",
	// "volume", "portName", "servicePort", "servicePortName".
	What    string `json:"what"`
	Service string `json:"service,omitempty"`
	Default string `json:"default"`
	Value   string `json:"value"`
}

// Explicit reports whether the running pattern's option was set by the user
// (a flag, a config rule or an annotation) rather than left at its default.
// An option is matched by its path ("proxyPort") or as the last element of
// a longer one ("api.metricsPort" for a list of named entries).
func (w *Workload) Explicit(option string) bool {
	for p := range w.explicit[w.pattern] {
		if p == option || strings.HasSuffix(p, "."+option) {
			return true
		}
	}
	return false
}

// Port allocates a container port for the running pattern: want is the
// option's value and name the port's default name. A port the user set
// explicitly that is taken is an error; a default that is taken moves to the
// next free port (want+1, …), deterministically, recorded and reported. The
// name is allocated the same way (name, name2, …). The port is reserved for
// the rest of the run (later options and patterns do not get it).
func (w *Workload) Port(option string, want int32, name string) (corev1.ContainerPort, error) {
	num, err := w.allocPort(option, want)
	if err != nil {
		return corev1.ContainerPort{}, err
	}
	cp := corev1.ContainerPort{ContainerPort: num, Protocol: corev1.ProtocolTCP}
	if name != "" {
		if cp.Name, err = w.allocPortName(name); err != nil {
			return corev1.ContainerPort{}, err
		}
	}
	return cp, nil
}

// PortRequest asks Ports for one port: the option, its value, the port's
// default name.
type PortRequest struct {
	Option string
	Want   int32
	Name   string
}

// Ports allocates several ports in order (see Port).
func (w *Workload) Ports(reqs ...PortRequest) ([]corev1.ContainerPort, error) {
	out := make([]corev1.ContainerPort, len(reqs))
	for i, r := range reqs {
		cp, err := w.Port(r.Option, r.Want, r.Name)
		if err != nil {
			return nil, err
		}
		out[i] = cp
	}
	return out, nil
}

// PortNumber allocates a port that is not declared as a container port
// (an address on 127.0.0.1, say): same rules as Port.
func (w *Workload) PortNumber(option string, want int32) (int32, error) {
	return w.allocPort(option, want)
}

func (w *Workload) allocPort(option string, want int32) (int32, error) {
	used, err := w.usedPorts()
	if err != nil {
		return 0, err
	}
	if w.Explicit(option) || want == 0 {
		if who, ok := used[want]; ok && want != 0 {
			return 0, fmt.Errorf("%s: port %d is already used by %s; set another port (or leave %s unset: a free one is picked)", option, want, who, option)
		}
		w.reserve(want)
		return want, nil
	}
	start := want
	if prev, ok := w.prevAllocation(option, ""); ok {
		if n, err := strconv.Atoi(prev); err == nil && n > 0 && n <= 65535 {
			if _, taken := used[int32(n)]; !taken {
				start = int32(n)
			}
		}
	}
	got := int32(0)
	for p := start; p <= 65535 && got == 0; p++ {
		if _, taken := used[p]; !taken {
			got = p
		}
	}
	for p := int32(1024); p < start && got == 0; p++ {
		if _, taken := used[p]; !taken {
			got = p
		}
	}
	if got == 0 {
		return 0, fmt.Errorf("%s: no free port", option)
	}
	w.reserve(got)
	if got != want {
		w.allocated(option, "", strconv.Itoa(int(want)), strconv.Itoa(int(got)))
		if who, ok := used[want]; ok {
			w.Warn("%s: port %d is used by %s: using %d (set %s.%s to choose)", option, want, who, got, w.pattern, option)
		}
	}
	return got, nil
}

// allocPortName picks a container port name that no container of the pod
// uses: name, name2, … (IANA service names: at most 15 characters).
func (w *Workload) allocPortName(name string) (string, error) {
	ps, err := w.pod()
	if err != nil {
		return "", err
	}
	used := map[string]bool{}
	for _, c := range allContainers(ps) {
		for _, p := range c.Ports {
			used[p.Name] = true
		}
	}
	for n := range w.reservedNames {
		used[n] = true
	}
	got := name
	if prev, ok := w.prevAllocation("portName", name); ok && !used[prev] {
		got = prev
	}
	got = nextFree(got, used, 15, "")
	w.reservedNames[got] = true
	if got != name {
		w.allocated("portName", "", name, got)
		w.Warn("port name %q is used in the pod: using %q", name, got)
	}
	return got, nil
}

// nextFree returns name when free, else name<sep>2, name<sep>3, … cut to max
// characters.
func nextFree(name string, used map[string]bool, max int, sep string) string {
	if !used[name] {
		return name
	}
	for i := 2; ; i++ {
		suffix := sep + strconv.Itoa(i)
		base := name
		if len(base)+len(suffix) > max {
			base = strings.TrimRight(base[:max-len(suffix)], "-")
		}
		if c := base + suffix; !used[c] {
			return c
		}
	}
}

// ServicePort allocates the name and number of a port the running pattern
// adds to a Service: the defaults unless the Service already has a port of
// that name or number (its own metrics port, say). Every workload behind a
// shared Service gets the same answer, because it is computed from the
// Service as it was before the run.
func (w *Workload) ServicePort(service, name string, port int32) (string, int32) {
	names, nums := map[string]bool{}, map[int32]bool{}
	for _, s := range w.services {
		if s.Name != service {
			continue
		}
		for _, p := range s.Ports {
			names[p.Name] = true
			nums[p.Port] = true
		}
	}
	for _, e := range w.status.Services {
		if e.Op == OpPort && e.Service == service {
			names[e.Name] = true
			nums[e.Port] = true
		}
	}
	gotName := nextFree(name, names, 63, "-")
	if gotName != name {
		w.allocated("servicePortName", service, name, gotName)
		w.Warn("Service %s already has a port named %q: the metrics port is named %q", service, name, gotName)
	}
	got := port
	for nums[got] && got < 65535 {
		got++
	}
	if got != port {
		w.allocated("servicePort", service, strconv.Itoa(int(port)), strconv.Itoa(int(got)))
		w.Warn("Service %s already has port %d: the metrics port is %d", service, port, got)
	}
	return gotName, got
}

// usedPorts maps every port the pod uses to who uses it: declared container
// ports, probe ports, numeric Service targetPorts (the app listens there even
// if it does not declare it) and ports reserved earlier in this run.
func (w *Workload) usedPorts() (map[int32]string, error) {
	ps, err := w.pod()
	if err != nil {
		return nil, err
	}
	used := map[int32]string{}
	for _, c := range allContainers(ps) {
		for _, p := range c.Ports {
			if _, ok := used[p.ContainerPort]; !ok {
				used[p.ContainerPort] = fmt.Sprintf("container %q", c.Name)
			}
		}
		for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if n := probePort(pr); n > 0 {
				if _, ok := used[n]; !ok {
					used[n] = fmt.Sprintf("a probe of container %q", c.Name)
				}
			}
		}
	}
	for _, s := range w.services {
		for _, p := range s.Ports {
			if p.TargetPort.Type == 0 && p.TargetPort.IntVal > 0 {
				if _, ok := used[p.TargetPort.IntVal]; !ok {
					used[p.TargetPort.IntVal] = "Service " + s.Name + "'s targetPort"
				}
			}
		}
	}
	for p := range w.reservedPorts {
		if _, ok := used[p]; !ok {
			used[p] = "an earlier pattern"
		}
	}
	return used, nil
}

// DeclaredPorts is the set of container ports the pod's containers declare
// now (init and ephemeral containers included), for a pattern that picks
// several ports of its own before allocating them.
func (w *Workload) DeclaredPorts() (map[int32]bool, error) {
	ps, err := w.pod()
	if err != nil {
		return nil, err
	}
	out := map[int32]bool{}
	for _, c := range allContainers(ps) {
		for _, p := range c.Ports {
			out[p.ContainerPort] = true
		}
	}
	return out, nil
}

func probePort(p *corev1.Probe) int32 {
	if p == nil {
		return 0
	}
	switch {
	case p.HTTPGet != nil && p.HTTPGet.Port.Type == 0:
		return p.HTTPGet.Port.IntVal
	case p.TCPSocket != nil && p.TCPSocket.Port.Type == 0:
		return p.TCPSocket.Port.IntVal
	case p.GRPC != nil:
		return p.GRPC.Port
	}
	return 0
}

// allContainers lists the pod's init, app and ephemeral containers (of
// these, the name and ports), for reading: pointers into ps, not copies.
func allContainers(ps *corev1.PodSpec) []*corev1.Container {
	all := make([]*corev1.Container, 0, len(ps.InitContainers)+len(ps.Containers)+len(ps.EphemeralContainers))
	for i := range ps.InitContainers {
		all = append(all, &ps.InitContainers[i])
	}
	for i := range ps.Containers {
		all = append(all, &ps.Containers[i])
	}
	for _, ec := range ps.EphemeralContainers {
		all = append(all, &corev1.Container{Name: ec.Name, Ports: ec.Ports})
	}
	return all
}

func (w *Workload) reserve(p int32) {
	if w.reservedPorts == nil {
		w.reservedPorts = map[int32]bool{}
	}
	w.reservedPorts[p] = true
}

// allocated records a moved default in the status.
func (w *Workload) allocated(what, service, def, value string) {
	w.status.Allocated = append(w.status.Allocated, Allocation{Pattern: w.pattern, What: what, Service: service, Default: def, Value: value})
}

// prevAllocation is the value an earlier run chose for the same default.
func (w *Workload) prevAllocation(what, def string) (string, bool) {
	if w.prev == nil {
		return "", false
	}
	for _, a := range w.prev.Allocated {
		if a.Pattern == w.pattern && a.What == what && (def == "" || a.Default == def) {
			return a.Value, true
		}
	}
	return "", false
}

// uniqueName gives a container or volume the default name, or the next free
// one (name-2, …; at most 63 characters), recorded and reported.
func (w *Workload) uniqueName(what, name string, used map[string]bool) string {
	got := name
	if prev, ok := w.prevAllocation(what, name); ok && !used[prev] {
		got = prev
	}
	got = nextFree(got, used, 63, "-")
	if got != name {
		w.allocated(what, "", name, got)
		w.Warn("%s name %q is used in the pod: using %q", what, name, got)
	}
	return got
}

// explicitOptions lists the option paths of pat that flags (--set) and the
// config rules set: those are the user's, not defaults.
func (e *Engine) explicitOptions(pat Pattern, rules []Rule) map[string]bool {
	set := map[string]bool{}
	for _, s := range e.Flags.Set {
		key, _, _ := strings.Cut(s, "=")
		if pn, path, _ := strings.Cut(key, "."); pn == pat.Name() {
			set[path] = true
		}
	}
	for _, r := range rules {
		raw, ok := r.Patterns[pat.ConfigKey()]
		if !ok {
			raw, ok = r.Patterns[pat.Name()]
		}
		var v any
		if ok && json.Unmarshal(raw, &v) == nil {
			explicitPaths(v, "", set)
		}
	}
	// Entries by name are addressed without their list's key.
	t := reflect.TypeOf(pat.NewOptions())
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return set
	}
	if i, ok := byNameField(t); ok {
		key := strings.Split(t.Field(i).Tag.Get("json"), ",")[0] + "."
		for p := range set {
			if rest, ok := strings.CutPrefix(p, key); ok {
				set[rest] = true
			}
		}
	}
	return set
}

// explicitPaths lists the dotted option paths a JSON object sets (a config
// rule's options): nested objects are walked, list entries are addressed by
// their "name" (as SetOption addresses them) or their index.
func explicitPaths(v any, prefix string, out map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			explicitPaths(t[k], p, out)
		}
	case []any:
		for i, e := range t {
			p := strconv.Itoa(i)
			if m, ok := e.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					p = n
				}
			}
			if prefix != "" {
				p = prefix + "." + p
			}
			explicitPaths(e, p, out)
		}
	}
}
