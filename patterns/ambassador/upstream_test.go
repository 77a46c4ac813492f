package ambassador

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/templates"
	"github.com/sidecarize/sidecarize/transform"
)

func mustUpstream(t *testing.T, e Upstream, port int32) upstream {
	t.Helper()
	if e.Name == "" {
		e.Name = "up"
	}
	u, err := resolveOne(e)
	if err != nil {
		t.Fatalf("%+v: %v", e, err)
	}
	u.LocalPort = port
	return u
}

func TestParseUpstream(t *testing.T) {
	for in, want := range map[string]target{
		"http://api":              {scheme: "http", host: "api", port: 80},
		"http://API:8080/":        {scheme: "http", host: "api", port: 8080, explicitPort: true},
		"https://api.example.com": {scheme: "https", host: "api.example.com", port: 443},
		"grpc://payments:9000":    {scheme: "grpc", host: "payments", port: 9000, explicitPort: true},
		"api:8080":                {host: "api", port: 8080, explicitPort: true},
		"api":                     {host: "api", port: 80},
		"db.shop.svc:5432":        {host: "db.shop.svc", port: 5432, explicitPort: true},
		"10.0.0.7:6379":           {host: "10.0.0.7", port: 6379, explicitPort: true, ip: true},
		"http://[fd00::1]:8080":   {scheme: "http", host: "fd00::1", port: 8080, explicitPort: true, ip: true},
		"postgres://db.shop.svc.cluster.local:5432": {scheme: "postgres", host: "db.shop.svc.cluster.local", port: 5432, explicitPort: true},
	} {
		got, err := parseUpstream(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("%s: got %+v, want %+v", in, got, want)
		}
	}
	for in, msg := range map[string]string{
		"":                        "required",
		"http://api/v1":           "without a path",
		"http://u:p@api":          "credentials",
		"postgres://db":           "give a port",
		"api:99999":               "bad port",
		"http://bad_host!:80":     "",
		"http://api:80?x=1":       "without a path",
		"http://-api.example.com": "not a valid host name",
	} {
		_, err := parseUpstream(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want an error containing %q", in, err, msg)
		}
	}
}

func TestRewrite(t *testing.T) {
	yes := true
	api := Upstream{Upstream: "http://api"}
	api8080 := Upstream{Upstream: "api:8080"}
	ext := Upstream{Upstream: "https://quotes.example.com"}
	db := Upstream{Upstream: "postgres://db:5432", Protocol: "tcp"}
	grpcs := Upstream{Upstream: "grpcs://pay.example.com:8443"}
	plainTLS := Upstream{Upstream: "api.example.com:8443", TLS: &yes}
	for _, c := range []struct {
		up      Upstream
		ns      string
		in, out string
	}{
		// Path, query and fragment kept.
		{api, "", "http://api/quotes?limit=5#top", "http://127.0.0.1:9001/quotes?limit=5#top"},
		{api, "", "http://api", "http://127.0.0.1:9001"},
		{api, "", "http://api:80/x", "http://127.0.0.1:9001/x"},
		{api, "", "HTTP://API/x", "HTTP://127.0.0.1:9001/x"},
		{api, "", "api", "127.0.0.1:9001"},
		{api, "", "api:80", "127.0.0.1:9001"},
		{api, "", "//api/x", "//127.0.0.1:9001/x"},
		{api, "", "http://api/api", "http://127.0.0.1:9001/api"},
		// Inside a longer argument, more than once.
		{api, "", "--api=http://api/v1", "--api=http://127.0.0.1:9001/v1"},
		{api, "", "http://api/a,http://api/b", "http://127.0.0.1:9001/a,http://127.0.0.1:9001/b"},
		// The Service's longer names in the workload's namespace.
		{api, "shop", "http://api.shop.svc.cluster.local/x", "http://127.0.0.1:9001/x"},
		{api, "shop", "http://api.shop.svc:80/x", "http://127.0.0.1:9001/x"},
		{api, "shop", "http://api.shop/x", "http://127.0.0.1:9001/x"},
		// Explicit port.
		{api8080, "", "http://api:8080/x", "http://127.0.0.1:9001/x"},
		{api8080, "", "api:8080", "127.0.0.1:9001"},
		// TLS is the ambassador's: the app switches to plain text.
		{ext, "", "https://quotes.example.com/today", "http://127.0.0.1:9001/today"},
		{ext, "", "https://quotes.example.com:443/today", "http://127.0.0.1:9001/today"},
		{grpcs, "", "grpcs://pay.example.com:8443", "grpc://127.0.0.1:9001"},
		{plainTLS, "", "api.example.com:8443", "127.0.0.1:9001"},
		// User info and the scheme of other protocols kept.
		{db, "", "postgres://app:s3cret@db:5432/app?sslmode=disable", "postgres://app:s3cret@127.0.0.1:9001/app?sslmode=disable"},
		{db, "", "host=db port=5432", "host=db port=5432"}, // no host:port to rewrite
		{db, "", "db:5432", "127.0.0.1:9001"},
	} {
		u := mustUpstream(t, c.up, 9001)
		got, ok := rewrite(c.in, u, u.hostForms(c.ns, "cluster.local"))
		if got != c.out || ok != (c.in != c.out) {
			t.Errorf("%s in %q (ns %q): got %q (%v), want %q", c.up.Upstream, c.in, c.ns, got, ok, c.out)
		}
	}
	// Not the upstream: other hosts, other ports, longer names.
	for _, c := range []struct {
		up Upstream
		in string
	}{
		{api, "http://myapi/x"},
		{api, "http://api.example.com/x"},
		{api, "http://api-v2/x"},
		{api, "http://api:8080/x"},
		{api, "https://api/x"}, // port 443
		{api8080, "http://api/x"},
		{api8080, "api"},
		{ext, "http://quotes.example.com/x"},
		{api, "apix"},
		{api, "http://web/api"},
		{api, "http://web/api?x=1"},
		{api, "http://web/x?api"},
		{api, "/api"},
		{api, ""},
	} {
		u := mustUpstream(t, c.up, 9001)
		if got, ok := rewrite(c.in, u, u.hostForms("shop", "cluster.local")); ok || got != c.in {
			t.Errorf("%s in %q: rewritten to %q, want it left alone", c.up.Upstream, c.in, got)
		}
	}
}

