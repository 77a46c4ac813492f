package tracing_test

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/patterns/tracing"
	"github.com/sidecarize/sidecarize/transform"
)

// Seed 2's service1 gets Envoy in front of it and in front of its call to
// service2: the Service moves to Envoy, TARGET_HOST to the outbound
// listener, and every listener of the generated bootstrap is listed.
func Example() {
	cfg := `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: envoy-demo}
spec:
  rules:
    - tracing:
        upstreams: [{name: service2, env: TARGET_HOST, localPort: 9000}]
`
	in := `apiVersion: v1
kind: Service
metadata: {name: service1}
spec:
  selector: {app: service1}
  ports: [{port: 8000, targetPort: app}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: service1}
spec:
  selector: {matchLabels: {app: service1}}
  template:
    metadata: {labels: {app: service1}}
    spec:
      containers:
      - name: app
        image: sixeyed/envoy-demo:service1
        ports: [{containerPort: 8080, name: app}]
        env: [{name: TARGET_HOST, value: "service2:8000"}]
`
	pats := []transform.Pattern{tracing.Pattern{}}
	c, err := transform.LoadConfig("config.yaml", []byte(cfg), pats)
	if err != nil {
		fmt.Println(err)
		return
	}
	e := &transform.Engine{Patterns: pats, Config: c, Version: "example"}
	out, _, err := e.Process("service1.yaml", []byte(in))
	if err != nil {
		fmt.Println(err)
		return
	}
	var objs []map[string]any
	for _, doc := range splitDocs(string(out)) {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			fmt.Println(err)
			return
		}
		objs = append(objs, o)
	}
	for _, o := range objs {
		switch o["kind"] {
		case "Service":
			fmt.Println("Service targetPort:", dig(o, "spec", "ports", 0, "targetPort"))
		case "Deployment":
			fmt.Println("TARGET_HOST:", dig(o, "spec", "template", "spec", "containers", 0, "env", 0, "value"))
		case "ConfigMap":
			var b map[string]any
			if err := yaml.Unmarshal([]byte(dig(o, "data", tracing.ConfigKey).(string)), &b); err != nil {
				fmt.Println(err)
				return
			}
			fmt.Println("admin:", dig(b, "admin", "address", "socket_address", "address"))
			for i := range dig(b, "static_resources", "listeners").([]any) {
				l := dig(b, "static_resources", "listeners", i)
				hcm := dig(l, "filter_chains", 0, "filters", 0, "typed_config")
				fmt.Printf("listener %v %v:%v -> %v (tracer %v)\n", dig(l, "name"),
					dig(l, "address", "socket_address", "address"), dig(l, "address", "socket_address", "port_value"),
					dig(hcm, "route_config", "virtual_hosts", 0, "routes", 0, "route", "cluster"),
					dig(hcm, "tracing", "provider", "name"))
			}
		}
	}
	// Output:
	// Service targetPort: trace-proxy
	// TARGET_HOST: 127.0.0.1:9000
	// admin: 127.0.0.1
	// listener inbound 0.0.0.0:10000 -> local_app (tracer envoy.tracers.zipkin)
	// listener outbound_service2 127.0.0.1:9000 -> upstream_service2 (tracer envoy.tracers.zipkin)
	// listener metrics 0.0.0.0:9902 -> admin (tracer <nil>)
}

// dig walks maps by key and lists by index.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func splitDocs(s string) []string { return strings.Split(s, "\n---\n") }
