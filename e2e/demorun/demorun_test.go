package demorun

import (
	"bytes"
	"context"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
)

// TestDemo runs `make demo`'s simulation on the committed v3 manifests and
// checks what it claims: every step ran, the sidecars' metrics counted the
// traffic, the breaker tripped to the canned response (the API untouched
// meanwhile) and recovered, all in well under a minute — on every HAProxy
// version of the matrix, one after the other (the timings are checked).
func TestDemo(t *testing.T) {
	hs, err := env.HAProxies()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		t.Run(h.Name(), func(t *testing.T) { testDemo(t, h) })
	}
}

func testDemo(t *testing.T, h env.HAProxy) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := Run(ctx, Options{Out: &out, HAProxy: h})
	took := time.Since(start)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if took > time.Minute {
		t.Errorf("the demo took %s, want under a minute", took)
	}
	if len(r.Steps) != 12 {
		t.Errorf("%d steps ran, want 12: %q", len(r.Steps), r.Steps)
	}
	// Prometheus: the circuit alert fired while the circuit was open and
	// resolved after it closed; the api's recorded 5xx ratio is about the
	// half /unstable fails; the chart holds every page view.
	if got := strings.Join(r.CircuitStates, " → "); got != "inactive → pending → firing → inactive" {
		t.Errorf("SidecarizeCircuitOpen went %q, want inactive → pending → firing → inactive", got)
	}
	if !(r.CircuitFiring > 0 && r.CircuitResolved > r.CircuitFiring) {
		t.Errorf("SidecarizeCircuitOpen firing at %v, resolved at %v", r.CircuitFiring, r.CircuitResolved)
	}
	if r.ErrorRatio < 0.2 || r.ErrorRatio > 0.8 || r.RequestRate <= 0 {
		t.Errorf("recorded api 5xx ratio %.3f (want about 0.5), request rate %.3f", r.ErrorRatio, r.RequestRate)
	}
	if r.APIAlert != "firing" {
		t.Errorf("SidecarizeHighErrorRate for the api is %q, want firing", r.APIAlert)
	}
	svg, err := os.ReadFile(r.Chart)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "good (the API's answer): ", "failed (500): ", "canned (circuit open): ", "SidecarizeCircuitOpen resolved"} {
		if !strings.Contains(html.UnescapeString(string(svg)), want) {
			t.Errorf("the chart %s has no %q", r.Chart, want)
		}
	}
	for i, s := range r.Steps {
		if !strings.HasPrefix(s, "[") || !strings.Contains(out.String(), s) {
			t.Errorf("step %d %q not printed", i+1, s)
		}
	}
	if r.InitialViews != 20 || r.InitialAPIErrors == 0 || r.InitialFailed == r.InitialViews {
		t.Errorf("before: %d of %d page views failed (%d with the API's 500), want some (failure_rate=0.5)", r.InitialFailed, r.InitialViews, r.InitialAPIErrors)
	}
	if r.TrippedAfter < 3 || r.V3Failed < 3 {
		t.Errorf("the breaker tripped after %d views with %d failures, want at least 3 failures first", r.TrippedAfter, r.V3Failed)
	}
	if r.OpenDegraded != r.OpenViews || r.OpenViews == 0 {
		t.Errorf("circuit open: %d of %d page views got the canned response, want all", r.OpenDegraded, r.OpenViews)
	}
	if r.APICallsWhileOpen != 0 {
		t.Errorf("circuit open: the API received %d calls, want none", r.APICallsWhileOpen)
	}
	// Recovery: rise 5 × inter 1s after the trip, plus scheduling slack.
	if !r.Recovered || r.RecoveredAfter < 3*time.Second || r.RecoveredAfter > 12*time.Second {
		t.Errorf("recovery: %v after %s, want about 5s (recoverAfter)", r.Recovered, r.RecoveredAfter)
	}
	m := r.Metrics
	for key, min := range map[string]float64{
		`api haproxy_backend_http_responses_total{proxy="be_app",code="5xx"}`:                 float64(r.InitialAPIErrors), // scraped after step 4
		`api haproxy_frontend_http_requests_total{proxy="app"}`:                               float64(r.InitialViews),
		`frontend haproxy_backend_http_responses_total{proxy="be_app",code="5xx"}`:            float64(r.V3Failed),
		`frontend haproxy_frontend_http_requests_total{proxy="app"}`:                          float64(r.TrippedAfter + r.OpenViews),
		`frontend-ambassador haproxy_backend_http_responses_total{proxy="be_api",code="5xx"}`: float64(r.V3Failed),
		`frontend-ambassador haproxy_frontend_intercepted_requests_total{proxy="api"}`:        float64(r.OpenViews + 1),
		`frontend-ambassador haproxy_server_check_up_down_total{proxy="be_api"}`:              1,
	} {
		if m[key] < min {
			t.Errorf("metric %s = %v, want >= %v", key, m[key], min)
		}
	}
}

// The API the demo builds is the version the manifests run.
func TestHTTPBinVersionMatchesManifest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(env.RepoRoot(), "demo", "productionise", "initial", "api.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "image: mccutchen/go-httpbin:"+HTTPBinVersion+"\n") {
		t.Errorf("initial/api.yaml does not run mccutchen/go-httpbin:%s", HTTPBinVersion)
	}
}
