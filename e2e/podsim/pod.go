// Package podsim runs a transformed workload's HAProxy containers the way a
// pod runs them: in a network namespace of their own (shared, as in a pod, with
// the app and with the client doing the checks), with the ConfigMap data the
// container's volumeMounts name written under a temporary root, and with a
// real server standing in for the app on each of the app containers' ports.
//
// It needs root (network namespaces) and the haproxy binary.
package podsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// Pod is one workload's pod template with what the simulator needs from the
// rest of the stream.
type Pod struct {
	Workload   string // Kind/namespace/name
	Namespace  string
	Template   map[string]any
	Status     *manifest.Status // sidecarize.dev/status (nil if absent)
	Containers []manifest.Container
	Services   []manifest.Object // Services of the stream selecting the pod
	// Bystanders: per Service name, the workloads of the stream it also
	// selects that carry no injection. sidecarize leaves such a Service as
	// it was (and reports it): their pods lack the proxy port.
	Bystanders map[string][]string
	// Volumes' data from the stream: ConfigMap and Secret name -> key -> bytes.
	ConfigMaps map[string]map[string][]byte
	Secrets    map[string]map[string][]byte
}

// IsHAProxy reports whether a container runs HAProxy (its image starts with
// "haproxy", registry and path ignored).
func IsHAProxy(c manifest.Container) bool {
	img := c.Image()
	if i := strings.LastIndex(img, "/"); i >= 0 {
		img = img[i+1:]
	}
	return strings.HasPrefix(img, "haproxy")
}

// HAProxyContainers are the pod's HAProxy containers that sidecarize added
// (all of them without a status): an app that is itself an HAProxy is an
// app, stood in for like any other.
func (p *Pod) HAProxyContainers() []manifest.Container {
	var out []manifest.Container
	for _, c := range p.Containers {
		if IsHAProxy(c) && (p.Status == nil || p.Injected(c)) {
			out = append(out, c)
		}
	}
	return out
}

