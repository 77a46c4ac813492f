package demo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

// talkBefore records, field by field, the talk's manifests before its
// demos: widgetario/before/ was written for this repository and must
// describe the same workloads (images, ports, env, Services).
var talkBefore = map[string]map[string]string{
	"Deployment/web": {
		"container[web].image":          "widgetario/web:dotnet-serilog",
		"container[web].placement":      "containers",
		"container[web].ports[80]":      "declared",
		"container[web].ports[80].name": "web",
		"labels.app":                    "web",
	},
	"Deployment/products-db": {
		"container[db].image":            "widgetario/products-db:postgres",
		"container[db].placement":        "containers",
		"container[db].ports[5432]":      "declared",
		"container[db].ports[5432].name": "db",
		"labels.app":                     "products-db",
	},
	"Deployment/service1": {
		"container[app].env[TARGET_HOST]": "service2:8000",
		"container[app].image":            "sixeyed/envoy-demo:service1",
		"container[app].placement":        "containers",
		"container[app].ports[8080]":      "declared",
		"container[app].ports[8080].name": "app",
		"labels.app":                      "service1",
	},
	"Deployment/service2": {
		"container[app].image":            "sixeyed/envoy-demo:service2",
		"container[app].placement":        "containers",
		"container[app].ports[8080]":      "declared",
		"container[app].ports[8080].name": "app",
		"labels.app":                      "service2",
	},
	"Service/widgetario-web": {
		"ports[80].targetPort": "web",
		"selector.app":         "web",
	},
	"Service/products-db": {
		"ports[5432].targetPort": "db",
		"selector.app":           "products-db",
		"type":                   "ClusterIP",
	},
	"Service/envoy-demo": {
		"ports[8000].targetPort": "app",
		"selector.app":           "service1",
		"type":                   "LoadBalancer",
	},
	"Service/service2": {
		"ports[8000].targetPort": "app",
		"selector.app":           "service2",
		"type":                   "ClusterIP",
	},
}

func TestWidgetarioBeforeIsTheTalks(t *testing.T) {
	ours := objects(t, "widgetario/before")
	if len(ours) != len(talkBefore) {
		t.Errorf("widgetario/before has %d objects, the talk %d", len(ours), len(talkBefore))
	}
	for key, want := range talkBefore {
		o := ours[key]
		if o == nil {
			t.Errorf("%s: missing from widgetario/before", key)
			continue
		}
		var got map[string]string
		if strings.HasPrefix(key, "Service/") {
			got = flatService(o, false)
		} else {
			got = flatPod(template(o), nil, nil)
		}
		diff(key+"/", want, got, func(k, w, g string) {
			t.Errorf("%s: the talk has %s, widgetario/before %s", k, w, g)
		})
	}
}

