package monitor

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sidecarize/sidecarize/patterns/dashboard"
	"github.com/sidecarize/sidecarize/transform"
)

// workloads are pods of every kind (their names' suffixes differ), in
// namespaces and without, with an app port that differs.
func workloads() []byte {
	var b bytes.Buffer
	for i, kind := range []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Deployment", "StatefulSet"} {
		api, spec := "apps/v1", fmt.Sprintf("  selector: {matchLabels: {app: w%d}}\n  template:\n    metadata: {labels: {app: w%d}}\n    spec: {containers: [{name: app, image: example.com/app:1.0, ports: [{name: http, containerPort: %d}]}]}\n", i, i, 8080+i%2)
		ns := ""
		if i%2 == 0 {
			ns = fmt.Sprintf(", namespace: ns-%d", i)
		}
		fmt.Fprintf(&b, "---\napiVersion: %s\nkind: %s\nmetadata: {name: w%d.x%s}\nspec:\n%s", api, kind, i, ns, spec)
	}
	b.WriteString("---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec:\n  schedule: \"* * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: cj}}\n        spec: {restartPolicy: Never, containers: [{name: app, image: example.com/app:1.0, ports: [{name: http, containerPort: 8080}]}]}\n")
	return b.Bytes()
}

// TestCachedPanels: the monitor's dashboard rows from the cache are the
// ones built for each workload (transform.Verify compares each copy; the
// outputs with and without the cache are the same bytes), over kinds,
// protocols, app ports, with and without the alert's threshold.
func TestCachedPanels(t *testing.T) {
	defer func() { panelsOff = false }()
	sets := [][]string{nil, {"monitor.protocol=tcp"}, {"monitor.protocol=grpc"}, {"monitor.rules=true"}, {"monitor.rules=true", "monitor.errorRatio=0.1"}}
	for _, set := range sets {
		var outs [2][]byte
		for i, off := range []bool{true, false} {
			panelsOff = off
			e := &transform.Engine{Patterns: []transform.Pattern{Pattern{}}, Version: "test", Flags: transform.Flags{Patterns: []string{"monitor"}, Set: set}}
			out, _, err := e.Process("in.yaml", workloads())
			if err != nil {
				t.Fatalf("--set %q: %v", set, err)
			}
			outs[i] = out
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("--set %q: the output with the cache differs", set)
		}
		if !bytes.Contains(outs[1], []byte("grafana_dashboard")) {
			t.Fatalf("--set %q: no dashboard in the output", set)
		}
	}
	if panelCount.Load() == 0 {
		t.Fatal("no row was kept")
	}
}

// TestCachedPanelsSabotaged: a wrong row in the cache is an internal error
// under transform.Verify (on in every test binary).
func TestCachedPanelsSabotaged(t *testing.T) {
	e := &transform.Engine{Patterns: []transform.Pattern{Pattern{}}, Version: "test", Flags: transform.Flags{Patterns: []string{"monitor"}}}
	if _, _, err := e.Process("in.yaml", workloads()); err != nil {
		t.Fatal(err)
	}
	sabotaged := 0
	panelCache.Range(func(k, v any) bool {
		s := copySection(v.(dashboard.Section), nil)
		s.Panels[0].Queries[0].Expr += " * 2"
		panelCache.Store(k, s)
		sabotaged++
		return true
	})
	defer panelCache.Clear()
	defer panelCount.Store(0)
	if sabotaged == 0 {
		t.Fatal("nothing in the cache")
	}
	if _, _, err := e.Process("in.yaml", workloads()); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("a sabotaged cache went unnoticed: %v", err)
	}
}
