package templates_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns/haproxy"
	"github.com/sidecarize/sidecarize/templates"
)

func TestWord(t *testing.T) {
	for in, want := range map[string]string{
		"/metrics":    "/metrics",
		"/a/b-c_d.e~": "/a/b-c_d.e~",
		"/m#x":        `"/m#x"`,
		"/m x":        `"/m x"`,
		`/m"x`:        `"/m\"x"`,
		`/m\x`:        `"/m\\x"`,
		"/m\nx":       `"/m\nx"`,
		"/${HOME}":    `"/\${HOME}"`,
		"":            `""`,
	} {
		if got := templates.Word(in); got != want {
			t.Errorf("Word(%q) = %s, want %s", in, got, want)
		}
	}
}

// Hostile strings reach the shared blocks and the ambassador's canned
// response only through word/quote: every rendered config loads on every
// HAProxy of the matrix (the patterns refuse most of these values before;
// this proves the quoting layer on its own).
func TestHostileStringsLoad(t *testing.T) {
	hostile := []string{"/m#x", "/m x", `/m"x`, "/m'x", `/m\x`, "/m\nx", "/${HOME}", "/{x}", "/%[src]", "/m;x", "\t"}
	for _, v := range hostile {
		monitor := map[string]any{
			"Workload": "Deployment web", "AppPort": 8080, "ProxyPort": 9080, "MetricsPort": 9101,
			"MetricsPath": v, "Mode": "http", "H2": false, "MaxConnections": 100, "SSL": nil,
			"Defaults": haproxy.FrontDefaults("http", "60s"),
		}
		cfg, err := templates.Render("haproxy-monitor.cfg.tmpl", monitor)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(cfg, "if { path "+templates.Word(v)+" }") {
			t.Errorf("metricsPath %q not written as one word:\n%s", v, cfg)
		}
		golden.HAProxyCheck(t, "monitor metricsPath="+v, cfg)

		ambassador := map[string]any{
			"Workload": "Deployment web", "MaxConnections": 100, "MetricsPort": 9102, "MetricsPath": v, "Resolvers": false,
			"SSL": nil, "Defaults": haproxy.Defaults{ClientTimeout: "60s"},
			"Upstreams": []map[string]any{{
				"Name": "api", "Upstream": "http://127.0.0.1:8081", "Protocol": "http", "Mode": "http",
				"H2": false, "TLS": false, "DNS": false, "LocalPort": 9001, "Addr": "127.0.0.1:8081",
				"HostHeader": "api" + v, "SNI": "", "CAFile": "", "Timeout": "5s", "ConnectTimeout": "1s",
				"CheckTimeout": "1s", "Retries": 1, "RetryOn": true, "IdempotentOnly": true, "MaxConn": 10,
				"Slots": 0, "Breaker": true, "HTTPCheck": true, "Observe": "layer7", "ErrorLimit": 3, "Rise": 2,
				"Interval": "1s", "CheckPath": "/health" + v, "Fallback": true, "Status": 503,
				"ContentType": "text/plain" + v, "Body": "down" + v,
			}},
		}
		cfg, err = templates.Render("ambassador-haproxy.cfg.tmpl", ambassador)
		if err != nil {
			t.Fatal(err)
		}
		golden.HAProxyCheck(t, "ambassador strings with "+v, cfg)
	}
}

// The sections every haproxy.cfg shares are written once, in
// haproxy-base.cfg.tmpl: the patterns' templates use its blocks.
func TestSharedSectionsOnce(t *testing.T) {
	shared := regexp.MustCompile(`(?m)^(global|defaults|frontend metrics)\b|^\s*ssl-default-bind-|^\s*timeout (client|http-keep-alive)\b`)
	files, err := filepath.Glob("*.cfg.tmpl")
	if err != nil || len(files) < 4 {
		t.Fatalf("templates: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		found := shared.FindAllString(string(b), -1)
		if f == "haproxy-base.cfg.tmpl" {
			if len(found) < 5 {
				t.Errorf("%s defines only %q", f, found)
			}
			continue
		}
		if len(found) > 0 {
			t.Errorf("%s writes %q itself: use haproxy-base.cfg.tmpl's blocks", f, found)
		}
	}
}
