package tracing_test

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns/tracing"
	"github.com/sidecarize/sidecarize/transform"
)

// Seed 2 demo 3 did by hand what the pattern does: its update/ manifests
// put an Envoy container (a custom image with the bootstrap of
// src/serviceN-proxy baked in) beside service1 and service2. Running the
// pattern on the demo's service1.yaml and service2.yaml (testdata/seed2-demo3)
// must give pods that behave the same: the Service reaches the app through
// Envoy, the app reaches service2 through Envoy, the same traffic
// directions and the same Zipkin collector. Both sides are compared as
// behaviour (Service → proxy port → listener → cluster endpoint), not as
// bytes, because these differences are intended:
var intendedDifferences = []string{
	"proxy image: stock envoyproxy/envoy with the bootstrap in a ConfigMap, not sixeyed/envoy-demo:serviceN-proxy with it baked in",
	"proxy container and ports: tracing-proxy with trace-proxy:10000 (the seed: proxy:8000); the Service's targetPort names trace-proxy",
	"the app's TARGET_HOST is 127.0.0.1:9000, not localhost:9000 (localhost may resolve to ::1, where Envoy does not listen)",
	"outbound listener on 127.0.0.1:9000 (the seed: 0.0.0.0:9000, reachable from other pods)",
	"the app keeps its declared port 8080 (the update dropped it)",
	"Envoy runs as a native sidecar (initContainers, restartPolicy Always) with probes, a restricted securityContext and resources",
	"admin on 127.0.0.1:9901 (the seed: 0.0.0.0:8001, reachable from outside the pod); /stats/prometheus on 9902, a tracing-metrics Service port and a ServiceMonitor",
	"Services: the update renamed service1's Service (envoy-demo, LoadBalancer → service1, ClusterIP) for its separate front-proxy; the pattern keeps the user's Services and moves their targetPort",
	"request ids at the edge: service1's Envoy is the edge (use_remote_address), where the seed ran a separate front proxy",
	"outbound route matches every path (the seed: /svc/2 only); no per-route decorator (operation names come from the request)",
	"Zipkin through collector_service with the full URL (collector_cluster/collector_endpoint are slated for deprecation), 128-bit trace ids",
	"route timeouts 60s; STRICT_DNS clusters prefer IPv4",
}

// talkUpdate is the talk's service1 and service2 after demo 3 (seed 2 in
// demo/README.md), which did by hand what the pattern does: a "proxy"
// container (sixeyed/envoy-demo:serviceN-proxy, its Envoy bootstrap baked
// in, see talkEnvoy) on port 8000 ("proxy") beside each app, the Services'
// targetPort moved to it, service1's TARGET_HOST pointed at its proxy's
// outbound listener (localhost:9000); the apps' own ports were dropped and
// service1's Service renamed for a separate front proxy. It returns them as
// a stream, for the same readers as the pattern's output.
func talkUpdate(t *testing.T) []byte {
	t.Helper()
	svc := func(name string) corev1.Service {
		s := corev1.Service{Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 8000, TargetPort: intstr.FromString("proxy")}},
		}}
		s.APIVersion, s.Kind, s.Name = "v1", "Service", name
		return s
	}
	deploy := func(name string, env []corev1.EnvVar) appsv1.Deployment {
		labels := map[string]string{"app": name}
		d := appsv1.Deployment{Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "app", Image: "sixeyed/envoy-demo:" + name, Env: env},
					{Name: "proxy", Image: "sixeyed/envoy-demo:" + name + "-proxy", Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 8000}}},
				}},
			},
		}}
		d.APIVersion, d.Kind, d.Name = "apps/v1", "Deployment", name
		return d
	}
	var stream []byte
	for _, o := range []any{
		svc("service1"), deploy("service1", []corev1.EnvVar{{Name: "TARGET_HOST", Value: "localhost:9000"}}),
		svc("service2"), deploy("service2", nil),
	} {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(append(stream, "---\n"...), b...)
	}
	return stream
}

