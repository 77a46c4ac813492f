package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

// flakyUpstream is the API of seed 1 "v3": an HTTP server whose behaviour the
// test switches, counting health checks and real requests apart.
type flakyUpstream struct {
	mode     atomic.Value // "ok", "fail" (500 on everything), "slow", "stream", "flaky"
	checks   atomic.Int64 // GET /healthz
	requests atomic.Int64 // everything else
	mu       sync.Mutex
	hosts    []string // Host headers of real requests
	flip     atomic.Int64
}

func (u *flakyUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode, _ := u.mode.Load().(string)
	if r.URL.Path == "/healthz" {
		u.checks.Add(1)
		if mode == "fail" {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
		return
	}
	u.requests.Add(1)
	u.mu.Lock()
	u.hosts = append(u.hosts, r.Host)
	u.mu.Unlock()
	switch mode {
	case "fail":
		http.Error(w, "upstream exploded", http.StatusInternalServerError)
		return
	case "slow":
		time.Sleep(3 * time.Second)
	case "stream":
		// Busy for 2s, but never idle for long: HAProxy's server timeout
		// (inactivity) does not cut it.
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 10; i++ {
			io.WriteString(w, ".")
			w.(http.Flusher).Flush()
			time.Sleep(200 * time.Millisecond)
		}
		return
	case "flaky":
		// Every other request is a 503: a retry succeeds.
		if u.flip.Add(1)%2 == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
	}
	fmt.Fprintf(w, "upstream %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
}

// ambassadorConfig configures a fast-tripping, fast-recovering breaker.
const ambassadorConfig = `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: e2e}
spec:
  rules:
    - select: {names: [frontend]}
      ambassadors:
        upstreams:
          - name: api
            upstream: http://127.0.0.1:%d
            env: [API_URL]
            timeout: 1s
            retries: 1
            maxConnections: 1
            circuitBreaker:
              consecutiveErrors: 3
              healthCheck: {path: /healthz, interval: 200ms}
              recoverAfter: 1s
            fallback:
              status: 200
              contentType: application/json
              body: '{"quote":"canned","degraded":true}'
`

const ambassadorInput = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  namespace: shop
spec:
  selector:
    matchLabels: {app: frontend}
  template:
    metadata:
      labels: {app: frontend}
    spec:
      containers:
      - name: frontend
        image: ghcr.io/example/frontend:1.4.2
        env:
        - name: API_URL
          value: http://127.0.0.1:%d/quotes?limit=5
        ports:
        - name: http
          containerPort: 8080
`

// TestAmbassadorCircuitBreaker runs the ambassador HAProxy with the config
// sidecarize generates, in a pod network namespace, in front of a real
// upstream HTTP server (same namespace, its own port), and walks the breaker
// through its states, on every HAProxy version of the matrix.
func TestAmbassadorCircuitBreaker(t *testing.T) {
	t.Parallel()
	eachHAProxy(t, testAmbassadorCircuitBreaker)
}

func testAmbassadorCircuitBreaker(t *testing.T, h env.HAProxy) {
	const upstreamPort = 18080
	const consecutiveErrors = 3
	const recoverAfter = time.Second

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sidecarize.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(ambassadorConfig, upstreamPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runSidecarize(t, []byte(fmt.Sprintf(ambassadorInput, upstreamPort)), "-c", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := podsim.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 {
		t.Fatalf("want 1 pod with HAProxy, got %d:\n%s", len(pods), out)
	}
	pod := pods[0]
	// The app's env var now points at the ambassador, path and query kept.
	appEnv := ambEnvOf(t, pod, "frontend", "API_URL")
	if appEnv != "http://127.0.0.1:9001/quotes?limit=5" {
		t.Fatalf("API_URL = %q, want the ambassador's local address", appEnv)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The pod's network namespace comes with the simulator; the upstream
	// must listen before HAProxy's first health check, so the simulator
	// starts first and the upstream right after (checks retry).
	sim, err := podsim.Start(ctx, pod, podsim.Options{HAProxy: h.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	up := &flakyUpstream{}
	up.mode.Store("ok")
	ln, err := sim.NS.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", upstreamPort))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: up}
	go srv.Serve(ln)
	defer srv.Close()
	logs := func() string { return sim.Procs[0].Output() }

	client := sim.HTTPClient()
	get := func(method, path string) (int, string, http.Header, time.Duration) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, ambBase(appEnv)+path, nil)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, logs())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header, time.Since(start)
	}

	// 1. Healthy: responses pass through, with the upstream's Host.
	ambWaitFor(t, 5*time.Second, "traffic to pass through", func() bool {
		code, body, _, _ := get("GET", "/quotes?limit=5")
		return code == 200 && strings.HasPrefix(body, "upstream GET /quotes?limit=5")
	}, logs)
	up.mu.Lock()
	host := up.hosts[len(up.hosts)-1]
	up.mu.Unlock()
	if host != fmt.Sprintf("127.0.0.1:%d", upstreamPort) {
		t.Errorf("upstream saw Host %q, want the one the app used before", host)
	}

	// Retries: idempotent requests are retried after a 503, POST is not.
	up.mode.Store("flaky")
	up.flip.Store(0)
	before := up.requests.Load()
	if code, body, _, _ := get("GET", "/retry"); code != 200 {
		t.Errorf("GET with one 503 from the upstream: got %d %q, want the retried 200", code, body)
	}
	if n := up.requests.Load() - before; n != 2 {
		t.Errorf("GET after a 503: the upstream saw %d requests, want 2 (one retry)", n)
	}
	up.flip.Store(0)
	before = up.requests.Load()
	if code, _, _, _ := get("POST", "/retry"); code != 503 {
		t.Errorf("POST with a 503 from the upstream: got %d, want the 503 (not retried)", code)
	}
	if n := up.requests.Load() - before; n != 1 {
		t.Errorf("POST after a 503: the upstream saw %d requests, want 1", n)
	}
	up.mode.Store("ok")
	get("GET", "/reset") // a success resets the consecutive-error count

	// 2. Failing: the first N responses are the upstream's 500s, then the
	// circuit opens and the canned response comes back.
	up.mode.Store("fail")
	var upstreamErrors int
	for i := 0; i < consecutiveErrors+5; i++ {
		code, body, hdr, _ := get("GET", "/quotes")
		if code == 500 && strings.Contains(body, "upstream exploded") {
			upstreamErrors++
			continue
		}
		if code != 200 || body != `{"quote":"canned","degraded":true}` || hdr.Get("Content-Type") != "application/json" || hdr.Get("X-Sidecarize-Circuit") != "open" {
			t.Fatalf("request %d with the circuit open: got %d %q %v, want the canned response", i+1, code, body, hdr)
		}
	}
	if upstreamErrors != consecutiveErrors {
		t.Errorf("the circuit opened after %d upstream errors, want %d", upstreamErrors, consecutiveErrors)
	}

	// While open, the upstream gets health checks and nothing else.
	reqs, checks := up.requests.Load(), up.checks.Load()
	for i := 0; i < 20; i++ {
		if code, body, _, _ := get("GET", "/quotes"); code != 200 || !strings.Contains(body, "canned") {
			t.Fatalf("circuit open: got %d %q", code, body)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if n := up.requests.Load() - reqs; n != 0 {
		t.Errorf("circuit open: the upstream received %d requests, want none", n)
	}
	if n := up.checks.Load() - checks; n < 1 {
		t.Errorf("circuit open: the upstream received no health checks in 500ms")
	}

	// 3. Healthy again: traffic flows within the recovery time (plus one
	// check interval and scheduling slack).
	up.mode.Store("ok")
	healed := time.Now()
	ambWaitFor(t, recoverAfter+2*time.Second, "traffic to flow again", func() bool {
		code, body, _, _ := get("GET", "/quotes")
		return code == 200 && strings.HasPrefix(body, "upstream GET")
	}, logs)
	took := time.Since(healed)
	t.Logf("recovered in %s (recoverAfter %s)", took.Round(10*time.Millisecond), recoverAfter)
	if took > recoverAfter+time.Second {
		t.Errorf("recovery took %s, want about %s", took, recoverAfter)
	}

	// 4. Timeout: a response slower than 1s is cut at 1s with a 504.
	up.mode.Store("slow")
	code, _, _, d := get("GET", "/slow")
	if code != 504 {
		t.Errorf("slow upstream: got %d, want 504", code)
	}
	if d < 900*time.Millisecond || d > 2500*time.Millisecond {
		t.Errorf("slow upstream: answered after %s, want the 1s timeout", d)
	}

	// Connection limit (maxConnections 1): while a long streamed response
	// holds the only connection, another request waits for it, gives up
	// after the 1s timeout with a 503 and never reaches the upstream.
	up.mode.Store("stream")
	before = up.requests.Load()
	streamed := make(chan int, 1)
	go func() {
		code, _, _, _ := get("GET", "/stream")
		streamed <- code
	}()
	ambWaitFor(t, 2*time.Second, "the streamed request to reach the upstream", func() bool { return up.requests.Load() > before }, logs)
	code, _, _, d = get("GET", "/queued")
	if code != 503 || d < 900*time.Millisecond || d > 2500*time.Millisecond {
		t.Errorf("request beyond maxConnections: got %d after %s, want a 503 after the 1s timeout", code, d)
	}
	if n := up.requests.Load() - before; n != 1 {
		t.Errorf("maxConnections 1: the upstream got %d requests, want only the streamed one", n)
	}
	if code := <-streamed; code != 200 {
		t.Errorf("streamed response: %d", code)
	}
	up.mode.Store("ok")

	// 5. /metrics counted it all.
	metricsPort := 9102
	ss, err := sim.Scrape(ctx, metricsPort)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("AMB_DUMP") != "" {
		for _, s := range ss {
			if (s.Labels["proxy"] == "api" || s.Labels["proxy"] == "be_api") && s.Value != 0 {
				t.Logf("%s %v = %v", s.Name, s.Labels, s.Value)
			}
		}
		t.Log(logs())
	}
	// The proxy label is the frontend's name (api) on frontend metrics, the
	// backend's (be_api) on backend and server metrics.
	for _, c := range []struct {
		metric, proxy, code string
		min                 float64
	}{
		{"haproxy_backend_http_responses_total", "be_api", "5xx", consecutiveErrors + 1}, // the 500s and the 504
		{"haproxy_backend_http_responses_total", "be_api", "2xx", 3},
		{"haproxy_frontend_intercepted_requests_total", "api", "", 20}, // canned responses
		{"haproxy_server_check_failures_total", "be_api", "", 1},
		{"haproxy_backend_retry_warnings_total", "be_api", "", 1},
		{"haproxy_server_check_up_down_total", "be_api", "", 1},
	} {
		var got float64
		for _, s := range ss {
			if s.Name == c.metric && s.Labels["proxy"] == c.proxy && (c.code == "" || s.Labels["code"] == c.code) {
				got += s.Value
			}
		}
		if got < c.min {
			t.Errorf("/metrics: %s{proxy=%q,code=%q} = %v, want >= %v", c.metric, c.proxy, c.code, got, c.min)
		} else {
			t.Logf("/metrics: %s{proxy=%q%s} = %v", c.metric, c.proxy, map[bool]string{true: `,code="` + c.code + `"`}[c.code != ""], got)
		}
	}
}

// ambBase is scheme://host:port of a URL.
func ambBase(u string) string {
	i := strings.Index(u, "://")
	j := strings.IndexByte(u[i+3:], '/')
	if j < 0 {
		return u
	}
	return u[:i+3+j]
}

// ambEnvOf returns a container's literal env value.
func ambEnvOf(t *testing.T, p *podsim.Pod, container, name string) string {
	t.Helper()
	for _, c := range p.Containers {
		if c.Name() != container {
			continue
		}
		envs, _ := c.M["env"].([]any)
		for _, e := range envs {
			m, _ := e.(map[string]any)
			if m["name"] == name {
				v, _ := m["value"].(string)
				return v
			}
		}
	}
	t.Fatalf("container %s has no env %s", container, name)
	return ""
}

// ambWaitFor polls cond until it holds or d passes.
func ambWaitFor(t *testing.T, d time.Duration, what string, cond func() bool, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s\n%s", d, what, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
