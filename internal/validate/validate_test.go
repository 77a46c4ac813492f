package validate

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPorts(t *testing.T) {
	for _, p := range []int64{1, 80, 65535} {
		if err := Port("port", p); err != nil {
			t.Errorf("Port(%d): %v", p, err)
		}
	}
	for _, p := range []int64{0, -5, 65536, 1 << 40} {
		if err := Port("containerPort", p); err == nil || !strings.HasPrefix(err.Error(), "containerPort: ") {
			t.Errorf("Port(%d) = %v, want an error naming the field", p, err)
		}
	}
	if err := ListenPort("proxyPort", 80); err == nil || err.Error() != "proxyPort: 80: must be between 1024 and 65535" {
		t.Errorf("ListenPort(80) = %v", err)
	}
	var s PortSet
	if err := s.Add("proxyPort", 9080); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("metricsPort", 9080); err == nil || err.Error() != "proxyPort and metricsPort are both 9080" {
		t.Errorf("duplicate port: %v", err)
	}
	if err := s.Add("adminPort", 70000); err == nil {
		t.Error("70000 accepted")
	}
}

func TestPortName(t *testing.T) {
	for _, ok := range []string{"http", "mon-metrics", "h2c", "a1"} {
		if err := PortName("name", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "HTTP", "-http", "http-", "a--b", "1234", "this-is-too-long-a-name", "a b"} {
		if PortName("name", bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDuration(t *testing.T) {
	for s, want := range map[string]string{"30s": "30s", "500ms": "500ms", "2m": "2m0s", "1h": "1h0m0s", "250us": "250µs"} {
		d, err := PositiveDuration("timeout", s)
		if err != nil || d.String() != want {
			t.Errorf("Duration(%q) = %v, %v; want %s", s, d, err, want)
		}
	}
	for _, bad := range []string{"", "5 minutes", "5", "0s", "1m30s", "-1s", "1.5s", "30S", "30s\n", "9999999999s", " 30s"} {
		if _, err := PositiveDuration("interval", bad); err == nil || !strings.HasPrefix(err.Error(), "interval: ") {
			t.Errorf("Duration(%q) = %v, want an error", bad, err)
		}
	}
}

func TestZeroDuration(t *testing.T) {
	if d, err := Duration("timeout", "0s"); err != nil || d != 0 {
		t.Errorf("Duration(0s) = %v, %v", d, err)
	}
}

func TestHTTPPath(t *testing.T) {
	for _, ok := range []string{"/", "/metrics", "/a/b-c_d.e~f", "/stats;csv", "/x%20y", "/api/v1:1@x"} {
		if err := HTTPPath("metricsPath", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "metrics", "/m#x", "/a b", "/a\tb", "/a\nb", `/a"b`, "/a'b", `/a\b`, "/a{b}", "/a?b", "/${X}", "/a\x00", "/a\x7f", "/" + strings.Repeat("a", 1024)} {
		if err := HTTPPath("metricsPath", bad); err == nil || !strings.HasPrefix(err.Error(), "metricsPath: ") {
			t.Errorf("HTTPPath(%q) = %v, want an error", bad, err)
		}
	}
}

func TestDNS(t *testing.T) {
	for _, ok := range []string{"a", "db-credentials", "x1", strings.Repeat("a", 63)} {
		if !IsDNSLabel(ok) || !IsDNSSubdomain(ok) {
			t.Errorf("%q rejected", ok)
		}
	}
	if !IsDNSSubdomain("a.b-c.d") || IsDNSLabel("a.b") {
		t.Error("subdomain vs label")
	}
	for _, bad := range []string{"", "A", "-a", "a-", "a_b", "x y", "a..b", ".a", "a.", strings.Repeat("a", 64)} {
		if IsDNSLabel(bad) || (IsDNSSubdomain(bad) && bad != strings.Repeat("a", 64)) {
			t.Errorf("%q accepted", bad)
		}
	}
	if IsDNSSubdomain(strings.Repeat("a.", 127)+"aa") || DNSSubdomain("secretRef", "x y") == nil {
		t.Error("long or spaced subdomain accepted")
	}
}

func TestImage(t *testing.T) {
	for _, ok := range []string{
		"haproxy", "haproxy:3.4-alpine", "fluent/fluent-bit:5.1.4", "docker.io/library/busybox:1.37.0",
		"registry.example.com:5000/team/app:v1.2_3", "localhost/app",
		"haproxy@sha256:" + strings.Repeat("a", 64), "haproxy:3.4@sha256:" + strings.Repeat("0", 64),
		"quay.io/prometheuscommunity/postgres-exporter:v0.20.1", "a__b/c-d---e:latest",
	} {
		if err := Image("image", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"", "haproxy:3.4\n", "haproxy 3.4", "Haproxy", "haproxy:", ":tag", "haproxy@sha256:abc",
		"haproxy@md5:" + strings.Repeat("a", 32), "a/", "/a", "a//b", "haproxy:-x", "x:" + strings.Repeat("t", 129),
		"haproxy\n---\nkind: Pod", "a:b:c", "$(IMG)",
	} {
		if err := Image("images.haproxy", bad); err == nil || !strings.HasPrefix(err.Error(), "images.haproxy: ") {
			t.Errorf("Image(%q) = %v, want an error", bad, err)
		}
	}
}

func TestSecretRef(t *testing.T) {
	for _, in := range []string{`"db"`, `{"name":"db"}`} {
		var r SecretRef
		if err := json.Unmarshal([]byte(in), &r); err != nil || r.Name != "db" {
			t.Errorf("%s: %+v %v", in, r, err)
		}
		if err := r.Validate("secretRef"); err != nil {
			t.Error(err)
		}
	}
	for _, in := range []string{`5`, `["db"]`, `{"name":"db","key":"x"}`, `{"name":5}`} {
		var r SecretRef
		if err := json.Unmarshal([]byte(in), &r); err == nil {
			t.Errorf("%s accepted: %+v", in, r)
		}
	}
	r := SecretRef{Name: "x y"}
	if err := r.Validate("secretRef"); err == nil || !strings.HasPrefix(err.Error(), `secretRef: "x y": `) {
		t.Errorf("Validate(x y) = %v", err)
	}
	b, _ := json.Marshal(&SecretRef{Name: "db"})
	if string(b) != `{"name":"db"}` {
		t.Errorf("marshal: %s", b)
	}
	var nilRef *SecretRef
	if nilRef.IsSet() {
		t.Error("nil ref is set")
	}
}

func TestPortString(t *testing.T) {
	for s, want := range map[string]int32{"1": 1, "8080": 8080, "65535": 65535, "0080": 80} {
		if got, err := PortString("port", s); err != nil || got != want {
			t.Errorf("PortString(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "65536", "-1", "+80", " 80", "80a", "0x50", "99999999999"} {
		if _, err := PortString("port", bad); err == nil || !strings.HasPrefix(err.Error(), "port: ") {
			t.Errorf("PortString(%q) = %v, want an error naming the field", bad, err)
		}
	}
}

func TestHostname(t *testing.T) {
	for _, ok := range []string{"api", "api.shop.svc.cluster.local", "api.example.com.", "_grpc.example.com", "a1-b_c", strings.Repeat("a", 63)} {
		if !IsHostname(ok) {
			t.Errorf("%q rejected", ok)
		}
	}
	for _, bad := range []string{"", ".", "-api", "api-", "API", "a..b", "a b", "a/b", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "aa"} {
		if IsHostname(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEnvName(t *testing.T) {
	for _, ok := range []string{"API_URL", "my.env-name", "_x", "a1"} {
		if err := EnvName("env", ok); err != nil {
			t.Errorf("EnvName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1A", "A B", "A=B", "$(X)", ".", "..", "..a"} {
		if err := EnvName("env[0].name", bad); err == nil || !strings.HasPrefix(err.Error(), "env[0].name: ") {
			t.Errorf("EnvName(%q) = %v, want an error naming the field", bad, err)
		}
	}
}
