package podsim

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseHAProxyConfig(t *testing.T) {
	cfg := ParseHAProxyConfig(`
global
    maxconn 10
defaults
    mode http
frontend metrics
    bind *:9101
    http-request use-service prometheus-exporter if { path /metrics }
frontend app # comment
    bind :9080 proto h2
    default_backend be_app
frontend raw
    mode tcp
    bind 0.0.0.0:9081
    use_backend be_up
frontend tls
    bind *:8443 ssl crt tls.crt alpn h2,http/1.1
    default_backend be_app
frontend redirect
    bind *:8080
    http-request redirect scheme https code 301
backend be_app
    server app 127.0.0.1:8080 proto h2
backend be_up
    mode tcp
    server-template up 4 "db.${NS-shop}.svc.cluster.local:5432" ssl resolvers cluster
`)
	var got []string
	for _, f := range cfg.Frontends {
		got = append(got, f.Name+"="+f.Protocol())
	}
	want := []string{"metrics=metrics", "app=grpc", "raw=outbound-tcp", "tls=https", "redirect=redirect"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("protocols: got %v, want %v", got, want)
	}
	if !reflect.DeepEqual(cfg.BackendPorts, []int{8080}) {
		t.Errorf("backend ports: %v", cfg.BackendPorts)
	}
	up := cfg.Servers[1]
	if up.Host != "db.${NS-shop}.svc.cluster.local" || up.Port != 5432 || !up.SSL || up.Loopback() {
		t.Errorf("server-template: %+v", up)
	}
	if h := expandEnv(up.Host, []string{"X=1"}); h != "db.shop.svc.cluster.local" {
		t.Errorf("expandEnv default: %q", h)
	}
	if h := expandEnv(up.Host, []string{"NS=prod"}); h != "db.prod.svc.cluster.local" {
		t.Errorf("expandEnv: %q", h)
	}
}

func TestParseMetrics(t *testing.T) {
	ss, err := ParseMetrics(strings.NewReader(`# HELP haproxy_frontend_http_requests_total Total.
# TYPE haproxy_frontend_http_requests_total counter
haproxy_frontend_http_requests_total{proxy="app"} 3
haproxy_frontend_http_requests_total{proxy="metrics"} 7
haproxy_backend_http_responses_total{proxy="be_app",code="5xx"} 1
haproxy_process_nbthread 2
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := Sum(ss, "haproxy_frontend_http_requests_total", "proxy", "app"); got != 3 {
		t.Errorf("sum app = %v", got)
	}
	if got := Sum(ss, "haproxy_frontend_http_requests_total", "", ""); got != 10 {
		t.Errorf("sum all = %v", got)
	}
	if !Has(ss, "haproxy_process_nbthread", "", "") || Has(ss, "haproxy_frontend_http_requests_total", "proxy", "x") {
		t.Error("Has")
	}
}

func TestRewritePath(t *testing.T) {
	mounts := []string{"/usr/local/etc/haproxy", "/etc/sidecarize/tls/tls.crt"}
	for in, want := range map[string]string{
		"/usr/local/etc/haproxy/haproxy.cfg": "/r/usr/local/etc/haproxy/haproxy.cfg",
		"/usr/local/etc/haproxy":             "/r/usr/local/etc/haproxy",
		"--config=/usr/local/etc/haproxy/x":  "--config=/r/usr/local/etc/haproxy/x",
		"/usr/local/etc/haproxyX":            "/usr/local/etc/haproxyX",
		"-db":                                "-db",
		"/etc/sidecarize/tls/tls.crt":        "/r/etc/sidecarize/tls/tls.crt",
	} {
		if got := rewritePath(in, "/r", mounts); got != want {
			t.Errorf("rewritePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBystanders: a Service over an injected workload and one that carries
// no injection names the latter (sidecarize leaves such a Service as it
// was); over two injected workloads, or over one, none.
func TestBystanders(t *testing.T) {
	data, err := os.ReadFile("../../testdata/annotation-bystander/expected.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pods, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	var web *Pod
	for _, p := range pods {
		if p.Workload == "Deployment/default/web-a" {
			web = p
		}
	}
	if web == nil {
		t.Fatal("web-a not loaded")
	}
	if got := web.Bystanders["web"]; len(got) != 1 || got[0] != "Deployment/web-b" {
		t.Errorf("Service web: bystanders %v, want [Deployment/web-b]", got)
	}
	if got := web.Bystanders["web-a-only"]; len(got) != 0 {
		t.Errorf("Service web-a-only: bystanders %v, want none", got)
	}
	// Both injected: no bystander (a bypass is then a failure again).
	both := strings.ReplaceAll(string(data), "name: web-b", "name: web-b\n  annotations: {sidecarize.dev/status: '{\"patterns\":[\"monitor\"]}'}")
	if pods, err = Load([]byte(both)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if p.Workload == "Deployment/default/web-a" && len(p.Bystanders["web"]) != 0 {
			t.Errorf("web-b injected: bystanders %v, want none", p.Bystanders["web"])
		}
	}
}