// talkEnvoy records what matters of the Envoy bootstraps seed 2 demo 3
// baked into its serviceN-proxy images (the talk's
// src/serviceN-proxy/serviceN-envoy-jaeger.yaml), as loadEnvoy reads a
// bootstrap: admin on every interface; an inbound listener on 8000 to the
// app on 127.0.0.1:8080; for service1, an outbound listener on 9000 to
// service2:8000 over h2; every listener traced to Jaeger's Zipkin endpoint
// (HTTP_JSON, separate client/server span ids).
var talkEnvoy = map[string]envoyModel{
	"service1": {
		admin: "0.0.0.0",
		listeners: map[int]listenerInfo{
			8000: {address: "0.0.0.0", direction: "INBOUND", cluster: "local_service", tracer: tracerInfo{provider: "envoy.tracers.zipkin", collector: "jaeger-collector:9411", path: "/api/v2/spans", version: "HTTP_JSON", shared: false}},
			9000: {address: "0.0.0.0", direction: "OUTBOUND", cluster: "service2", tracer: tracerInfo{provider: "envoy.tracers.zipkin", collector: "jaeger-collector:9411", path: "/api/v2/spans", version: "HTTP_JSON", shared: false}},
		},
		clusters: map[string]clusterInfo{
			"jaeger":        {endpoint: "jaeger-collector:9411", h2: false},
			"local_service": {endpoint: "127.0.0.1:8080", h2: false},
			"service2":      {endpoint: "service2:8000", h2: true},
		},
	},
	"service2": {
		admin: "0.0.0.0",
		listeners: map[int]listenerInfo{
			8000: {address: "0.0.0.0", direction: "INBOUND", cluster: "local_service", tracer: tracerInfo{provider: "envoy.tracers.zipkin", collector: "jaeger-collector:9411", path: "/api/v2/spans", version: "HTTP_JSON", shared: false}},
		},
		clusters: map[string]clusterInfo{
			"jaeger":        {endpoint: "jaeger-collector:9411", h2: false},
			"local_service": {endpoint: "127.0.0.1:8080", h2: false},
		},
	},
}