// talkAfter records, field by field, the talk's manifests after its demos
// 1–3 (seed 2 in demo/README.md), which made these changes by hand: the
// images, ports, env, mounts and volumes, and the sidecars it added. Keys
// are those of flatPod and flatService; containers and volumes carry the
// talk's names (roles maps them to sidecarize's). demo/widgetario/out/ is
// sidecarize's "after" of the same workloads (widgetario/before/, written
// for this repository) with one config (widgetario/sidecarize.yaml). The
// test below compares the two — each pod template and each Service — and
// every difference must be one of intendedDifferences, each with its
// reason; a difference not listed fails, and so does a listed one that no
// longer occurs.
var talkAfter = map[string]map[string]string{
	// Demo 1: a "logger" sidecar relays the log file to stdout.
	"Deployment/web": {
		"labels.app":                                     "web",
		"container[web].placement":                       "containers",
		"container[web].image":                           "widgetario/web:dotnet-serilog",
		"container[web].ports[80]":                       "declared",
		"container[web].ports[80].name":                  "web",
		"container[web].volumeMounts[logs].mountPath":    "/logs",
		"container[logger].placement":                    "containers",
		"container[logger].image":                        "alpine:3.12",
		"container[logger].command":                      "[sh -c tail -f /logs-ro/app.log]",
		"container[logger].volumeMounts[logs].mountPath": "/logs-ro",
		"container[logger].volumeMounts[logs].readOnly":  "true",
		"volume[logs]":                                   "declared",
		"volume[logs].emptyDir":                          "{}",
	},
	// Demo 2: a Postgres exporter beside the database, scraped through the
	// prometheus.io/port annotation.
	"Deployment/products-db": {
		"labels.app":                                "products-db",
		"annotations.prometheus.io/port":            "9187",
		"container[db].placement":                   "containers",
		"container[db].image":                       "widgetario/products-db:postgres",
		"container[db].ports[5432]":                 "declared",
		"container[db].ports[5432].name":            "db",
		"container[exporter].placement":             "containers",
		"container[exporter].image":                 "wrouesnel/postgres_exporter:v0.8.0",
		"container[exporter].ports[9187]":           "declared",
		"container[exporter].ports[9187].name":      "metrics",
		"container[exporter].env[DATA_SOURCE_URI]":  "localhost?sslmode=disable",
		"container[exporter].env[DATA_SOURCE_USER]": "postgres",
		"container[exporter].env[DATA_SOURCE_PASS]": "widgetario",
	},
	// Demo 3: an Envoy "proxy" container (its config baked into the image)
	// in front of each service; service1 calls service2 through its own
	// proxy's outbound listener.
	"Deployment/service1": {
		"labels.app":                        "service1",
		"container[app].placement":          "containers",
		"container[app].image":              "sixeyed/envoy-demo:service1",
		"container[app].env[TARGET_HOST]":   "localhost:9000",
		"container[proxy].placement":        "containers",
		"container[proxy].image":            "sixeyed/envoy-demo:service1-proxy",
		"container[proxy].ports[8000]":      "declared",
		"container[proxy].ports[8000].name": "proxy",
	},
	"Deployment/service2": {
		"labels.app":                        "service2",
		"container[app].placement":          "containers",
		"container[app].image":              "sixeyed/envoy-demo:service2",
		"container[proxy].placement":        "containers",
		"container[proxy].image":            "sixeyed/envoy-demo:service2-proxy",
		"container[proxy].ports[8000]":      "declared",
		"container[proxy].ports[8000].name": "proxy",
	},
	"Service/service1": {
		"name":                   "service1",
		"type":                   "ClusterIP",
		"selector.app":           "service1",
		"ports[8000].targetPort": "proxy",
	},
	"Service/service2": {
		"type":                   "ClusterIP",
		"selector.app":           "service2",
		"ports[8000].targetPort": "proxy",
	},
}

// talkOnly is what the talk added that sidecarize does not generate, and why.
var talkOnly = []struct{ object, what, why string }{
	{"Deployment/front-proxy", "a separate Envoy edge proxy (sixeyed/envoy-demo:front-proxy)",
		"service1's own Envoy is the edge (tracing edge: true): it generates the request ids and does not trust outside ones"},
	{"Service/front-proxy", "a LoadBalancer on port 8800 to the front proxy's 8000",
		"users keep reaching service1 through its LoadBalancer Service (envoy-demo), now on Envoy's port"},
}

