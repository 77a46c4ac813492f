package patterns_test

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/kio"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// TestPropertyRealWorldShapes generates streams from the shapes real
// manifests have — every workload kind, shared Services, null/empty/flow
// metadata, UDP/TLS/gRPC ports, ports that take the defaults, ExternalName
// and selector-less Services, NetworkPolicies, hostNetwork and meshed pods —
// and runs `-p monitor` (and monitor+tls) over them with default options:
// never a panic nor an error (broad selection never aborts), idempotent,
// uninject gives back the input, every named targetPort resolves in every
// pod its Service selects, and names and ports are unique and within
// Kubernetes' limits. Seeds are fixed: a failure names its seed.
func TestPropertyRealWorldShapes(t *testing.T) {
	n := 40 // ~20 s here; PROPERTY_SEEDS=n runs more
	if v, err := strconv.Atoi(os.Getenv("PROPERTY_SEEDS")); err == nil && v > 0 {
		n = v
	} else if testing.Short() {
		n = 10
	}
	actions := map[string]int{}
	for seed := int64(1); seed <= int64(n); seed++ {
		in := genStream(rand.New(rand.NewSource(seed)))
		for _, run := range []struct {
			ps     []string
			scrape string
		}{{[]string{"monitor"}, "serviceMonitor"}, {[]string{"monitor", "tls"}, "serviceMonitor"}, {[]string{"monitor"}, "annotations"}} {
			name := fmt.Sprintf("seed%d/%s/%s", seed, strings.Join(run.ps, "+"), run.scrape)
			for k, v := range checkProperties(t, name, in, run.ps, run.scrape) {
				actions[k] += v
			}
		}
	}
	// The generator reaches both sides: injections and reasoned skips.
	t.Logf("actions over %d streams: %v", n, actions)
	if actions["injected"] < n || actions["skipped"] == 0 {
		t.Errorf("the generated streams do not exercise the engine: %v", actions)
	}
}

func checkProperties(t *testing.T, name string, in []byte, ps []string, scrape string) map[string]int {
	t.Helper()
	flags := transform.Flags{Patterns: ps, Set: []string{"monitor.scrape=" + scrape}}
	for _, p := range ps {
		flags.Set = append(flags.Set, required[p]...)
	}
	e := &transform.Engine{Patterns: patterns.All(), Version: "test", Flags: flags}
	var out []byte
	var rep *transform.Report
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: panic: %v\ninput:\n%s", name, r, in)
			}
		}()
		out, rep, err = e.Process("gen.yaml", in)
	}()
	if err != nil {
		t.Errorf("%s: %v\ninput:\n%s", name, err, in)
		return nil
	}
	actions := map[string]int{}
	for _, w := range rep.Workloads {
		actions[string(w.Action)]++
	}
	again, _, err := e.Process("out.yaml", out)
	if err != nil {
		t.Errorf("%s: second run: %v", name, err)
		return nil
	}
	if d := cmp.Diff(string(out), string(again)); d != "" {
		t.Errorf("%s: not idempotent (-first +second):\n%s\ninput:\n%s", name, d, in)
	}
	un := &transform.Engine{Patterns: patterns.All(), Version: "test", Uninject: true}
	back, _, err := un.Process("out.yaml", out)
	if err != nil {
		t.Errorf("%s: uninject: %v", name, err)
		return nil
	}
	if d := cmp.Diff(golden.Normalize(t, in), golden.Normalize(t, back)); d != "" {
		t.Errorf("%s: uninject does not give back the input (-in +back):\n%s", name, d)
	}
	// A targetPort the input already left unresolved is the input's.
	broken := map[string]bool{}
	for _, u := range checkStream(t, name, in) {
		broken[u] = true
	}
	for _, u := range checkStream(t, name, out) {
		if !broken[u] {
			t.Errorf("%s: %s\ninput:\n%s", name, u, in)
		}
	}
	for _, u := range checkPolicies(t, out) {
		t.Errorf("%s: %s\ninput:\n%s", name, u, in)
	}
	return actions
}