func TestSeed2Demo3Equivalence(t *testing.T) {
	dir := filepath.Join("testdata", "seed2-demo3")
	input, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := golden.Engine(t, dir, []transform.Pattern{tracing.Pattern{}}).Process("input.yaml", input)
	if err != nil {
		t.Fatal(err)
	}
	ours := golden.Objects(t, out)
	seed := golden.Objects(t, talkUpdate(t))

	for _, name := range []string{"service1", "service2"} {
		t.Run(name, func(t *testing.T) {
			seedEnvoy := talkEnvoy[name]
			cm := ours["ConfigMap/"+name+"-tracing"]
			if cm == nil {
				t.Fatalf("no ConfigMap %s-tracing", name)
			}
			ourEnvoy := loadEnvoy(t, cm.GetDataMap()[tracing.ConfigKey])

			seedPod := podOf(t, seed["Deployment/"+name].MustString())
			ourPod := podOf(t, ours["Deployment/"+name].MustString())

			// The app container: same name, image and env var names.
			sApp, oApp := seedPod.Containers[0], ourPod.Containers[0]
			if sApp.Name != oApp.Name || sApp.Image != oApp.Image {
				t.Errorf("app container: ours %s (%s), seed %s (%s)", oApp.Name, oApp.Image, sApp.Name, sApp.Image)
			}
			if len(sApp.Env) != len(oApp.Env) {
				t.Errorf("app env: ours %v, seed %v", oApp.Env, sApp.Env)
			}

			// Exactly one proxy container was added, running Envoy.
			if len(seedPod.Containers) != 2 {
				t.Fatalf("seed pod: want app + proxy, got %d containers", len(seedPod.Containers))
			}
			if len(ourPod.Containers) != 1 || len(ourPod.InitContainers) != 1 || !strings.HasPrefix(ourPod.InitContainers[0].Image, "envoyproxy/envoy:") {
				t.Fatalf("ours: want the app and one Envoy native sidecar, got containers %v, initContainers %v", names(ourPod.Containers), names(ourPod.InitContainers))
			}
			sProxy, oProxy := seedPod.Containers[1], ourPod.InitContainers[0]

			// Inbound: the Service port reaches the app through Envoy.
			sIn := inboundPath(t, seed, name, sProxy, seedEnvoy)
			oIn := inboundPath(t, ours, name, oProxy, ourEnvoy)
			if sIn.endpoint != oIn.endpoint || sIn.direction != oIn.direction || sIn.endpoint != "127.0.0.1:8080" {
				t.Errorf("inbound: ours %+v, seed %+v", oIn, sIn)
			}
			if sIn.tracer != oIn.tracer {
				t.Errorf("inbound tracer: ours %+v, seed %+v", oIn.tracer, sIn.tracer)
			}

			// Outbound: every env var that points at a local port in the seed
			// points at a loopback listener in ours, reaching the same
			// upstream the same way.
			for i, se := range sApp.Env {
				host, port, ok := loopback(se.Value)
				if !ok {
					continue
				}
				oe := oApp.Env[i]
				ohost, oport, ok := loopback(oe.Value)
				if oe.Name != se.Name || !ok || oport != port || ohost != "127.0.0.1" {
					t.Errorf("env %s: ours %q, seed %q: want 127.0.0.1 and the same port", se.Name, oe.Value, se.Value)
					continue
				}
				if host != "localhost" {
					t.Errorf("seed env %s: %q (the listed difference is localhost → 127.0.0.1)", se.Name, se.Value)
				}
				sl, ol := seedEnvoy.listeners[port], ourEnvoy.listeners[oport]
				if sl.cluster == "" || ol.cluster == "" {
					t.Fatalf("env %s: no listener on %d (seed %+v, ours %+v)", se.Name, port, sl, ol)
				}
				if ol.address != "127.0.0.1" {
					t.Errorf("outbound listener on %s, want 127.0.0.1", ol.address)
				}
				sc, oc := seedEnvoy.clusters[sl.cluster], ourEnvoy.clusters[ol.cluster]
				if sc != oc || sl.direction != ol.direction || sl.tracer != ol.tracer {
					t.Errorf("outbound %s: ours %+v via %+v, seed %+v via %+v", se.Name, ol, oc, sl, sc)
				}
				t.Logf("%s: %s=%s → %s (%+v), as the seed's %s", name, oe.Name, oe.Value, ol.cluster, oc, se.Value)
			}
			// Both proxies have as many traced listeners.
			if s, o := seedEnvoy.traced(), ourEnvoy.traced(); s != o {
				t.Errorf("traced listeners: ours %d, seed %d", o, s)
			}
			// Intended: admin only on loopback in ours.
			if ourEnvoy.admin != "127.0.0.1" || seedEnvoy.admin != "0.0.0.0" {
				t.Errorf("admin: ours %s, seed %s", ourEnvoy.admin, seedEnvoy.admin)
			}
		})
	}
	for _, d := range intendedDifferences {
		t.Log("intended difference:", d)
	}
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func podOf(t *testing.T, doc string) corev1.PodSpec {
	t.Helper()
	var d struct {
		Spec struct {
			Template struct {
				Spec corev1.PodSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec
}

// loopback parses host:port values that point inside the pod.
func loopback(v string) (string, int, bool) {
	h, p, err := net.SplitHostPort(v)
	if err != nil || (h != "localhost" && h != "127.0.0.1") {
		return "", 0, false
	}
	n, err := strconv.Atoi(p)
	return h, n, err == nil
}

type path struct {
	endpoint, direction string
	tracer              tracerInfo
}

// inboundPath follows the Service selecting the pods: its targetPort names
// a port of the proxy container, where a listener routes to a cluster.
func inboundPath(t *testing.T, objs map[string]*kyaml.RNode, app string, proxy corev1.Container, e envoyModel) path {
	t.Helper()
	var svc corev1.Service
	for k, n := range objs {
		if !strings.HasPrefix(k, "Service/") {
			continue
		}
		if err := yaml.Unmarshal([]byte(n.MustString()), &svc); err != nil {
			t.Fatal(err)
		}
		if svc.Spec.Selector["app"] == app {
			break
		}
		svc = corev1.Service{}
	}
	if len(svc.Spec.Ports) == 0 {
		t.Fatalf("no Service selects app=%s", app)
	}
	tp := svc.Spec.Ports[0].TargetPort
	port := -1
	for _, p := range proxy.Ports {
		if p.Name == tp.String() || strconv.Itoa(int(p.ContainerPort)) == tp.String() {
			port = int(p.ContainerPort)
		}
	}
	if port < 0 {
		t.Fatalf("Service %s targetPort %s is no port of the proxy container %s", svc.Name, tp.String(), proxy.Name)
	}
	l, ok := e.listeners[port]
	if !ok {
		t.Fatalf("Service %s → proxy port %d: no Envoy listener there", svc.Name, port)
	}
	return path{endpoint: e.clusters[l.cluster].endpoint, direction: l.direction, tracer: l.tracer}
}

// envoyModel is what matters of a bootstrap, read generically so that the
// seed's hand-written YAML and ours compare.
type envoyModel struct {
	admin     string
	listeners map[int]listenerInfo
	clusters  map[string]clusterInfo
}

func (e envoyModel) traced() int {
	n := 0
	for _, l := range e.listeners {
		if l.tracer != (tracerInfo{}) {
			n++
		}
	}
	return n
}

type listenerInfo struct {
	address, direction, cluster string
	tracer                      tracerInfo
}

type clusterInfo struct {
	endpoint string
	h2       bool
}

type tracerInfo struct {
	provider, collector, path, version string
	shared                             bool
}

type obj = map[string]any

func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.Itoa(int(x))
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func sockAddr(v any) (string, int) {
	sa := get(v, "socket_address")
	p, _ := strconv.Atoi(str(get(sa, "port_value")))
	return str(get(sa, "address")), p
}

func loadEnvoy(t *testing.T, cfg string) envoyModel {
	t.Helper()
	var b obj
	if err := yaml.Unmarshal([]byte(cfg), &b); err != nil {
		t.Fatal(err)
	}
	e := envoyModel{listeners: map[int]listenerInfo{}, clusters: map[string]clusterInfo{}}
	e.admin, _ = sockAddr(get(b, "admin", "address"))
	for _, c := range list(get(b, "static_resources", "clusters")) {
		ci := clusterInfo{}
		for _, le := range list(get(c, "load_assignment", "endpoints")) {
			for _, lb := range list(get(le, "lb_endpoints")) {
				h, p := sockAddr(get(lb, "endpoint", "address"))
				ci.endpoint = net.JoinHostPort(h, strconv.Itoa(p))
			}
		}
		ci.h2 = get(c, "http2_protocol_options") != nil
		if o := get(c, "typed_extension_protocol_options", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "explicit_http_config", "http2_protocol_options"); o != nil {
			ci.h2 = true
		}
		e.clusters[str(get(c, "name"))] = ci
	}
	for _, l := range list(get(b, "static_resources", "listeners")) {
		h, p := sockAddr(get(l, "address"))
		li := listenerInfo{address: h, direction: str(get(l, "traffic_direction"))}
		for _, fc := range list(get(l, "filter_chains")) {
			for _, f := range list(get(fc, "filters")) {
				tc := get(f, "typed_config")
				for _, vh := range list(get(tc, "route_config", "virtual_hosts")) {
					for _, r := range list(get(vh, "routes")) {
						if c := str(get(r, "route", "cluster")); c != "" && li.cluster == "" {
							li.cluster = c
						}
					}
				}
				if pr := get(tc, "tracing", "provider"); pr != nil {
					li.tracer = readTracer(t, pr, e.clusters)
				}
			}
		}
		e.listeners[p] = li
	}
	return e
}

// readTracer reduces both ways of configuring Zipkin to the collector's
// endpoint and path.
func readTracer(t *testing.T, pr any, clusters map[string]clusterInfo) tracerInfo {
	t.Helper()
	tc := get(pr, "typed_config")
	ti := tracerInfo{provider: str(get(pr, "name")), version: str(get(tc, "collector_endpoint_version"))}
	if s, ok := get(tc, "shared_span_context").(bool); ok {
		ti.shared = s
	} else {
		ti.shared = true // Envoy's default
	}
	if uri := str(get(tc, "collector_service", "http_uri", "uri")); uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		ti.collector, ti.path = u.Host, u.Path
		if c := clusters[str(get(tc, "collector_service", "http_uri", "cluster"))]; c.endpoint != u.Host {
			t.Errorf("collector cluster endpoint %s, URL host %s", c.endpoint, u.Host)
		}
	} else {
		ti.collector = clusters[str(get(tc, "collector_cluster"))].endpoint
		ti.path = str(get(tc, "collector_endpoint"))
	}
	return ti
}