var intendedDifferences = []struct {
	re, why string
}{
	// Every injected container.
	{`^Deployment/[^/]+/container\[[^\]]+\]\.placement$`, "native sidecar: an initContainer with restartPolicy Always (starts before the app, Jobs complete)"},
	{`^Deployment/[^/]+/container\[[^\]]+\]\.restartPolicy$`, "native sidecar: an initContainer with restartPolicy Always (starts before the app, Jobs complete)"},
	{`^Deployment/[^/]+/container\[[^\]]+\]\.securityContext\.`, "secure defaults: non-root, read-only root filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp"},
	{`^Deployment/[^/]+/container\[[^\]]+\]\.resources\.`, "secure defaults: resource requests and limits"},
	{`^Deployment/[^/]+/container\[[^\]]+\]\.imagePullPolicy$`, "explicit imagePullPolicy IfNotPresent for the pinned image"},
	{`^Deployment/[^/]+/container\[[^\]]+\]\.(startupProbe|readinessProbe|livenessProbe)\.`, "probes: the app starts once its sidecar listens"},
	{`^Deployment/[^/]+/annotations\.sidecarize\.dev/(status|config-hash)$`, "provenance and config hash: idempotency, uninject and rollouts on config changes"},

	// Demo 1: the log relay.
	{`^Deployment/web/container\[logs-adapter\]\.image$`, "log relay image: busybox:1.37.0 (pinned, runs `tail` without a shell) instead of alpine:3.12"},
	{`^Deployment/web/container\[logs-adapter\]\.command$`, "log relay command: `tail -n +1 -q -F` follows rotation and reads lines written before it started, instead of `sh -c 'tail -f …'`"},
	{`^Deployment/web/container\[logs-adapter\]\.volumeMounts\[logs\]\.mountPath$`, "the relay sees the log directory at the app's path (/logs), the talk used /logs-ro"},
	{`^Deployment/web/volume\[logs\]\.emptyDir(\.sizeLimit)?$`, "the shared emptyDir has a sizeLimit (512Mi): logs cannot fill the node's disk"},

	// Demo 2: the Postgres exporter.
	{`^Deployment/products-db/container\[exporter\]\.image$`, "exporter image: prometheuscommunity/postgres-exporter:v0.20.1 (the maintained project) instead of wrouesnel/postgres_exporter:v0.8.0"},
	{`^Deployment/products-db/container\[exporter\]\.args$`, "the exporter's listen address and path are explicit arguments"},
	{`^Deployment/products-db/container\[exporter\]\.env\[DATA_SOURCE_PASS\]$`, "no inline password: DATA_SOURCE_PASS comes from the Secret products-db-password (the talk had `value: widgetario`)"},
	{`^Deployment/products-db/container\[exporter\]\.env\[DATA_SOURCE_URI\]$`, "DATA_SOURCE_URI names the port and database (localhost:5432/postgres) instead of relying on defaults"},
	{`^Deployment/products-db/container\[exporter\]\.ports\[9187\]\.(name|protocol)$`, "metrics port named exp-metrics (prefixed, no collision with app port names), protocol explicit"},
	{`^Deployment/products-db/annotations\.prometheus\.io/(scrape|path)$`, "complete prometheus.io annotations: scrape and path as well as the talk's port"},

	// Demo 3: Envoy sidecars reporting to Jaeger.
	{`^Deployment/service[12]/container\[tracing-proxy\]\.image$`, "proxy image: stock envoyproxy/envoy with the bootstrap in a ConfigMap, not sixeyed/envoy-demo:serviceN-proxy with it baked in"},
	{`^Deployment/service[12]/container\[tracing-proxy\]\.(command|args)$`, "Envoy's command line points at the mounted bootstrap"},
	{`^Deployment/service[12]/container\[tracing-proxy\]\.ports\[`, "inbound listener on trace-proxy:10000 (the talk: proxy:8000) and /stats/prometheus on trace-metrics:9902"},
	{`^Deployment/service[12]/container\[tracing-proxy\]\.volumeMounts\[sidecarize-tracing\]\.`, "the bootstrap is mounted from the generated ConfigMap"},
	{`^Deployment/service[12]/volume\[sidecarize-tracing\]`, "the bootstrap is mounted from the generated ConfigMap"},
	{`^Deployment/service1/container\[app\]\.env\[TARGET_HOST\]$`, "TARGET_HOST is 127.0.0.1:9000, not localhost:9000 (localhost may resolve to ::1, where Envoy does not listen)"},
	{`^Deployment/service[12]/container\[app\]\.ports\[8080\]`, "the app keeps its declared port 8080 (the talk's update dropped it)"},
	{`^Service/envoy-demo/`, "service1's Service keeps the user's name and type (envoy-demo, LoadBalancer; the talk renamed it service1, ClusterIP, for its separate front proxy)"},
	{`^Service/service[12]/ports\[8000\]\.targetPort$`, "the Service's targetPort names trace-proxy (the talk: proxy)"},
	{`^Service/service[12]/ports\[8000\]\.name$`, "the Service port gets a name (required once the Service has two ports)"},
	{`^Service/service[12]/ports\[9902\]\.`, "a tracing-metrics Service port for the ServiceMonitor"},
	{`^Service/service[12]/labels\.app\.kubernetes\.io/name$`, "a label for the ServiceMonitor to select the Service by"},
	{`^Service/service[12]/annotations\.sidecarize\.dev/status$`, "provenance: uninject restores the Service"},
}

// roles maps the talk's names for what it added to sidecarize's: containers
// and volumes, per workload.
var roles = map[string]map[string]string{
	"web":         {"logger": "logs-adapter", "logs": "sidecarize-logs"},
	"products-db": {},
	"service1":    {"proxy": "tracing-proxy"},
	"service2":    {"proxy": "tracing-proxy"},
}

// serviceOf pairs each of the talk's Services with ours.
var serviceOf = map[string]string{"service1": "envoy-demo", "service2": "service2"}

