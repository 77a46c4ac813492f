package ambassador

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/scrape"
)

// target is a parsed upstream.
type target struct {
	scheme string // "" for host:port
	host   string // as written (lower case), no brackets
	port   int
	// explicitPort: the port was written (not implied by the scheme).
	explicitPort bool
	ip           bool
}

// schemePorts are the default ports of the schemes whose port may be left
// out.
var schemePorts = map[string]int{"http": 80, "https": 443}

// parseUpstream reads "http://api", "https://api.example.com:8443",
// "grpc://payments:9000", "api:8080", "db.shop.svc:5432" or a bare "api"
// (HTTP, port 80).
func parseUpstream(s string) (target, error) {
	var t target
	if s == "" {
		return t, fmt.Errorf("required")
	}
	hostport := s
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil {
			return t, fmt.Errorf("%q: %v", s, err)
		}
		t.scheme = strings.ToLower(u.Scheme)
		if u.User != nil {
			return t, fmt.Errorf("%q: credentials do not belong in the upstream", s)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return t, fmt.Errorf("%q: give the upstream without a path or query: the ambassador forwards every path", s)
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port.
		host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
		p, ok := schemePorts[t.scheme]
		if t.scheme == "" {
			p, ok = 80, true
		}
		if !ok {
			return t, fmt.Errorf("%q: give a port (%s:// has no default)", s, t.scheme)
		}
		t.port = p
	} else {
		n, err := validate.PortString("", port)
		if err != nil {
			return t, fmt.Errorf("%q: bad port %q", s, port)
		}
		t.port, t.explicitPort = int(n), true
	}
	if host == "" {
		return t, fmt.Errorf("%q: no host", s)
	}
	t.host = strings.ToLower(host)
	t.ip = net.ParseIP(t.host) != nil
	if !t.ip && !validate.IsHostname(t.host) {
		return t, fmt.Errorf("%q: %q is not a valid host name", s, host)
	}
	return t, nil
}

// serviceName reports whether the host is a Service name of the workload's
// namespace (a single label), which needs the namespace and cluster domain
// appended for HAProxy's resolver: unlike libc, it does not apply
// resolv.conf's search list.
func (t target) serviceName() bool { return !t.ip && !strings.Contains(t.host, ".") }

// serviceInNamespace reports whether the host is <service>.<ns>: a Service
// of the workload's own namespace written with its namespace. Other
// two-label names are ambiguous (example.com) and resolved as they are.
func (t target) serviceInNamespace(ns string) bool {
	return !t.ip && ns != "" && strings.Count(t.host, ".") == 1 && strings.HasSuffix(t.host, "."+ns)
}

// ambiguous reports whether the host could be a Service written as
// <service>.<namespace> of another namespace, which HAProxy's resolver
// (no search list) would not find.
func (t target) ambiguous(ns string) bool {
	return !t.ip && strings.Count(t.host, ".") == 1 && !t.serviceInNamespace(ns)
}

// upstream is an entry with defaults applied and everything derived.
type upstream struct {
	Upstream
	t        target
	protocol string
	tls      bool
	sni      string
}

// resolve returns the options Validate resolved (or resolves them, when
// Validate did not run), with automatic local ports assigned: the first
// free ones from 9001, avoiding used, the ports the pod already declares.
func (o *Options) resolve(used map[int32]bool) ([]upstream, Proxy, error) {
	if o.resolved == nil {
		if err := o.Validate(); err != nil {
			return nil, o.px, err
		}
	}
	out := append([]upstream(nil), o.resolved...)
	ports := map[int32]bool{o.px.MetricsPort: true}
	for _, u := range out {
		ports[u.LocalPort] = true
	}
	// In list order, after the explicit ones are known.
	next := int32(firstLocalPort)
	for i := range out {
		if out[i].LocalPort != 0 {
			continue
		}
		for ports[next] || used[next] {
			next++
		}
		out[i].LocalPort = next
		ports[next] = true
	}
	return out, o.px, nil
}

