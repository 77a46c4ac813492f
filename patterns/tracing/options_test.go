package tracing

import (
	"strings"
	"testing"
)

func TestParseTargetAndLocal(t *testing.T) {
	tests := map[string]struct {
		in, authority, host string
		port                int32
		local               string // Local(9000)
		err                 string
	}{
		"host:port":              {in: "service2:8000", authority: "service2:8000", host: "service2", port: 8000, local: "127.0.0.1:9000"},
		"host:port/path":         {in: "stock:8000/api?x=1", authority: "stock:8000", host: "stock", port: 8000, local: "127.0.0.1:9000/api?x=1"},
		"url default port":       {in: "http://backend", authority: "backend", host: "backend", port: 80, local: "http://127.0.0.1:9000"},
		"url path query frag":    {in: "http://u:p@orders.shop:8080/v1/o?limit=10#top", authority: "orders.shop:8080", host: "orders.shop", port: 8080, local: "http://u:p@127.0.0.1:9000/v1/o?limit=10#top"},
		"ip":                     {in: "10.0.0.7:80", authority: "10.0.0.7:80", host: "10.0.0.7", port: 80, local: "127.0.0.1:9000"},
		"ipv6 url":               {in: "http://[fd00::1]:8080/", authority: "[fd00::1]:8080", host: "fd00::1", port: 8080, local: "http://127.0.0.1:9000/"},
		"https":                  {in: "https://api.example.com/v2?k=v", authority: "api.example.com", host: "api.example.com", port: 443, local: "http://127.0.0.1:9000/v2?k=v"},
		"https with port":        {in: "https://api.example.com:8443", authority: "api.example.com:8443", host: "api.example.com", port: 8443, local: "http://127.0.0.1:9000"},
		"other scheme":           {in: "redis://cache:6379", err: `scheme "redis"`},
		"no port":                {in: "service2", err: "expected host:port"},
		"bad port":               {in: "service2:99999", err: "expected host:port"},
		"empty":                  {in: "", err: "empty address"},
		"env reference":          {in: "$(HOST):80", err: "expected host:port"},
		"url without host":       {in: "http://:8080/x", err: "no host"},
		"url with bad port":      {in: "http://a:0", err: "bad port"},
		"url port out of range":  {in: "http://a:70000", err: "bad port"},
		"host:port trailing ?":   {in: "a:1?", authority: "a:1", host: "a", port: 1, local: "127.0.0.1:9000?"},
		"fqdn service host:port": {in: "payments.billing.svc.cluster.local:9090", authority: "payments.billing.svc.cluster.local:9090", host: "payments.billing.svc.cluster.local", port: 9090, local: "127.0.0.1:9000"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseTarget(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseTarget(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Authority() != tc.authority || got.Host != tc.host || got.Port != tc.port {
				t.Errorf("parseTarget(%q) = %s %s %d, want %s %s %d", tc.in, got.Authority(), got.Host, got.Port, tc.authority, tc.host, tc.port)
			}
			if l := got.Local(9000); l != tc.local {
				t.Errorf("Local(9000) = %q, want %q", l, tc.local)
			}
		})
	}
}

func TestParseZipkin(t *testing.T) {
	tests := map[string]struct{ in, want, err string }{
		"host:port gets the v2 path": {in: "jaeger-collector:9411", want: "http://jaeger-collector:9411/api/v2/spans"},
		"url kept":                   {in: "http://zipkin.obs:9411/api/v2/spans", want: "http://zipkin.obs:9411/api/v2/spans"},
		"url without path":           {in: "http://zipkin:9411", err: "no span endpoint path"},
		"host:port with path":        {in: "zipkin:9411/custom", err: "full http:// URL"},
		"https":                      {in: "https://zipkin.example/api/v2/spans", want: "https://zipkin.example/api/v2/spans"},
		"other scheme":               {in: "grpc://zipkin:9411/api/v2/spans", err: "scheme"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseZipkin(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseZipkin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestEnvoyDuration(t *testing.T) {
	for in, want := range map[string]string{"60s": "60s", "150s": "150s", "500ms": "0.5s", "0s": "0s", "1h": "3600s"} {
		if got, err := envoyDuration(in); err != nil || got != want {
			t.Errorf("envoyDuration(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "60", "-1s", "soon", "2m30s", "5 minutes"} {
		if _, err := envoyDuration(bad); err == nil {
			t.Errorf("envoyDuration(%q): no error", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		edit func(*Options)
		err  string
	}{
		"defaults":            {edit: func(*Options) {}},
		"otlp":                {edit: func(o *Options) { o.Tracer = OTLP }},
		"bad protocol":        {edit: func(o *Options) { o.Protocol = "tcp" }, err: "protocol"},
		"low port":            {edit: func(o *Options) { o.ProxyPort = 80 }, err: "proxyPort: 80"},
		"same ports":          {edit: func(o *Options) { o.MetricsPort = o.AdminPort }, err: "adminPort and metricsPort are both 9901"},
		"bad tracer":          {edit: func(o *Options) { o.Tracer = "jaeger" }, err: "tracer"},
		"bad zipkin":          {edit: func(o *Options) { o.Zipkin.Collector = "jaeger" }, err: "zipkin.collector"},
		"bad otlp":            {edit: func(o *Options) { o.Tracer, o.OTLP.Collector = OTLP, "otel" }, err: "otlp.collector"},
		"otlp ignores zipkin": {edit: func(o *Options) { o.Tracer, o.Zipkin.Collector = OTLP, "bad" }},
		"sampling":            {edit: func(o *Options) { o.SamplingPercent = 101 }, err: "samplingPercent"},
		"sampling zero":       {edit: func(o *Options) { o.SamplingPercent = 0 }},
		"timeout":             {edit: func(o *Options) { o.Timeout = "1 minute" }, err: "timeout"},
		"bad scrape":          {edit: func(o *Options) { o.Scrape = "pull" }, err: "scrape"},
		"rules":               {edit: func(o *Options) { o.Rules = true }},
		"rules annotations":   {edit: func(o *Options) { o.Rules, o.Scrape = true, "annotations" }, err: "rules: need scrape auto"},
		"rules ratio":         {edit: func(o *Options) { o.Rules, o.ErrorRatio = true, 1 }, err: "errorRatio: 1: must be between 0 and 1"},
		"alertFor":            {edit: func(o *Options) { o.AlertFor = "soon" }, err: "alertFor"},
		"upstream ok": {edit: func(o *Options) {
			o.Upstreams = []Upstream{{Name: "a", Env: "A", LocalPort: 9001}, {Name: "b_2", Upstream: "b:80", LocalPort: 9002, Protocol: "http2"}}
		}},
		"upstream name": {edit: func(o *Options) {
			o.Upstreams = []Upstream{{Name: "A B", Env: "A", LocalPort: 9001}}
		}, err: "upstreams[0].name"},
		"upstream twice": {edit: func(o *Options) {
			o.Upstreams = []Upstream{{Name: "a", Env: "A", LocalPort: 9001}, {Name: "a", Env: "B", LocalPort: 9002}}
		}, err: `upstreams[1].name: "a" is used twice`},
		"upstream nothing": {edit: func(o *Options) {
			o.Upstreams = []Upstream{{Name: "a", LocalPort: 9001}}
		}, err: "set upstream, env or both"},
		"upstream address": {edit: func(o *Options) {
			o.Upstreams = []Upstream{{Name: "a", Upstream: "ftp://x", LocalPort: 9001}}
		}, err: "upstreams[0].upstream"},
		"otlp url": {edit: func(o *Options) { o.Tracer, o.OTLP.Collector = OTLP, "http://otel:4317" }, err: "expected host:port"},
		"upstream port missing": {edit: func(o *Options) {
			o.Upstreams = []Upstream{{Name: "a", Env: "A"}}
		}, err: "upstreams[0].localPort: 0"},
		"upstream port collides": {edit: func(o *Options) {
			o.Upstreams = []Upstream{{Name: "a", Env: "A", LocalPort: 10000}}
		}, err: "proxyPort and upstreams[0].localPort are both 10000"},
		"upstream protocol": {edit: func(o *Options) {
			o.Upstreams = []Upstream{{Name: "a", Env: "A", LocalPort: 9001, Protocol: "grpc"}}
		}, err: "upstreams[0].protocol"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := Default()
			tc.edit(o)
			err := o.Validate()
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error = %v, want %q", err, tc.err)
			}
		})
	}
}

// Clusters for loopback and IP addresses are STATIC; names are STRICT_DNS,
// re-resolved so that Service changes are followed.
func TestNewCluster(t *testing.T) {
	for _, tc := range []struct {
		host, typ, family string
		h2                bool
	}{
		{"127.0.0.1", "STATIC", "", false},
		{"fd00::1", "STATIC", "", true},
		{"service2", "STRICT_DNS", "V4_PREFERRED", true},
	} {
		c := newCluster("c", tc.host, 80, tc.h2, false)
		if c.Type != tc.typ || c.DNSLookupFamily != tc.family || (len(c.TypedExtensionProtocolOptions) > 0) != tc.h2 || c.TransportSocket != nil {
			t.Errorf("newCluster(%s, h2=%v) = %+v", tc.host, tc.h2, c)
		}
	}
	// TLS: SNI and a DNS SAN for names; no SNI and an IP SAN for addresses.
	for _, tc := range []struct{ host, sni, san string }{
		{"api.example.com", "api.example.com", "DNS"},
		{"203.0.113.9", "", "IP_ADDRESS"},
	} {
		c := newCluster("c", tc.host, 443, true, true)
		ts := c.TransportSocket
		if ts == nil || ts.TypedConfig.SNI != tc.sni || ts.TypedConfig.CommonTLSContext.ValidationContext.MatchTypedSubjectAltNames[0].SANType != tc.san ||
			ts.TypedConfig.CommonTLSContext.ValidationContext.TrustedCA.Filename != CABundle || ts.TypedConfig.CommonTLSContext.ALPNProtocols[0] != "h2" {
			t.Errorf("newCluster(%s, tls) = %+v", tc.host, ts)
		}
	}
}