func TestWidgetarioMatchesTalk(t *testing.T) {
	ours := objects(t, "widgetario/out")
	res := make([]*regexp.Regexp, len(intendedDifferences))
	for i, d := range intendedDifferences {
		res[i] = regexp.MustCompile(d.re)
	}
	used := make([]int, len(intendedDifferences))
	byReason := map[string][]string{}
	check := func(key, s, o string) {
		for i, re := range res {
			if re.MatchString(key) {
				used[i]++
				byReason[intendedDifferences[i].why] = append(byReason[intendedDifferences[i].why], fmt.Sprintf("%s: talk %s, sidecarize %s", key, s, o))
				return
			}
		}
		t.Errorf("unlisted difference %s:\n  talk:       %s\n  sidecarize: %s", key, s, o)
	}

	for _, name := range []string{"web", "products-db", "service1", "service2"} {
		s, o := talkAfter["Deployment/"+name], ours["Deployment/"+name]
		if s == nil || o == nil {
			t.Fatalf("Deployment %s: talk %v, sidecarize %v", name, s != nil, o != nil)
		}
		rename := roles[name]
		// The talk's "logs" volume is ours "sidecarize-logs": compare under
		// the talk's name, so mounts line up.
		back := map[string]string{}
		for k, v := range rename {
			back[v] = k
		}
		// Containers are compared under sidecarize's names.
		sf := renameContainers(s, rename)
		of := flatPod(template(o), back, nil)
		diff("Deployment/"+name+"/", sf, of, check)
	}
	for talkName, ourName := range serviceOf {
		s, o := talkAfter["Service/"+talkName], ours["Service/"+ourName]
		if s == nil || o == nil {
			t.Fatalf("Service %s/%s: talk %v, sidecarize %v", talkName, ourName, s != nil, o != nil)
		}
		diff("Service/"+ourName+"/", s, flatService(o, talkName != ourName), check)
	}
	for _, x := range talkOnly {
		if ours[x.object] != nil {
			t.Errorf("%s: the talk added it by hand, sidecarize should not", x.object)
		}
		t.Logf("the talk also added %s, %s: not generated, %s", x.object, x.what, x.why)
	}
	// No inline credentials anywhere in our output
	// (docs/contract.md#secure-defaults).
	for key, o := range ours {
		for _, f := range []string{"containers", "initContainers"} {
			spec, _ := template(o)["spec"].(map[string]any)
			list, _ := spec[f].([]any)
			for _, c := range list {
				env, _ := c.(map[string]any)["env"].([]any)
				for _, e := range env {
					em := e.(map[string]any)
					if n := strings.ToUpper(fmt.Sprint(em["name"])); (strings.Contains(n, "PASS") || strings.Contains(n, "SECRET")) && em["value"] != nil {
						t.Errorf("%s: env %s has an inline value", key, em["name"])
					}
				}
			}
		}
	}
	for i, d := range intendedDifferences {
		if used[i] == 0 {
			t.Errorf("listed difference no longer occurs (remove it from the list): %s", d.why)
		}
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		t.Logf("intended: %s\n    %s", r, strings.Join(byReason[r], "\n    "))
	}
}

// renameContainers renames container[<talk's name>] keys to sidecarize's.
func renameContainers(f map[string]string, rename map[string]string) map[string]string {
	out := make(map[string]string, len(f))
	for k, v := range f {
		for from, to := range rename {
			if p := "container[" + from + "]"; strings.HasPrefix(k, p) {
				k = "container[" + to + "]" + strings.TrimPrefix(k, p)
				break
			}
		}
		out[k] = v
	}
	return out
}

// diff reports every key whose value differs (absent on one side included).
func diff(prefix string, seed, ours map[string]string, report func(key, s, o string)) {
	keys := map[string]bool{}
	for k := range seed {
		keys[k] = true
	}
	for k := range ours {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		s, sok := seed[k]
		o, ook := ours[k]
		if sok && ook && s == o {
			continue
		}
		if !sok {
			s = "(absent)"
		}
		if !ook {
			o = "(absent)"
		}
		report(prefix+k, s, o)
	}
}

// objects reads every document under dir, keyed Kind/name.
func objects(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under %s (%v)", dir, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true}).Read()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, n := range nodes {
			js, err := n.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatal(err)
			}
			out[n.GetKind()+"/"+n.GetName()] = m
		}
	}
	return out
}