// check applies defaults and validates every entry, the entries together
// (unique names and local ports) and the container's settings.
func (o *Options) check() ([]upstream, Proxy, error) {
	var out []upstream
	if len(o.Upstreams) == 0 {
		return nil, Proxy{}, fmt.Errorf("no upstreams: give ambassadors: {upstreams: [{upstream: http://api, env: [API_URL]}]} in the config, or the annotation sidecarize.dev/ambassador.<name>.upstream")
	}
	px := o.Proxy
	fill(reflect.ValueOf(&px).Elem(), reflect.ValueOf(DefaultProxy()))
	if err := validate.ListenPort("metricsPort", px.MetricsPort); err != nil {
		return nil, px, err
	}
	if err := validate.HTTPPath("metricsPath", px.MetricsPath); err != nil {
		return nil, px, err
	}
	so := scrape.Options{Scrape: px.Scrape, Interval: px.Interval}
	if err := so.Validate(); err != nil {
		return nil, px, err
	}
	if px.Rules {
		if err := so.CheckRules(); err != nil {
			return nil, px, err
		}
	}
	if err := scrape.CheckAlertFor("alertFor", px.AlertFor); err != nil {
		return nil, px, err
	}
	if !validate.IsHostname(px.ClusterDomain) || strings.HasSuffix(px.ClusterDomain, ".") {
		return nil, px, fmt.Errorf("clusterDomain: %q: not a DNS domain", px.ClusterDomain)
	}
	names := map[string]bool{}
	ports := map[int32]string{px.MetricsPort: "metricsPort"}
	for _, raw := range o.Upstreams {
		u, err := resolveOne(raw)
		if err != nil {
			return nil, px, fmt.Errorf("%s.%w", raw.Name, err)
		}
		if names[u.Name] {
			return nil, px, fmt.Errorf("%s: two upstreams have this name", u.Name)
		}
		names[u.Name] = true
		if u.LocalPort != 0 {
			if other, ok := ports[u.LocalPort]; ok {
				return nil, px, fmt.Errorf("%s.localPort: %d is also %s", u.Name, u.LocalPort, other)
			}
			ports[u.LocalPort] = u.Name + ".localPort"
		}
		out = append(out, u)
	}
	return out, px, nil
}

// resolveOne validates one entry; errors start with the option's name (the
// caller prefixes the entry's name and a dot).
func resolveOne(raw Upstream) (upstream, error) {
	if !validate.IsDNSLabel(raw.Name) || len(raw.Name) > 32 {
		return upstream{}, fmt.Errorf("name: %q: must be a lower-case DNS label of at most 32 characters", raw.Name)
	}
	if raw.Name == "metrics" {
		return upstream{}, fmt.Errorf("name: %q is reserved for the metrics endpoint", raw.Name)
	}
	t, err := parseUpstream(raw.Upstream)
	if err != nil {
		return upstream{}, fmt.Errorf("upstream: %w", err)
	}
	u := upstream{Upstream: raw.withDefaults(), t: t}
	// Protocol: given, else from the scheme.
	u.protocol = raw.Protocol
	if u.protocol == "" {
		switch t.scheme {
		case "", "http", "https":
			u.protocol = "http"
		case "grpc", "grpcs":
			u.protocol = "grpc"
		default:
			u.protocol = "tcp"
		}
	}
	switch u.protocol {
	case "http", "grpc", "tcp":
	default:
		return u, fmt.Errorf("protocol: %q: must be http, grpc or tcp", u.protocol)
	}
	if (t.scheme == "http" || t.scheme == "https") && u.protocol == "tcp" {
		return u, fmt.Errorf("protocol: tcp, but the upstream is an %s:// URL", t.scheme)
	}
	u.tls = t.scheme == "https" || t.scheme == "grpcs"
	if raw.TLS != nil {
		u.tls = *raw.TLS
	}
	if t.scheme == "https" && !u.tls {
		return u, fmt.Errorf("tls: false, but the upstream is an https:// URL")
	}
	if !u.tls && (raw.SNI != "" || raw.CA != nil) {
		return u, fmt.Errorf("sni and ca need tls: true")
	}
	u.sni = raw.SNI
	if u.sni == "" && !t.ip {
		u.sni = t.host
	}
	if u.sni != "" && !validate.IsHostname(u.sni) {
		return u, fmt.Errorf("sni: %q: not a host name", u.sni)
	}
	if u.CA != nil {
		if err := validate.Secret("ca.name", u.CA.Name); err != nil {
			return u, err
		}
		if u.CA.Key == "" {
			u.CA.Key = "ca.crt"
		}
		if err := validate.SecretKey("ca.key", u.CA.Key); err != nil {
			return u, err
		}
	}
	for _, e := range u.Env {
		if err := validate.EnvName("env", e); err != nil {
			return u, err
		}
	}
	if u.LocalPort != 0 {
		if err := validate.ListenPort("localPort", u.LocalPort); err != nil {
			return u, err
		}
	}
	for _, d := range []struct{ name, v string }{
		{"timeout", u.Timeout}, {"connectTimeout", u.ConnectTimeout},
		{"circuitBreaker.healthCheck.interval", u.CircuitBreaker.HealthCheck.Interval},
		{"circuitBreaker.recoverAfter", u.CircuitBreaker.RecoverAfter},
	} {
		if _, err := validate.PositiveDuration(d.name, d.v); err != nil {
			return u, err
		}
	}
	if *u.Retries < 0 || *u.Retries > 10 {
		return u, fmt.Errorf("retries: %d: must be between 0 and 10", *u.Retries)
	}
	if u.Addresses < 1 || u.Addresses > 64 {
		return u, fmt.Errorf("addresses: %d: must be between 1 and 64", u.Addresses)
	}
	if u.MaxConnections < 1 {
		return u, fmt.Errorf("maxConnections: %d: must be at least 1", u.MaxConnections)
	}
	cb := u.CircuitBreaker
	if cb.ConsecutiveErrors < 1 || cb.ConsecutiveErrors > 1000 {
		return u, fmt.Errorf("circuitBreaker.consecutiveErrors: %d: must be between 1 and 1000", cb.ConsecutiveErrors)
	}
	if p := cb.HealthCheck.Path; p != "" {
		if err := validate.HTTPPath("circuitBreaker.healthCheck.path", p); err != nil {
			return u, err
		}
	}
	fb := raw.Fallback
	if u.protocol != "http" && (fb.Status != 0 || fb.ContentType != "" || fb.Body != "" || fb.Passthrough != nil && *fb.Passthrough) {
		return u, fmt.Errorf("fallback: a canned response needs protocol http (a %s upstream fails fast while the circuit is open: gRPC clients see UNAVAILABLE)", u.protocol)
	}
	if s := u.Fallback.Status; s < 200 || s > 599 {
		return u, fmt.Errorf("fallback.status: %d: must be between 200 and 599", s)
	}
	for _, c := range u.Fallback.Body {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			return u, fmt.Errorf("fallback.body: control character %q: only text, tabs and line breaks", c)
		}
	}
	if ct := u.Fallback.ContentType; ct == "" || strings.ContainsAny(ct, "\r\n") {
		return u, fmt.Errorf("fallback.contentType: %q: must be one line", ct)
	}
	return u, nil
}

