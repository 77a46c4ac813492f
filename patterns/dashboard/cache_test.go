package dashboard_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/patterns/dashboard"
	"github.com/sidecarize/sidecarize/transform"
)

// identities has workloads that share their sections (the second of each
// kind is filled in from the cache) and differ in what a dashboard says
// about them: kind, namespace (none, or one), names with dots.
const identities = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: example.com/api:1.0, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web.v2}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: example.com/web:1.0, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: example.com/db:1.0, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db.replica, namespace: data-2}
spec:
  selector: {matchLabels: {app: db2}}
  template:
    metadata: {labels: {app: db2}}
    spec: {containers: [{name: db, image: example.com/db:1.0, ports: [{name: http, containerPort: 8080}]}]}
`

// TestDashboardCache: a dashboard filled in from the cache is the one
// built for the workload, on every golden case, the demo and workloads that
// differ only in their identity.
func TestDashboardCache(t *testing.T) {
	defer dashboard.SetCache(true)
	process := func(t *testing.T, e *transform.Engine, input []byte, on bool) []byte {
		t.Helper()
		dashboard.SetCache(on)
		out, _, err := e.Process("input.yaml", input)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases, err := filepath.Glob(filepath.Join("..", "..", "testdata", "*", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, in := range cases {
		dir := filepath.Dir(in)
		if _, err := os.Stat(filepath.Join(dir, "errors.txt")); err == nil {
			continue
		}
		input, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			e := golden.Engine(t, dir, patterns.All())
			direct := process(t, e, input, false)
			// Twice: the first run may fill the cache, the second reads it.
			for i := 0; i < 2; i++ {
				if d := cmp.Diff(string(direct), string(process(t, e, input, true))); d != "" {
					t.Fatalf("cached dashboards differ from the ones built directly (-direct +cached):\n%s", d)
				}
			}
			if bytes.Contains(direct, []byte(dashboard.LabelDashboard)) {
				compared++
			}
		})
	}
	e := &transform.Engine{Patterns: patterns.All(), Version: "test", Flags: transform.Flags{Patterns: []string{"monitor"}}}
	direct := process(t, e, []byte(identities), false)
	if n := strings.Count(string(direct), dashboard.LabelDashboard+`: "1"`); n != 4 {
		t.Fatalf("%d dashboards in the identities stream, want 4", n)
	}
	if d := cmp.Diff(string(direct), string(process(t, e, []byte(identities), true))); d != "" {
		t.Fatalf("identities: cached dashboards differ (-direct +cached):\n%s", d)
	}
	if compared < 5 {
		t.Fatalf("only %d golden cases have dashboards", compared)
	}
}

// TestJSONText: a string as the JSON encoder writes it inside quotes, the
// fast path (printable ASCII) included, for hostile strings.
func TestJSONText(t *testing.T) {
	for _, s := range []string{"", "web", "team-0/web", "a b", `q"uote`, `back\slash`, "tab\t", "nl\n", "<&>", "é", "\u2028", "\x7f", "~", "\x00"} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(buf.String(), "\n")
		want = want[1 : len(want)-1]
		if got := dashboard.JSONText(s); got != want {
			t.Errorf("jsonText(%q) = %q, the encoder writes %q", s, got, want)
		}
	}
}

// TestDashboardCacheSabotaged: a wrong dashboard in the cache is an
// internal error under transform.Verify (on in every test binary).
func TestDashboardCacheSabotaged(t *testing.T) {
	e := &transform.Engine{Patterns: patterns.All(), Version: "test", Flags: transform.Flags{Patterns: []string{"monitor"}}}
	if _, _, err := e.Process("input.yaml", []byte(identities)); err != nil {
		t.Fatal(err)
	}
	dashboard.PoisonCache()
	defer dashboard.ClearCache()
	if _, _, err := e.Process("input.yaml", []byte(identities)); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("a sabotaged cache went unnoticed: %v", err)
	}
}