func template(d map[string]any) map[string]any {
	spec, _ := d["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	return tmpl
}

// flatPod flattens a pod template into path → value: containers (init or
// not) keyed by name, with their placement, env by name, ports by number,
// volumeMounts and volumes by (renamed) volume name, command and args as one
// string each. Labels and annotations are compared one by one.
// volName renames volumes; ctrName renames containers.
func flatPod(tmpl map[string]any, volName, ctrName map[string]string) map[string]string {
	out := map[string]string{}
	ren := func(m map[string]string, n string) string {
		if r, ok := m[n]; ok {
			return r
		}
		return n
	}
	meta, _ := tmpl["metadata"].(map[string]any)
	for _, k := range []string{"labels", "annotations"} {
		m, _ := meta[k].(map[string]any)
		for kk, v := range m {
			out[k+"."+kk] = fmt.Sprint(v)
		}
	}
	spec, _ := tmpl["spec"].(map[string]any)
	for _, field := range []string{"initContainers", "containers"} {
		list, _ := spec[field].([]any)
		for _, c := range list {
			cm, _ := c.(map[string]any)
			name := ren(ctrName, fmt.Sprint(cm["name"]))
			p := "container[" + name + "]."
			placement := field
			if field == "initContainers" && cm["restartPolicy"] == "Always" {
				placement = "initContainers (native sidecar)"
			}
			out[p+"placement"] = placement
			for k, v := range cm {
				switch k {
				case "name":
				case "command", "args":
					out[p+k] = fmt.Sprint(v)
				case "env":
					for _, e := range v.([]any) {
						em := e.(map[string]any)
						n := fmt.Sprint(em["name"])
						delete(em, "name")
						if val, ok := em["value"]; ok && len(em) == 1 {
							out[p+"env["+n+"]"] = fmt.Sprint(val)
						} else {
							b, _ := json.Marshal(em)
							out[p+"env["+n+"]"] = string(b)
						}
					}
				case "ports":
					for _, e := range v.([]any) {
						em := e.(map[string]any)
						n := fmt.Sprint(em["containerPort"])
						for kk, vv := range em {
							if kk != "containerPort" {
								flatten(out, p+"ports["+n+"]."+kk, vv)
							}
						}
						out[p+"ports["+n+"]"] = "declared"
					}
				case "volumeMounts":
					for _, e := range v.([]any) {
						em := e.(map[string]any)
						n := ren(volName, fmt.Sprint(em["name"]))
						for kk, vv := range em {
							if kk != "name" {
								flatten(out, p+"volumeMounts["+n+"]."+kk, vv)
							}
						}
					}
				default:
					flatten(out, p+k, v)
				}
			}
		}
	}
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		vm := v.(map[string]any)
		n := ren(volName, fmt.Sprint(vm["name"]))
		for k, vv := range vm {
			if k != "name" {
				flatten(out, "volume["+n+"]."+k, vv)
			}
		}
		out["volume["+n+"]"] = "declared"
	}
	for k, v := range spec {
		switch k {
		case "containers", "initContainers", "volumes":
		default:
			flatten(out, k, v)
		}
	}
	return out
}

// flatService flattens a Service: ports keyed by port number; the name is
// compared only when renamed is set (the talk renamed service1's).
func flatService(s map[string]any, renamed bool) map[string]string {
	out := map[string]string{}
	meta, _ := s["metadata"].(map[string]any)
	if renamed {
		out["name"] = fmt.Sprint(meta["name"])
	}
	for _, k := range []string{"labels", "annotations"} {
		m, _ := meta[k].(map[string]any)
		for kk, v := range m {
			out[k+"."+kk] = fmt.Sprint(v)
		}
	}
	spec, _ := s["spec"].(map[string]any)
	for k, v := range spec {
		if k != "ports" {
			flatten(out, k, v)
			continue
		}
		for _, p := range v.([]any) {
			pm := p.(map[string]any)
			n := fmt.Sprint(pm["port"])
			for kk, vv := range pm {
				if kk != "port" {
					flatten(out, "ports["+n+"]."+kk, vv)
				}
			}
		}
	}
	return out
}

// flatten writes v under key: maps as key.sub, lists as key[i], scalars as
// their string.
func flatten(out map[string]string, key string, v any) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[key] = "{}"
		}
		for k, vv := range x {
			flatten(out, key+"."+k, vv)
		}
	case []any:
		for i, vv := range x {
			flatten(out, key+"["+strconv.Itoa(i)+"]", vv)
		}
	default:
		out[key] = fmt.Sprint(v)
	}
}