// rise is how many health checks in a row must pass, at the check
// interval, to cover recoverAfter.
func (u upstream) rise() int {
	iv, _ := validate.PositiveDuration("", u.CircuitBreaker.HealthCheck.Interval)
	ra, _ := validate.PositiveDuration("", u.CircuitBreaker.RecoverAfter)
	n := int(math.Ceil(float64(ra) / float64(iv)))
	if n < 1 {
		n = 1
	}
	return n
}

// serverAddr is the address HAProxy connects to: Service names completed
// with the pod's namespace (from the POD_NAMESPACE env var, set from the
// downward API; ns is only the fallback HAProxy uses when the variable is
// unset, e.g. for `haproxy -c`) and the cluster domain.
func (u upstream) serverAddr(ns, clusterDomain string) string {
	host := u.t.host
	switch {
	case u.t.ip:
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	case u.t.serviceName():
		host = fmt.Sprintf("%s.${POD_NAMESPACE-%s}.svc.%s", host, ns, clusterDomain)
	case strings.HasSuffix(host, ".svc"):
		host += "." + clusterDomain
	case u.t.serviceInNamespace(ns):
		host += ".svc." + clusterDomain
	}
	return fmt.Sprintf("%s:%d", host, u.t.port)
}

// hostHeader is the Host the app sent before its traffic was redirected to
// 127.0.0.1: the upstream's host, with the port when it is not the
// scheme's default.
func (u upstream) hostHeader() string {
	h := u.t.host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	def := 80
	if u.tls {
		def = 443
	}
	if u.t.port != def {
		h += ":" + strconv.Itoa(u.t.port)
	}
	return h
}

// hostForms are the ways the app may write the upstream's host: as written,
// and for a Service name its longer forms in the workload's namespace.
// Longest first.
func (u upstream) hostForms(ns, clusterDomain string) []string {
	h := u.t.host
	if !u.t.serviceName() || ns == "" {
		return []string{h}
	}
	return []string{h + "." + ns + ".svc." + clusterDomain, h + "." + ns + ".svc", h + "." + ns, h}
}

