package transform_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/transform"
)

// podTemplates returns each workload's pod template ("Kind/name" → YAML).
func podTemplates(t *testing.T, stream []byte) map[string]string {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(string(stream)), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range nodes {
		path := []string{"spec", "template"}
		switch n.GetKind() {
		case "Service", "ConfigMap", "ServiceMonitor", "PrometheusRule", "PodMonitor":
			continue
		case "Pod":
			path = nil
		case "CronJob":
			path = []string{"spec", "jobTemplate", "spec", "template"}
		}
		tmpl := n
		if path != nil {
			if tmpl, err = n.Pipe(yaml.Lookup(path...)); err != nil || tmpl == nil {
				continue
			}
		}
		s, err := tmpl.String()
		if err != nil {
			t.Fatal(err)
		}
		out[n.GetKind()+"/"+n.GetName()] = s
	}
	return out
}

// GitOps: upgrading sidecarize alone changes no pod template (no drift, no
// rolling restart); the version lives on the workload's own metadata.
func TestVersionIsNotInThePodTemplate(t *testing.T) {
	in, err := os.ReadFile("../testdata/quickstart/input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run := func(version string) []byte {
		e := &transform.Engine{Patterns: []transform.Pattern{fakePattern{}}, Version: version, Flags: transform.Flags{Patterns: []string{"fake"}}}
		out, _, err := e.Process("in.yaml", in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	v1, v2 := run("v1.0.0"), run("v2.0.0-rc.1+dirty")
	if string(v1) == string(v2) {
		t.Fatal("the version is recorded nowhere: both outputs are identical")
	}
	t1, t2 := podTemplates(t, v1), podTemplates(t, v2)
	if len(t1) == 0 {
		t.Fatal("no pod template found")
	}
	if d := cmp.Diff(t1, t2); d != "" {
		t.Errorf("the pod templates differ between versions (-v1 +v2):\n%s", d)
	}
	for k, tmpl := range t1 {
		if strings.Contains(tmpl, "sidecarize.dev/status") {
			t.Errorf("%s: the status is on the pod template:\n%s", k, tmpl)
		}
		if !strings.Contains(tmpl, "sidecarize.dev/config-hash") {
			t.Errorf("%s: the config hash is not on the pod template (a config change must roll the pods):\n%s", k, tmpl)
		}
	}
	if !strings.Contains(string(v2), `"version":"v2.0.0-rc.1+dirty"`) {
		t.Errorf("the version is not in the workload's status:\n%s", v2)
	}
	// Re-running the newer version over the older output changes only the
	// workload's status annotation.
	e := &transform.Engine{Patterns: []transform.Pattern{fakePattern{}}, Version: "v2.0.0-rc.1+dirty", Flags: transform.Flags{Patterns: []string{"fake"}}}
	again, _, err := e.Process("out.yaml", v1)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(v2) {
		t.Errorf("upgrading over an older output differs from a fresh run:\n%s", cmp.Diff(string(v2), string(again)))
	}
}