// checkPolicies: a NetworkPolicy ingress rule that admits the app port a
// proxy now fronts admits what is scraped on that pod: the port its
// prometheus.io/port names, and the ports the Service ports sidecarize
// added (a ServiceMonitor's) target.
func checkPolicies(t *testing.T, out []byte) []string {
	t.Helper()
	objs := kubectlObjects(t, out)
	str := func(m map[string]any, path ...string) string {
		for i, p := range path {
			v, _ := m[p]
			if i == len(path)-1 {
				s, _ := v.(string)
				return s
			}
			m, _ = v.(map[string]any)
		}
		return ""
	}
	sub := func(m map[string]any, path ...string) map[string]any {
		for _, p := range path {
			m, _ = m[p].(map[string]any)
		}
		return m
	}
	list := func(m map[string]any, key string) []map[string]any {
		var out []map[string]any
		l, _ := m[key].([]any)
		for _, x := range l {
			if xm, ok := x.(map[string]any); ok {
				out = append(out, xm)
			}
		}
		return out
	}
	within := func(sel, labels map[string]any) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return true
	}
	// admits: does an ingress rule admit TCP port num (or its name)?
	admits := func(rule map[string]any, num float64, name string) bool {
		ports := list(rule, "ports")
		ok := len(ports) == 0
		for _, p := range ports {
			pr, _ := p["protocol"].(string)
			lo, isNum := p["port"].(float64)
			hi, hasEnd := p["endPort"].(float64)
			if !hasEnd {
				hi = lo
			}
			ok = ok || (pr == "" || pr == "TCP") && (p["port"] == nil || p["port"] == name || isNum && num >= lo && num <= hi)
		}
		return ok
	}
	var problems []string
	for _, o := range objs {
		var status struct {
			Services []struct {
				Op      string  `json:"op"`
				AppPort float64 `json:"appPort"`
			} `json:"services"`
		}
		raw := str(o, "metadata", "annotations", transform.AnnotationStatus)
		if raw == "" || o["kind"] == "Service" || o["kind"] == "NetworkPolicy" || sigyaml.Unmarshal([]byte(raw), &status) != nil {
			continue
		}
		tmpl := sub(o, "spec", "template")
		if o["kind"] == "Pod" {
			tmpl = o
		} else if o["kind"] == "CronJob" {
			tmpl = sub(o, "spec", "jobTemplate", "spec", "template")
		}
		ns, _ := sub(o, "metadata")["namespace"].(string)
		labels := sub(tmpl, "metadata", "labels")
		ports := map[string]float64{}
		for _, kind := range []string{"initContainers", "containers"} {
			for _, c := range list(sub(tmpl, "spec"), kind) {
				for _, p := range list(c, "ports") {
					n, _ := p["name"].(string)
					ports[n], _ = p["containerPort"].(float64)
				}
			}
		}
		type port struct {
			num  float64
			name string
		}
		var scraped []port
		if str(tmpl, "metadata", "annotations", "prometheus.io/scrape") == "true" {
			n, _ := strconv.Atoi(str(tmpl, "metadata", "annotations", "prometheus.io/port"))
			scraped = append(scraped, port{float64(n), ""})
		}
		for _, svc := range objs {
			var added struct {
				Ports []string `json:"ports"`
			}
			sel := sub(svc, "spec", "selector")
			if svc["kind"] != "Service" || len(sel) == 0 || !within(sel, labels) || sigyaml.Unmarshal([]byte(str(svc, "metadata", "annotations", transform.AnnotationStatus)), &added) != nil {
				continue
			}
			for _, sp := range list(sub(svc, "spec"), "ports") {
				if tp, _ := sp["targetPort"].(string); slices.Contains(added.Ports, fmt.Sprint(sp["name"])) && ports[tp] != 0 {
					scraped = append(scraped, port{ports[tp], tp})
				}
			}
		}
		for _, np := range objs {
			npNS, _ := sub(np, "metadata")["namespace"].(string)
			if np["kind"] != "NetworkPolicy" || npNS != ns || !within(sub(np, "spec", "podSelector", "matchLabels"), labels) {
				continue
			}
			for i, rule := range list(sub(np, "spec"), "ingress") {
				for _, e := range status.Services {
					if e.Op != "retarget" || !admits(rule, e.AppPort, "") {
						continue
					}
					for _, sp := range scraped {
						if !admits(rule, sp.num, sp.name) {
							problems = append(problems, fmt.Sprintf("NetworkPolicy %s ingress[%d] admits app port %v of %s/%s but not its scraped port %v", str(np, "metadata", "name"), i, e.AppPort, o["kind"], str(o, "metadata", "name"), sp.num))
						}
					}
				}
			}
		}
	}
	return problems
}