// rewrite replaces every reference to the upstream in s (a URL, host:port,
// or a longer text such as --api=http://api/v1) by the ambassador's local
// address, keeping scheme, user info, path, query and fragment. A scheme
// the ambassador terminates (https, grpcs) becomes its plain-text form: TLS
// is originated by the ambassador. It reports whether anything matched.
func rewrite(s string, u upstream, forms []string) (string, bool) {
	lower := asciiLower(s)
	var b strings.Builder
	matched := false
	i := 0
	for i < len(s) {
		start, end := -1, -1
		for _, f := range forms {
			if strings.HasPrefix(lower[i:], f) && boundaryBefore(lower, i) {
				start, end = i, i+len(f)
				break
			}
		}
		if start < 0 {
			b.WriteByte(s[i])
			i++
			continue
		}
		// Port: written, or implied by the scheme in front.
		scheme, schemeStart := schemeBefore(lower, start)
		if scheme == "" && inPath(lower, start) {
			// "http://web/api": a path segment, not a host.
			b.WriteByte(s[i])
			i++
			continue
		}
		port, portEnd := -1, end
		if end < len(s) && s[end] == ':' {
			j := end + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j > end+1 {
				port, _ = strconv.Atoi(s[end+1 : j])
				portEnd = j
			}
		}
		if !boundaryAfter(lower, portEnd) {
			b.WriteByte(s[i])
			i++
			continue
		}
		if port < 0 {
			switch {
			case schemePorts[scheme] != 0:
				port = schemePorts[scheme]
			case scheme == "" && !u.t.explicitPort:
				port = u.t.port // a bare host stands for the upstream as given
			}
		}
		if port != u.t.port {
			b.WriteByte(s[i])
			i++
			continue
		}
		matched = true
		if u.tls && schemeStart >= 0 && (scheme == "https" || scheme == "grpcs") {
			// Drop the "s": the app talks plain text to the ambassador.
			out := b.String()
			cut := len(out) - (start - schemeStart) // position of the scheme in out
			b.Reset()
			b.WriteString(out[:cut])
			b.WriteString(s[schemeStart : schemeStart+len(scheme)-1])
			b.WriteString(out[cut+len(scheme):])
		}
		fmt.Fprintf(&b, "127.0.0.1:%d", u.LocalPort)
		i = portEnd
	}
	return b.String(), matched
}

// boundaryBefore: the host starts the text or follows a separator, never
// the middle of a longer name ("myapi").
func boundaryBefore(s string, i int) bool {
	if i == 0 {
		return true
	}
	return !isNameChar(s[i-1])
}

// inPath reports whether position i (with no scheme in front) is inside a
// URL's path, query or fragment rather than a host: after a / ? # & or ;
// that is not the "//" of a scheme-relative URL.
func inPath(s string, i int) bool {
	if i == 0 {
		return false
	}
	switch s[i-1] {
	case '/':
		return !(i >= 2 && s[i-2] == '/' && (i == 2 || s[i-3] != '/'))
	case '?', '#', '&', ';':
		return true
	}
	return false
}

// boundaryAfter: the host (and port) end the text or are followed by a
// separator such as / ? # , space or a quote — not more name ("api.example").
func boundaryAfter(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	c := s[i]
	return !isNameChar(c) && c != ':'
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c >= 'A' && c <= 'Z'
}

// schemeBefore returns the scheme of a URL whose host starts at i
// ("http" for "http://api", also across user info "http://u:p@api") and the
// scheme's start, or "", -1.
func schemeBefore(s string, i int) (string, int) {
	j := i
	if at := strings.LastIndexByte(s[:i], '@'); at >= 0 && at == i-1 {
		// Skip back over user info to the "//".
		k := strings.LastIndex(s[:at], "//")
		if k < 0 {
			return "", -1
		}
		j = k + 2
	}
	if j < 3 || s[j-3:j] != "://" {
		return "", -1
	}
	k := j - 3
	start := k
	for start > 0 && (s[start-1] >= 'a' && s[start-1] <= 'z' || s[start-1] >= '0' && s[start-1] <= '9' || s[start-1] == '+' || s[start-1] == '-' || s[start-1] == '.') {
		start--
	}
	if start == k {
		return "", -1
	}
	return s[start:k], start
}

// asciiLower lowers ASCII letters only, so indices stay those of s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