func TestServerAddr(t *testing.T) {
	for up, want := range map[string]string{
		"http://api":                         "api.${POD_NAMESPACE-shop}.svc.cluster.local:80",
		"http://api.other.svc:8080":          "api.other.svc.cluster.local:8080",
		"http://api.other.svc.cluster.local": "api.other.svc.cluster.local:80",
		"https://quotes.example.com":         "quotes.example.com:443",
		"http://api.shop":                    "api.shop.svc.cluster.local:80",
		"http://api.billing":                 "api.billing:80",
		"10.1.2.3:6379":                      "10.1.2.3:6379",
		"http://[fd00::1]:8080":              "[fd00::1]:8080",
	} {
		u := mustUpstream(t, Upstream{Upstream: up}, 9001)
		if got := u.serverAddr("shop", "cluster.local"); got != want {
			t.Errorf("%s: got %s, want %s", up, got, want)
		}
	}
}

func TestUnmarshalMergesByName(t *testing.T) {
	o := Default()
	// Flags or an earlier rule created "api".
	if err := transform.SetOption(o, "api.upstream", "http://api"); err != nil {
		t.Fatal(err)
	}
	if err := transform.SetOption(o, "api.timeout", "3s"); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`[{"name":"api","env":["API_URL"]},{"upstream":"https://quotes.example.com"}]`), o); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"upstreams":[{"name":"api","circuitBreaker":{"consecutiveErrors":2}}]}`), o); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{}`), o); err != nil {
		t.Fatal(err)
	}
	if err := transform.SetOption(o, "quotes.fallback.status", "200"); err != nil {
		t.Fatal(err)
	}
	if len(o.Upstreams) != 2 {
		t.Fatalf("want 2 entries, got %+v", o.Upstreams)
	}
	a, q := o.Upstreams[0], o.Upstreams[1]
	if a.Name != "api" || a.Upstream != "http://api" || a.Timeout != "3s" || len(a.Env) != 1 || a.CircuitBreaker.ConsecutiveErrors != 2 {
		t.Errorf("api merged wrongly: %+v", a)
	}
	if q.Name != "quotes" || q.Fallback.Status != 200 {
		t.Errorf("quotes (name from the host) merged wrongly: %+v", q)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ups, _, err := o.resolve(map[int32]bool{9001: true})
	if err != nil {
		t.Fatal(err)
	}
	if ups[0].LocalPort != 9002 || ups[1].LocalPort != 9003 {
		t.Errorf("automatic ports skip the pod's 9001: got %d, %d", ups[0].LocalPort, ups[1].LocalPort)
	}
	// Defaults fill what was not set, group by group.
	if a.withDefaults().CircuitBreaker.HealthCheck.Interval != "2s" || *a.withDefaults().Retries != 2 {
		t.Errorf("defaults not applied: %+v", a.withDefaults())
	}
}

func TestOptionErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`[{"name":"api","upstream":"http://api","timeoutt":"1s"}]`, `[0] (api): unknown field "timeoutt"`},
		{`[{"env":["X"]}]`, `[0]: name: required`},
		{`"api"`, `expected {upstreams: [...]}`},
		{`{"upstreams":[{"name":"api","upstream":"http://api","metricsPort":9200}]}`, `upstreams[0] (api): unknown field "metricsPort"`},
		{`[{"name":"a","upstream":"http://a","metricsPort":9200},{"name":"b","upstream":"http://b","metricsPort":9300}]`, `a.metricsPort and b.metricsPort differ`},
		{`{"upstream":"http://api"}`, `unknown field "upstream"`},
		{`[{"name":"api","upstream":"http://api","retries":"two"}]`, `retries`},
		{`[{"upstream":"http://api"},{"upstream":"http://api:8080"}]`, `[1]: name "api" is also [0]'s`},
	} {
		o := Default()
		err := json.Unmarshal([]byte(c.json), o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.json, err, c.want)
		}
	}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "no upstreams"},
		{Options{Upstreams: []Upstream{{Name: "api", Upstream: "http://api", Timeout: "10"}}}, `api.timeout: "10": expected a duration`},
		{Options{Upstreams: []Upstream{{Name: "api", Upstream: "http://api", Protocol: "udp"}}}, `api.protocol: "udp"`},
		{Options{Upstreams: []Upstream{{Name: "API", Upstream: "http://api"}}}, `API.name`},
		{Options{Upstreams: []Upstream{{Name: "metrics", Upstream: "http://api"}}}, `reserved`},
		{Options{Upstreams: []Upstream{{Name: "db", Upstream: "db:5432", Protocol: "tcp", Fallback: Fallback{Body: "x"}}}}, `db.fallback: a canned response needs protocol http`},
		{Options{Upstreams: []Upstream{{Name: "api", Upstream: "http://api", SNI: "x"}}}, `api.sni and ca need tls: true`},
		{Options{Upstreams: []Upstream{{Name: "api", Upstream: "http://api", LocalPort: 80}}}, `api.localPort: 80`},
		{Options{Upstreams: []Upstream{{Name: "a", Upstream: "http://a", LocalPort: 9001}, {Name: "b", Upstream: "http://b", LocalPort: 9001}}}, `b.localPort: 9001 is also a.localPort`},
		{Options{Upstreams: []Upstream{{Name: "a", Upstream: "http://a", LocalPort: 9102}}}, `a.localPort: 9102 is also metricsPort`},
		{Options{Upstreams: []Upstream{{Name: "a", Upstream: "http://a"}}, Proxy: Proxy{Scrape: "carrier-pigeon"}}, `scrape: "carrier-pigeon"`},
		{Options{Upstreams: []Upstream{{Name: "a", Upstream: "http://a"}}, Proxy: Proxy{Rules: true, Scrape: "annotations"}}, `rules: need scrape auto, serviceMonitor or podMonitor`},
		{Options{Upstreams: []Upstream{{Name: "a", Upstream: "http://a"}}, Proxy: Proxy{AlertFor: "1us"}}, `alertFor: "1us": Prometheus takes ms, s, m or h`},
		{Options{Upstreams: []Upstream{{Name: "a", Upstream: "http://a", Fallback: Fallback{Status: 99}}}}, `a.fallback.status: 99`},
		{Options{Upstreams: []Upstream{{Name: "a", Upstream: "http://a", Fallback: Fallback{Body: "bell\a"}}}}, `a.fallback.body: control character`},
		{Options{Upstreams: []Upstream{{Name: "a", Upstream: "https://a.example.com", CA: &SecretKey{Name: "Bad Name"}}}}, `a.ca.name`},
	} {
		err := c.o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.o, err, c.want)
		}
	}
}

// TestCAConfig renders an upstream with a CA from a Secret and checks it
// with the real haproxy, the CA laid out where the Secret is mounted (under
// a temporary directory instead of the container's root).
func TestCAConfig(t *testing.T) {
	yes := true
	o := Options{Upstreams: []Upstream{{Name: "quotes", Upstream: "https://quotes.example.com", CA: &SecretKey{Name: "quotes-ca"}},
		{Name: "pay", Upstream: "grpcs://pay.example.com:8443", TLS: &yes, SNI: "payments.internal"}}}
	ups, px, err := o.resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := configData("Deployment shop/web", "shop", ups, px)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := templates.Render("ambassador-haproxy.cfg.tmpl", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`server-template quotes 4 "quotes.example.com:443" ssl verify required ca-file "/etc/sidecarize/ambassador/quotes/ca.crt" sni str(quotes.example.com) check-sni quotes.example.com`,
		`server-template pay 4 "pay.example.com:8443" alpn h2 ssl verify required ca-file @system-ca sni str(payments.internal) check-sni payments.internal`,
		`bind 127.0.0.1:9002 proto h2`,
		`http-request set-header Host "quotes.example.com"`,
		`http-request set-header Host "pay.example.com:8443"`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	dir := t.TempDir()
	cfg = strings.ReplaceAll(cfg, CADir, filepath.Join(dir, "mnt"))
	if err := os.MkdirAll(filepath.Join(dir, "mnt", "quotes"), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, _ := golden.SelfSigned(t, "ca.sidecarize.test")
	if err := os.WriteFile(filepath.Join(dir, "mnt", "quotes", "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, h := range golden.RequireHAProxies(t) {
		cmd := exec.Command(h.Path, "-c", "-f", filepath.Join(dir, "haproxy.cfg"))
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("haproxy %s -c: %v\n%s\n%s", h.Version, err, out, cfg)
		}
	}
}
