package fuzz

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/patterns/logs"
	"github.com/sidecarize/sidecarize/patterns/tracing"
	"github.com/sidecarize/sidecarize/transform"
)

// hostileValues break a generated config when written into it as they are:
// a comment, a word break, quotes, an escape, a line break, an environment
// reference, a sample fetch.
var hostileValues = []string{"/m#x", "#", "a b", `/m"x`, "/m'x", `/m\x`, "/m\nx", "${HOME}", "/{x}", "%[src]", "/m;x", "\t"}

// required gives each pattern what it cannot do without, so that the
// hostile option is the only thing that can fail.
var required = map[string][]string{
	"logs":       {"logs.files=/var/log/app/app.log", "logs.format=regex", "logs.regex=^(?<message>.*)$"},
	"ambassador": {"ambassador.api.upstream=http://api:8080"},
	"exporter":   {"exporter.type=redis"},
	"tls":        {"tls.secretName=web-tls"},
}

const hostileInput = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
`

// TestHostileOptionValues sets every string option of every pattern to
// each hostile value (--set): the value is refused with an error, or the
// output's every haproxy.cfg passes the real `haproxy -c`, every
// fluent-bit config parses and expands no ${VAR} that no container sets,
// and every Envoy bootstrap parses.
func TestHostileOptionValues(t *testing.T) {
	all := patterns.All()
	seen := map[string]bool{}
	accepted, refused := 0, 0
	for _, p := range all {
		for _, o := range transform.DescribeOptions(p) {
			if o.Type != "string" {
				continue
			}
			name := p.Name() + "." + strings.ReplaceAll(o.Name, "<name>", "api")
			for _, v := range hostileValues {
				e := &transform.Engine{Patterns: all, Version: "test", Flags: transform.Flags{
					Patterns: []string{p.Name()},
					Set:      append(append([]string{}, required[p.Name()]...), name+"="+v),
				}}
				out, _, err := e.Process("input.yaml", []byte(hostileInput))
				if err != nil {
					refused++
					continue
				}
				accepted++
				nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(out), OmitReaderAnnotations: true}).Read()
				if err != nil {
					t.Fatalf("%s=%q: output does not parse: %v", name, v, err)
				}
				for _, n := range nodes {
					if n.GetKind() != "ConfigMap" {
						continue
					}
					if fb, ok := n.GetDataMap()[logs.ConfigFile]; ok {
						checkFluentBit(t, name+"="+v, fb, nodes)
					}
					if ev, ok := n.GetDataMap()[tracing.ConfigKey]; ok {
						var boot map[string]any
						if err := sigyaml.Unmarshal([]byte(ev), &boot); err != nil || boot["static_resources"] == nil {
							t.Errorf("%s=%q: %s is not an Envoy bootstrap (%v)", name, v, tracing.ConfigKey, err)
						}
					}
					cfg, ok := n.GetDataMap()["haproxy.cfg"]
					if !ok || seen[cfg] {
						continue
					}
					seen[cfg] = true
					golden.HAProxyCheck(t, name+"="+v, cfg)
				}
			}
		}
	}
	if refused == 0 || accepted == 0 {
		t.Errorf("refused %d, accepted %d: the test does not exercise both sides", refused, accepted)
	}
	t.Logf("%d hostile values refused, %d accepted (%d distinct haproxy.cfg checked)", refused, accepted, len(seen))
}

// below are option paths under each option: sub-options of objects, map
// entries (resources.limits.cpu: a map whose keys are a named string
// type panicked in reflect), and paths below a value that has none.
var below = []string{"", ".x", ".limits.cpu", ".requests.memory", ".name", ".x.y", ".0"}

// oddValues are set at every path.
var oddValues = []string{"", "2", "-1", "x y", "{}", "[]", "{a: b}", "[{name: x}]", "null", "${HOME}", "1e400", "a\nb"}

// TestEveryOptionPath sets every option of every pattern, and paths below
// it, to odd values, as --set and as an annotation: each is accepted or
// refused with an error, never a panic.
func TestEveryOptionPath(t *testing.T) {
	all := patterns.All()
	runs := 0
	for _, p := range all {
		for _, o := range transform.DescribeOptions(p) {
			name := p.Name() + "." + strings.ReplaceAll(o.Name, "<name>", "api")
			for _, sub := range below {
				for _, v := range oddValues {
					set := append(append([]string{}, required[p.Name()]...), name+sub+"="+v)
					e := &transform.Engine{Patterns: all, Version: "test", Flags: transform.Flags{Patterns: []string{p.Name()}, Set: set}}
					process(t, e, name+sub+"="+v, []byte(hostileInput))
					ann := strings.Replace(hostileInput, "metadata: {name: web}",
						fmt.Sprintf("metadata: {name: web, annotations: {%q: %q}}", "sidecarize.dev/"+name+sub, v), 1)
					e = &transform.Engine{Patterns: all, Version: "test", Flags: transform.Flags{Patterns: []string{p.Name()}, Set: required[p.Name()]}}
					process(t, e, "annotation "+name+sub+"="+v, []byte(ann))
					runs += 2
				}
			}
		}
	}
	t.Logf("%d runs", runs)
}

// process runs e, failing the test on a panic or an internal error.
func process(t *testing.T, e *transform.Engine, what string, input []byte) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: panic: %v", what, r)
		}
	}()
	if _, _, err := e.Process("input.yaml", input); err != nil && strings.Contains(err.Error(), "internal error") {
		t.Errorf("%s: %v", what, err)
	}
}

var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// checkFluentBit: the config is YAML with fluent-bit's sections, and every
// ${VAR} in it (fluent-bit expands them anywhere) names an environment
// variable the adapter container sets: a user string never becomes one.
func checkFluentBit(t *testing.T, what, cfg string, nodes []*kyaml.RNode) {
	t.Helper()
	var doc map[string]any
	if err := sigyaml.Unmarshal([]byte(cfg), &doc); err != nil || doc["pipeline"] == nil {
		t.Errorf("%s: %s does not parse as fluent-bit's YAML config (%v):\n%s", what, logs.ConfigFile, err, cfg)
		return
	}
	env := map[string]bool{}
	for _, n := range nodes {
		for _, list := range []string{"containers", "initContainers"} {
			cs, _ := n.Pipe(kyaml.Lookup("spec", "template", "spec", list))
			for _, c := range cs.Content() {
				vars, _ := kyaml.NewRNode(c).Pipe(kyaml.Lookup("env"))
				names, _ := vars.ElementValues("name")
				for _, e := range names {
					env[e] = true
				}
			}
		}
	}
	for _, m := range envRef.FindAllStringSubmatch(cfg, -1) {
		if !env[m[1]] {
			t.Errorf("%s: %s holds ${%s}, which fluent-bit expands and no container sets", what, logs.ConfigFile, m[1])
		}
	}
}
