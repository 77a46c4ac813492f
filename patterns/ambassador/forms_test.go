package ambassador_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarize/sidecarize/patterns/ambassador"
	"github.com/sidecarize/sidecarize/transform"
)

const formsInput = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: example/web:1.0
        env:
        - {name: QUOTES_URL, value: "https://quotes.example.com"}
`

// run injects the ambassador with the config rule's ambassadors value and
// the annotations on the workload.
func run(t *testing.T, ambassadors string, set ...string) string {
	t.Helper()
	config := "apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarize\nspec:\n  rules:\n  - select: {names: [web]}\n    ambassadors: " + ambassadors + "\n"
	patterns := []transform.Pattern{ambassador.Pattern{}}
	cfg, err := transform.LoadConfig("sidecarize.yaml", []byte(config), patterns)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := (&transform.Engine{Patterns: patterns, Config: cfg, Flags: transform.Flags{Set: set}}).Process("app.yaml", []byte(formsInput))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// The CA Secret is written {name: …, key: …} like a SecretKeySelector; its
// name alone and the older {secret: …} give the same output.
func TestCAForms(t *testing.T) {
	want := run(t, `[{name: quotes, upstream: "https://quotes.example.com", env: [QUOTES_URL], ca: {name: quotes-ca, key: ca.crt}}]`)
	for _, w := range []string{"secretName: quotes-ca", `ca-file "/etc/sidecarize/ambassador/quotes/ca.crt"`} {
		if !strings.Contains(want, w) {
			t.Fatalf("output lacks %q:\n%s", w, want)
		}
	}
	for _, ca := range []string{`quotes-ca`, `{name: quotes-ca}`, `{secret: quotes-ca, key: ca.crt}`} {
		got := run(t, `[{name: quotes, upstream: "https://quotes.example.com", env: [QUOTES_URL], ca: `+ca+`}]`)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ca: %s (-{name, key} +this):\n%s", ca, d)
		}
	}
	if got := run(t, `[{name: quotes, upstream: "https://quotes.example.com", env: [QUOTES_URL]}]`, "ambassador.quotes.ca=quotes-ca"); got != want {
		t.Errorf("--set ambassador.quotes.ca=quotes-ca:\n%s", cmp.Diff(want, got))
	}
}

func TestCAFormErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{name: a, secret: b}`: "name and secret both name the Secret",
		`{name: a, file: b}`:   `unknown field "file"`,
		`[a]`:                  "expected a Secret name or {name: …, key: …}",
	} {
		config := "apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarize\nspec:\n  rules:\n  - ambassadors: [{upstream: \"https://q.example.com\", ca: " + in + "}]\n"
		_, err := transform.LoadConfig("sidecarize.yaml", []byte(config), []transform.Pattern{ambassador.Pattern{}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ca: %s: got %v, want %q", in, err, want)
		}
	}
}

// The options are {upstreams: [...], <settings of the container>}; the older
// bare list, with the container's settings on an entry, reads the same, and
// so do --set (and annotations) by upstream name, in either spelling of a
// container setting.
func TestOptionForms(t *testing.T) {
	want := run(t, `{upstreams: [{name: quotes, upstream: "https://quotes.example.com", env: [QUOTES_URL], timeout: 3s}, {upstream: "http://api:8080", args: false}], metricsPort: 9300, scrape: annotations}`)
	for _, w := range []string{"containerPort: 9300", "prometheus.io/port: '9300'", "timeout server 3s", "backend be_api"} {
		if !strings.Contains(want, w) {
			t.Fatalf("output lacks %q:\n%s", w, want)
		}
	}
	for name, got := range map[string]string{
		"list": run(t, `[{name: quotes, upstream: "https://quotes.example.com", env: [QUOTES_URL], timeout: 3s, metricsPort: 9300}, {upstream: "http://api:8080", args: false, scrape: annotations, metricsPort: 9300}]`),
		"--set by name": run(t, `{upstreams: [{upstream: "http://api:8080"}]}`,
			"ambassador.quotes.upstream=https://quotes.example.com", "ambassador.quotes.env=QUOTES_URL", "ambassador.quotes.timeout=3s",
			"ambassador.api.args=false", "ambassador.metricsPort=9300", "ambassador.scrape=annotations"),
		"--set, settings under a name": run(t, `[{name: quotes, upstream: "https://quotes.example.com", env: [QUOTES_URL], timeout: 3s}, {upstream: "http://api:8080", args: false}]`,
			"ambassador.api.metricsPort=9300", "ambassador.quotes.scrape=annotations"),
	} {
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-object form +this):\n%s", name, d)
		}
	}
}