// checkStream: per pod, unique container, volume, port names and numbers
// within limits; generated names are DNS labels. It returns the named
// targetPorts that do not resolve in a pod their Service selects.
func checkStream(t *testing.T, name string, out []byte) []string {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(out), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	type pod struct {
		ref, ns string
		labels  map[string]string
		names   map[string]bool
	}
	var pods []pod
	var svcs []corev1.Service
	for _, n := range nodes {
		js, err := n.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if n.GetLabels()["app.kubernetes.io/managed-by"] == "sidecarize" && len(n.GetName()) > 63 {
			t.Errorf("%s: generated %s %q longer than 63", name, n.GetKind(), n.GetName())
		}
		var spec *corev1.PodSpec
		var labels map[string]string
		switch n.GetKind() {
		case "Service":
			var s corev1.Service
			if err := sigyaml.Unmarshal(js, &s); err != nil {
				t.Fatal(err)
			}
			svcs = append(svcs, s)
			continue
		case "Pod":
			var p corev1.Pod
			if err := sigyaml.Unmarshal(js, &p); err != nil {
				t.Fatal(err)
			}
			spec, labels = &p.Spec, p.Labels
		case "CronJob":
			var c struct {
				Spec struct {
					JobTemplate struct {
						Spec struct {
							Template corev1.PodTemplateSpec `json:"template"`
						} `json:"spec"`
					} `json:"jobTemplate"`
				} `json:"spec"`
			}
			if err := sigyaml.Unmarshal(js, &c); err != nil {
				t.Fatal(err)
			}
			spec, labels = &c.Spec.JobTemplate.Spec.Template.Spec, c.Spec.JobTemplate.Spec.Template.Labels
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job":
			var w struct {
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			}
			if err := sigyaml.Unmarshal(js, &w); err != nil {
				t.Fatal(err)
			}
			spec, labels = &w.Spec.Template.Spec, w.Spec.Template.Labels
		default:
			continue
		}
		p := pod{ref: n.GetKind() + "/" + n.GetName(), ns: n.GetNamespace(), labels: labels, names: map[string]bool{}}
		cnames, nums := map[string]bool{}, map[int32]bool{}
		for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
			if cnames[c.Name] || len(c.Name) > 63 {
				t.Errorf("%s: %s: container %q twice or too long", name, p.ref, c.Name)
			}
			cnames[c.Name] = true
			for _, cp := range c.Ports {
				if nums[cp.ContainerPort] && !spec.HostNetwork {
					t.Errorf("%s: %s: port %d twice", name, p.ref, cp.ContainerPort)
				}
				nums[cp.ContainerPort] = true
				if cp.Name != "" {
					if p.names[cp.Name] || len(cp.Name) > 15 {
						t.Errorf("%s: %s: port name %q twice or longer than 15", name, p.ref, cp.Name)
					}
					p.names[cp.Name] = true
				}
			}
		}
		vols := map[string]bool{}
		for _, v := range spec.Volumes {
			if vols[v.Name] {
				t.Errorf("%s: %s: volume %q twice", name, p.ref, v.Name)
			}
			vols[v.Name] = true
		}
		pods = append(pods, p)
	}
	var unresolved []string
	for _, s := range svcs {
		if s.Spec.Type == corev1.ServiceTypeExternalName || len(s.Spec.Selector) == 0 {
			continue
		}
		for _, p := range pods {
			match := p.ns == s.Namespace
			for k, v := range s.Spec.Selector {
				match = match && p.labels[k] == v
			}
			if !match {
				continue
			}
			for _, sp := range s.Spec.Ports {
				if sp.TargetPort.Type == 1 && !p.names[sp.TargetPort.StrVal] {
					unresolved = append(unresolved, fmt.Sprintf("Service %s port %s: targetPort %s is not a port of %s", s.Name, sp.Name, sp.TargetPort.StrVal, p.ref))
				}
			}
		}
	}
	return unresolved
}