// Retargets are the status's "retarget" entries: a Service targetPort moved
// from the app port to a proxy port (proxy port -> app port). In a chain the
// app port of one is the proxy port of another.
func (p *Pod) Retargets() map[int]int {
	out := map[int]int{}
	if p.Status == nil {
		return out
	}
	for _, raw := range p.Status.Services {
		var e struct {
			Op        string `json:"op"`
			AppPort   int    `json:"appPort"`
			ProxyPort int    `json:"proxyPort"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Op == "retarget" && e.ProxyPort > 0 {
			out[e.ProxyPort] = e.AppPort
		}
	}
	return out
}

// Injected reports whether sidecarize added the container.
func (p *Pod) Injected(c manifest.Container) bool { return p.Status.Injected(c.Name()) }

// Load reads a YAML stream and returns the pods that have at least one
// HAProxy container.
func Load(data []byte) ([]*Pod, error) { return load(data, false) }

// LoadAll returns every pod template's pod, with or without HAProxy.
func LoadAll(data []byte) ([]*Pod, error) { return load(data, true) }

func load(data []byte, all bool) ([]*Pod, error) {
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	cms := map[string]map[string][]byte{} // ns/name -> data
	secrets := map[string]map[string][]byte{}
	for _, o := range objs {
		key := o.NamespaceOr("default") + "/" + o.Name()
		switch o.Kind() {
		case "ConfigMap":
			d := map[string][]byte{}
			for k, v := range manifest.Map(o, "data") {
				s, _ := v.(string)
				d[k] = []byte(s)
			}
			for k, v := range manifest.Map(o, "binaryData") {
				s, _ := v.(string)
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, fmt.Errorf("ConfigMap %s binaryData.%s: %w", key, k, err)
				}
				d[k] = b
			}
			cms[key] = d
		case "Secret":
			d := map[string][]byte{}
			for k, v := range manifest.Map(o, "data") {
				s, _ := v.(string)
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, fmt.Errorf("Secret %s data.%s: %w", key, k, err)
				}
				d[k] = b
			}
			for k, v := range manifest.Map(o, "stringData") {
				s, _ := v.(string)
				d[k] = []byte(s)
			}
			secrets[key] = d
		}
	}
	var pods []*Pod
	for i, o := range objs {
		tmpl := o.PodTemplate()
		if tmpl == nil {
			continue
		}
		ns := o.NamespaceOr("default")
		st, err := manifest.StatusOf(o)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", o.Kind(), o.Name(), err)
		}
		p := &Pod{
			Workload:   o.Kind() + "/" + ns + "/" + o.Name(),
			Namespace:  ns,
			Template:   tmpl,
			Status:     st,
			Containers: manifest.Containers(tmpl),
			ConfigMaps: map[string]map[string][]byte{},
			Secrets:    map[string]map[string][]byte{},
		}
		if !all && len(p.HAProxyContainers()) == 0 {
			continue
		}
		for k, v := range cms {
			if n, ok := strings.CutPrefix(k, ns+"/"); ok {
				p.ConfigMaps[n] = v
			}
		}
		for k, v := range secrets {
			if n, ok := strings.CutPrefix(k, ns+"/"); ok {
				p.Secrets[n] = v
			}
		}
		labels := manifest.Map(tmpl, "metadata", "labels")
		for _, s := range objs {
			// An ExternalName Service routes to no pod, whatever its selector.
			if s.Kind() != "Service" || s.NamespaceOr("default") != ns || manifest.Str(manifest.Map(s, "spec"), "type") == "ExternalName" {
				continue
			}
			sel := manifest.Map(s, "spec", "selector")
			if len(sel) == 0 || !selects(sel, labels) {
				continue
			}
			p.Services = append(p.Services, s)
			for j, o2 := range objs {
				t2 := o2.PodTemplate()
				// The pods of another namespace count too when the Service
				// or the workload has none: applied in the other's, they
				// meet (sidecarize leaves such a Service as it was).
				meets := o2.NamespaceOr("default") == ns || (s.Namespace() == "") != (o2.Namespace() == "")
				if t2 == nil || j == i || !meets || !selects(sel, manifest.Map(t2, "metadata", "labels")) {
					continue
				}
				if st2, err := manifest.StatusOf(o2); err == nil && st2 == nil {
					if p.Bystanders == nil {
						p.Bystanders = map[string][]string{}
					}
					p.Bystanders[s.Name()] = append(p.Bystanders[s.Name()], o2.Kind()+"/"+o2.Name())
				}
			}
		}
		pods = append(pods, p)
	}
	return pods, nil
}

// selects: the pod labels satisfy the Service selector.
func selects(sel, labels map[string]any) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || fmt.Sprint(lv) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// ContainerPort is a port a container declares.
type ContainerPort struct {
	Container string
	Name      string
	Port      int
	Protocol  string // TCP, UDP, SCTP
	Injected  bool
}

// Ports lists every declared container port of the pod.
func (p *Pod) Ports() []ContainerPort {
	var out []ContainerPort
	for _, c := range p.Containers {
		for _, pp := range manifest.Slice(c.M, "ports") {
			m, _ := pp.(map[string]any)
			n, ok := toInt(m["containerPort"])
			if !ok {
				continue
			}
			proto := manifest.Str(m, "protocol")
			if proto == "" {
				proto = "TCP"
			}
			out = append(out, ContainerPort{Container: c.Name(), Name: manifest.Str(m, "name"), Port: n, Protocol: proto, Injected: p.Injected(c)})
		}
	}
	return out
}

// AppPorts are where the app listens: the TCP ports its (not injected)
// containers declare, and the app ports sidecarize recorded in the status
// ("services" entries with an "appPort"), which a container need not declare.
func (p *Pod) AppPorts() []ContainerPort {
	var out []ContainerPort
	seen := map[int]bool{}
	app := ""
	for _, cp := range p.Ports() {
		if cp.Injected || cp.Protocol != "TCP" || seen[cp.Port] {
			continue
		}
		seen[cp.Port] = true
		out = append(out, cp)
	}
	for _, c := range p.Containers {
		if !p.Injected(c) && !c.Init {
			app = c.Name()
			break
		}
	}
	for _, cp := range p.Ports() {
		if cp.Injected {
			seen[cp.Port] = true // a proxy in a chain (e.g. Envoy -> HAProxy -> app)
		}
	}
	if p.Status != nil {
		for _, raw := range p.Status.Services {
			var e struct {
				AppPort int `json:"appPort"`
			}
			if json.Unmarshal(raw, &e) == nil && e.AppPort > 0 && !seen[e.AppPort] {
				seen[e.AppPort] = true
				out = append(out, ContainerPort{Container: app, Port: e.AppPort, Protocol: "TCP"})
			}
		}
	}
	return out
}

// ResolveTargetPort resolves a Service port's targetPort (number or name;
// defaults to port) against the pod's containers, as kube-proxy would.
func (p *Pod) ResolveTargetPort(svcPort map[string]any) (ContainerPort, error) {
	tp, ok := svcPort["targetPort"]
	if !ok || tp == nil {
		tp = svcPort["port"]
	}
	if n, ok := toInt(tp); ok {
		for _, cp := range p.Ports() {
			if cp.Port == n {
				return cp, nil
			}
		}
		// A numeric targetPort need not be declared; nothing names it.
		return ContainerPort{Port: n, Protocol: "TCP"}, nil
	}
	name := fmt.Sprint(tp)
	for _, cp := range p.Ports() {
		if cp.Name == name {
			return cp, nil
		}
	}
	return ContainerPort{}, fmt.Errorf("targetPort %q names no container port", name)
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		return int(x), x == float64(int(x))
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

// fileEntry is a file to write under the simulated root.
type fileEntry struct {
	rel  string // path under the container's root (absolute path in the pod)
	data []byte
	mode uint32
}

// mountFiles returns the files a container sees through its ConfigMap,
// Secret and projected volume mounts (items and subPath respected) and the
// directories of its emptyDir mounts.
func (p *Pod) mountFiles(c manifest.Container) (files []fileEntry, dirs []string, err error) {
	vols := map[string]map[string]any{}
	for _, v := range manifest.Slice(p.Template, "spec", "volumes") {
		m, _ := v.(map[string]any)
		vols[manifest.Str(m, "name")] = m
	}
	for _, vm := range manifest.Slice(c.M, "volumeMounts") {
		m, _ := vm.(map[string]any)
		vname, mountPath, subPath := manifest.Str(m, "name"), manifest.Str(m, "mountPath"), manifest.Str(m, "subPath")
		v, ok := vols[vname]
		if !ok {
			return nil, nil, fmt.Errorf("container %s mounts unknown volume %q", c.Name(), vname)
		}
		var content map[string][]byte // relative path in the volume -> data
		switch {
		case v["configMap"] != nil:
			content, err = p.projectSource(manifest.Map(v, "configMap"), p.ConfigMaps, "ConfigMap")
		case v["secret"] != nil:
			src := manifest.Map(v, "secret")
			src = map[string]any{"name": src["secretName"], "items": src["items"], "optional": src["optional"]}
			content, err = p.projectSource(src, p.Secrets, "Secret")
		case v["projected"] != nil:
			content = map[string][]byte{}
			for _, s := range manifest.Slice(v, "projected", "sources") {
				sm, _ := s.(map[string]any)
				var part map[string][]byte
				switch {
				case sm["configMap"] != nil:
					part, err = p.projectSource(manifest.Map(sm, "configMap"), p.ConfigMaps, "ConfigMap")
				case sm["secret"] != nil:
					part, err = p.projectSource(manifest.Map(sm, "secret"), p.Secrets, "Secret")
				}
				if err != nil {
					break
				}
				for k, d := range part {
					content[k] = d
				}
			}
		case v["emptyDir"] != nil:
			dirs = append(dirs, path.Join(mountPath))
			continue
		default:
			continue // not simulated (hostPath, PVC, ...): nothing to write
		}
		if err != nil {
			return nil, nil, fmt.Errorf("container %s volume %s: %w", c.Name(), vname, err)
		}
		keys := make([]string, 0, len(content))
		for k := range content {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rel := k
			if subPath != "" {
				if k == subPath {
					files = append(files, fileEntry{rel: mountPath, data: content[k], mode: 0o644})
					continue
				}
				r, ok := strings.CutPrefix(k, strings.TrimSuffix(subPath, "/")+"/")
				if !ok {
					continue
				}
				rel = r
			}
			files = append(files, fileEntry{rel: path.Join(mountPath, rel), data: content[k], mode: 0o644})
		}
		if subPath == "" {
			dirs = append(dirs, mountPath)
		}
	}
	return files, dirs, nil
}

// storeMu guards the Pods' ConfigMap and Secret stores: one Pod is started
// by parallel subtests (one per HAProxy version), and a simulated Secret
// is added to its store (a fresh-clone CI died of concurrent map writes).
var storeMu sync.Mutex

func (p *Pod) projectSource(src map[string]any, store map[string]map[string][]byte, kind string) (map[string][]byte, error) {
	name := manifest.Str(src, "name")
	storeMu.Lock()
	defer storeMu.Unlock()
	data, ok := store[name]
	if !ok {
		if opt, _ := src["optional"].(bool); opt {
			return map[string][]byte{}, nil
		}
		if kind != "Secret" {
			return nil, fmt.Errorf("%s %s/%s is not in the stream", kind, p.Namespace, name)
		}
		// A Secret from the cluster (certificates are never inline): a
		// self-signed TLS Secret stands in for it.
		var err error
		if data, err = simulatedTLSSecret(name); err != nil {
			return nil, err
		}
		store[name] = data
	}
	out := map[string][]byte{}
	items := manifest.Slice(src, "items")
	if len(items) == 0 {
		for k, v := range data {
			out[k] = v
		}
		return out, nil
	}
	for _, it := range items {
		m, _ := it.(map[string]any)
		k, pth := manifest.Str(m, "key"), manifest.Str(m, "path")
		d, ok := data[k]
		if !ok {
			return nil, fmt.Errorf("%s %s has no key %q", kind, name, k)
		}
		out[pth] = d
	}
	return out, nil
}