// genStream builds one stream: a few apps (each a workload of some kind
// with some ports and metadata shapes), Services over one or several of
// them, and NetworkPolicies.
func genStream(r *rand.Rand) []byte {
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	var docs []string
	apps := 1 + r.Intn(4)
	type app struct{ name, label, port string }
	var made []app
	for i := 0; i < apps; i++ {
		a := app{name: fmt.Sprintf("app%d", i), label: pick("web", "api", fmt.Sprintf("a%d", i))}
		// Ports: a shape from the real world each.
		var ports []string
		used := map[int]bool{}
		for j := 0; j < 1+r.Intn(3); j++ {
			num := []int{8080, 9080, 9101, 9102, 8443, 50051, 5432, 53, 6443, 3000}[r.Intn(10)]
			if used[num] {
				continue
			}
			used[num] = true
			name := pick("", "http", "grpc", "https", "tcp-db", "metrics", "mon-proxy", "dns", "h2c")
			proto := pick("", "", "", "UDP")
			p := fmt.Sprintf("containerPort: %d", num)
			if name != "" && !strings.Contains(strings.Join(ports, " "), "name: "+name+",") {
				p = "name: " + name + ", " + p
			}
			if proto != "" {
				p += ", protocol: " + proto
			}
			ports = append(ports, "{"+p+"}")
			if a.port == "" && proto == "" {
				a.port = fmt.Sprint(num)
			}
		}
		annotations := pick("", "      annotations:\n", "      annotations: {}\n", "      annotations:\n        {}\n", "      annotations: {team: x}\n")
		volumes := pick("", "      volumes:\n", "      volumes: []\n", "      volumes: [{name: data, emptyDir: {}}]\n")
		extra := pick("", "", "", "      hostNetwork: true\n", "      hostNetwork: false\n")
		sidecar := pick("", "", "", "      - {name: istio-proxy, image: \"docker.io/istio/proxyv2:1.24.0\"}\n", "      - {name: monitor-proxy, image: \"example.com/own:1\"}\n")
		podSpec := fmt.Sprintf("      containers:\n      - name: main\n        image: example.com/%s:1.0\n        ports: [%s]\n%s%s%s",
			a.name, strings.Join(ports, ", "), sidecar, volumes, extra)
		labels := fmt.Sprintf("{app: %s, id: %s}", a.label, a.name)
		tmpl := fmt.Sprintf("    metadata:\n      labels: %s\n%s    spec:\n%s", labels, annotations, podSpec)
		meta := pick("metadata: {name: %s}", "metadata:\n  name: %s\n  annotations:\n  labels:", "metadata:\n  name: %s\n  labels: {}")
		meta = fmt.Sprintf(meta, a.name)
		switch kind := pick("Deployment", "StatefulSet", "DaemonSet", "Pod", "ReplicationController", "Job", "CronJob", "ReplicaSet"); kind {
		case "Pod":
			docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels: %s\n%sspec:\n%s",
				a.name, labels, strings.ReplaceAll(annotations, "      ", "  "), indent(podSpec, -4)))
		case "ReplicationController":
			docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ReplicationController\n%s\nspec:\n  selector: {id: %s}\n  template:\n%s", meta, a.name, tmpl))
		case "Job":
			docs = append(docs, fmt.Sprintf("apiVersion: batch/v1\nkind: Job\n%s\nspec:\n  template:\n%s", meta, strings.Replace(tmpl, "    spec:\n", "    spec:\n      restartPolicy: Never\n", 1)))
		case "CronJob":
			docs = append(docs, fmt.Sprintf("apiVersion: batch/v1\nkind: CronJob\n%s\nspec:\n  schedule: \"@hourly\"\n  jobTemplate:\n    spec:\n      template:\n%s", meta, indent(strings.Replace(tmpl, "    spec:\n", "    spec:\n      restartPolicy: Never\n", 1), 4)))
		default:
			docs = append(docs, fmt.Sprintf("apiVersion: apps/v1\nkind: %s\n%s\nspec:\n  selector: {matchLabels: {id: %s}}\n  template:\n%s", kind, meta, a.name, tmpl))
		}
		made = append(made, a)
	}
	// Services: by a shared label (several workloads), by one, ExternalName,
	// selector-less.
	for i := 0; i < 1+r.Intn(3); i++ {
		a := made[r.Intn(len(made))]
		sel := fmt.Sprintf("{app: %s}", a.label)
		if r.Intn(2) == 0 {
			sel = fmt.Sprintf("{id: %s}", a.name)
		}
		target := a.port
		if target == "" {
			target = "8080"
		}
		if r.Intn(3) == 0 {
			target = pick("http", "grpc", "metrics")
		}
		smeta := pick("metadata: {name: svc%d}", "metadata:\n  name: svc%d\n  annotations:\n  labels:", "metadata:\n  name: svc%d\n  annotations: {}")
		smeta = fmt.Sprintf(smeta, i)
		portName := pick("http", "metrics", "grpc", "https", "tcp")
		switch r.Intn(6) {
		case 0:
			docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Service\n%s\nspec:\n  type: ExternalName\n  externalName: x.example.com\n  selector: %s", smeta, sel))
		case 1:
			docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Service\n%s\nspec:\n  ports: [{port: 80, targetPort: %s}]", smeta, target))
		default:
			docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Service\n%s\nspec:\n  selector: %s\n  ports:\n  - {name: %s, port: 80, targetPort: %s}\n  - {name: metrics-own, port: 9101, targetPort: 9101}", smeta, sel, portName, target))
		}
	}
	if r.Intn(2) == 0 {
		a := made[r.Intn(len(made))]
		docs = append(docs, fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec:\n  podSelector: {matchLabels: {id: %s}}\n  ingress:\n  - ports: [{port: %s}]\n  - from: [{podSelector: {}}]", a.name, orDefault(a.port, "8080")))
	}
	return []byte(strings.Join(docs, "\n---\n") + "\n")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// indent shifts every non-empty line by n spaces (n < 0: removes).
func indent(s string, n int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" {
			continue
		}
		if n >= 0 {
			lines[i] = strings.Repeat(" ", n) + l
		} else {
			lines[i] = strings.TrimPrefix(l, strings.Repeat(" ", -n))
		}
	}
	return strings.Join(lines, "\n")
}
