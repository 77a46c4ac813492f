package ambassador

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// Options are the ambassador's upstreams and the settings of its one HAProxy
// container: in a config rule `ambassadors: {upstreams: [...], metricsPort:
// …}`. Flags and annotations address an upstream by its name directly under
// the pattern (sidecarize.dev/ambassador.api.upstream: http://api) and the
// container's settings by theirs (sidecarize.dev/ambassador.metricsPort).
// An upstream whose name is already listed is merged into it, so later
// layers (config rules, then annotations) refine entries instead of
// duplicating them.
//
// Older configs give the upstreams as a bare list, the container's settings
// on any entry (`ambassadors: [{upstream: …, metricsPort: …}]`): they are
// read as before (UnmarshalJSON), and so are annotations that set a
// container setting under an upstream's name (transform.SetOption).
type Options struct {
	// Upstreams are the upstreams the app calls, addressed by name.
	Upstreams []Upstream `json:"upstreams,omitempty" options:"byname"`
	Proxy

	// The options resolved (defaults applied, validated) by Validate, for
	// Inject: resolving once.
	resolved []upstream
	px       Proxy
}

// Upstream is one upstream the app calls. A zero field means "default"
// (DefaultUpstream); fields whose zero value is meaningful are pointers.
type Upstream struct {
	// Name identifies the upstream: the entry's key in annotations and
	// flags, HAProxy's frontend/backend name (the proxy label of its
	// metrics) and part of generated names.
	Name string `json:"name,omitempty" doc:"name of the upstream (default: the first label of its host)"`
	// Upstream is where the app's traffic goes: a URL or host:port, the host
	// a Service name (same namespace), a Service FQDN or an external host.
	Upstream string `json:"upstream,omitempty" doc:"URL or host:port of the upstream: a Service name, a Service FQDN or an external host"`
	// Env names the app env vars that point at the upstream; their values
	// are rewritten to the ambassador's local address (path and query kept).
	Env []string `json:"env,omitempty" doc:"app env vars whose value points at the upstream; rewritten to the local address"`
	// Args rewrites occurrences of the upstream in the app containers' args.
	Args *bool `json:"args,omitempty" doc:"also rewrite the upstream where it appears in the app containers' args"`
	// LocalPort is the port the ambassador listens on, on 127.0.0.1.
	LocalPort int32 `json:"localPort,omitempty" doc:"port on 127.0.0.1 the app's traffic goes to (default: the first free port from 9001)"`
	// Protocol is http, grpc or tcp.
	Protocol string `json:"protocol,omitempty" doc:"http | grpc (h2 both sides) | tcp (default: from the URL scheme, else http)"`
	// Timeout bounds the wait for the upstream's response (and the time a
	// request may queue for a connection slot).
	Timeout string `json:"timeout,omitempty" doc:"response timeout per attempt; also the longest wait for a free connection"`
	// ConnectTimeout bounds connection set-up.
	ConnectTimeout string `json:"connectTimeout,omitempty" doc:"connect timeout"`
	// Retries after a failed attempt: connection failures always, empty or
	// 502/503/504 responses for idempotent methods (unless
	// RetryNonIdempotent).
	Retries *int `json:"retries,omitempty" doc:"retries after a connection failure or a 502/503/504/empty response"`
	// RetryNonIdempotent also retries POST/PATCH on bad responses.
	RetryNonIdempotent bool `json:"retryNonIdempotent,omitempty" doc:"retry non-idempotent methods (POST, PATCH) on bad responses too"`
	// MaxConnections caps concurrent connections to each of the upstream's
	// addresses; more requests wait (up to Timeout) for a free one.
	MaxConnections int `json:"maxConnections,omitempty" doc:"maximum concurrent connections per upstream address"`
	// Addresses is how many of the addresses DNS returns for the upstream's
	// name are used at once (HAProxy server-template slots): one is enough
	// for a Service's ClusterIP; a headless Service or a scaled external
	// endpoint has more, and each is checked and taken out on its own.
	Addresses int `json:"addresses,omitempty" doc:"how many of the DNS name's addresses are balanced over (each with its own breaker)"`
	// CircuitBreaker takes a failing upstream out.
	CircuitBreaker CircuitBreaker `json:"circuitBreaker,omitempty"`
	// Fallback is what the app gets while the circuit is open.
	Fallback Fallback `json:"fallback,omitempty"`
	// TLS originates TLS to the upstream (the app speaks plain text to the
	// ambassador).
	TLS *bool `json:"tls,omitempty" doc:"originate TLS to the upstream (default: true for https:// and grpcs://)"`
	// SNI is the server name sent and verified.
	SNI string `json:"sni,omitempty" doc:"TLS server name, sent and verified (default: the upstream host)"`
	// CA verifies the upstream's certificate with a CA from a Secret
	// (default: the image's system CAs).
	CA *SecretKey `json:"ca,omitempty" doc:"Secret holding the CA that signs the upstream's certificate (default: system CAs)" consent:"secrets"`
}

// Proxy are the settings of the ambassador container as a whole.
type Proxy struct {
	// MetricsPort serves Prometheus metrics (on all addresses, for scraping).
	MetricsPort int32 `json:"metricsPort,omitempty" doc:"port of the Prometheus endpoint (container-wide)"`
	// MetricsPath is the metrics URL path.
	MetricsPath string `json:"metricsPath,omitempty" doc:"path of the Prometheus endpoint (container-wide)"`
	// Scrape is auto, serviceMonitor, podMonitor, annotations or none
	// (docs/contract.md#scraping).
	Scrape string `json:"scrape,omitempty" doc:"auto | serviceMonitor | podMonitor | annotations | none (container-wide; auto: serviceMonitor when the cluster serves monitoring.coreos.com/v1)"`
	// Interval between scrapes.
	Interval string `json:"interval,omitempty" doc:"scrape interval (container-wide)"`
	// ClusterDomain completes Service names for DNS (HAProxy's resolver
	// does not use resolv.conf search domains).
	ClusterDomain string `json:"clusterDomain,omitempty" doc:"cluster DNS domain that completes Service names (container-wide)"`
	// Resources overrides the container's requests and limits.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty" doc:"requests and limits of the ambassador container (container-wide)"`
	// Rules adds a PrometheusRule: the canned responses per upstream and an
	// alert while an upstream has no server up (its circuit is open).
	Rules bool `json:"rules,omitempty" doc:"add a PrometheusRule: canned responses per upstream, alert while an upstream's circuit is open (container-wide)"`
	// AlertFor is how long an upstream stays without a server before the
	// alert fires (the rule's for:).
	AlertFor string `json:"alertFor,omitempty" doc:"how long an upstream has no server up before the alert fires (container-wide)"`
	// Dashboard adds the upstreams' panels to the workload's Grafana
	// dashboard.
	Dashboard *bool `json:"dashboard,omitempty" doc:"panels in the workload's Grafana dashboard: per upstream request rate, 5xx ratio, response time, connections, servers up (circuit) and canned responses (container-wide)"`
}

// CircuitBreaker options.
type CircuitBreaker struct {
	// Enabled turns the breaker (and health checks) on.
	Enabled *bool `json:"enabled,omitempty" doc:"take the upstream out after consecutive errors"`
	// ConsecutiveErrors in a row (5xx except 501/505, timeouts, connection
	// errors) open the circuit.
	ConsecutiveErrors int `json:"consecutiveErrors,omitempty" doc:"failed responses in a row that open the circuit"`
	// HealthCheck probes the upstream while closed and open.
	HealthCheck HealthCheck `json:"healthCheck,omitempty"`
	// RecoverAfter is how long the upstream must pass health checks before
	// traffic flows again.
	RecoverAfter string `json:"recoverAfter,omitempty" doc:"how long the upstream must pass health checks before it gets traffic again"`
}

// HealthCheck options.
type HealthCheck struct {
	// Path is requested with GET; 2xx/3xx is healthy. Without a path (and
	// for tcp and grpc upstreams) a check is a TCP connect: an upstream
	// whose "/" answers 404 is not kept out forever, and one that accepts
	// connections but still fails trips the breaker again after N errors.
	Path string `json:"path,omitempty" doc:"HTTP path checked with GET, 2xx/3xx healthy (default: a TCP connect; tcp and grpc always)"`
	// Interval between checks.
	Interval string `json:"interval,omitempty" doc:"interval between health checks"`
}

// Fallback is the canned response served while the circuit is open.
type Fallback struct {
	// Passthrough false drops the canned response: requests fail fast with
	// HAProxy's 503 while the circuit is open.
	Passthrough *bool `json:"passthrough,omitempty" doc:"serve the canned response while the circuit is open; false: fail fast with a 503"`
	// Status of the canned response.
	Status int `json:"status,omitempty" doc:"status of the canned response"`
	// ContentType of the canned response.
	ContentType string `json:"contentType,omitempty" doc:"content type of the canned response"`
	// Body of the canned response.
	Body string `json:"body,omitempty" doc:"body of the canned response"`
}

// SecretKey names a key of a Secret in the workload's namespace, written
// like a Kubernetes SecretKeySelector: {name: quotes-ca, key: ca.crt}. The
// Secret's name alone ("quotes-ca") is read too, and so is the older
// {secret: quotes-ca}.
type SecretKey struct {
	Name string `json:"name" doc:"Secret name"`
	Key  string `json:"key,omitempty" doc:"key in the Secret (default ca.crt)"`
}

// UnmarshalJSON accepts "name", {name, key} and {secret, key}; other fields
// are errors.
func (k *SecretKey) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		k.Name = name
		return nil
	}
	var obj struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
		Key    string `json:"key"`
	}
	if err := validate.StrictJSON(b, &obj); err != nil {
		return fmt.Errorf("%w (expected a Secret name or {name: …, key: …})", err)
	}
	if obj.Name != "" && obj.Secret != "" {
		return fmt.Errorf("name and secret both name the Secret: give name only")
	}
	k.Name, k.Key = obj.Name+obj.Secret, obj.Key
	return nil
}

// Defaults of the container-wide settings.
const (
	defaultMetricsPort   = transform.AmbassadorMetricsPort
	defaultMetricsPath   = "/metrics"
	defaultClusterDomain = "cluster.local"
	// firstLocalPort is where automatic local ports start.
	firstLocalPort = transform.AmbassadorFirstLocal
)

// DefaultUpstream returns an entry's defaults. Protocol, TLS and SNI default
// from the upstream URL, LocalPort to the first free port from 9001; see
// resolve.
func DefaultUpstream(name string) Upstream {
	yes := true
	retries := 2
	return Upstream{
		Name:           name,
		Args:           &yes,
		Protocol:       "http",
		Timeout:        "10s",
		ConnectTimeout: "2s",
		Retries:        &retries,
		MaxConnections: 100,
		Addresses:      4,
		CircuitBreaker: CircuitBreaker{
			Enabled:           &yes,
			ConsecutiveErrors: 5,
			HealthCheck:       HealthCheck{Interval: "2s"},
			RecoverAfter:      "10s",
		},
		Fallback: Fallback{
			Passthrough: &yes,
			Status:      503,
			ContentType: "application/json",
			Body:        fmt.Sprintf(`{"error":"upstream %s is unavailable","circuit":"open"}`, name),
		},
		CA: nil,
	}
}

// DefaultProxy returns the container's defaults.
func DefaultProxy() Proxy {
	yes := true
	return Proxy{
		MetricsPort:   defaultMetricsPort,
		MetricsPath:   defaultMetricsPath,
		Scrape:        scrape.Auto,
		Interval:      "30s",
		ClusterDomain: defaultClusterDomain,
		AlertFor:      "1m",
		Dashboard:     &yes,
	}
}

// Default returns the pattern's options with no upstreams: they come from
// the config (ambassadors: {upstreams: [...]}), flags or annotations.
func Default() *Options { return &Options{Proxy: DefaultProxy()} }

// UnmarshalJSON accepts {upstreams: [...], <container settings>}, the older
// bare list of upstreams (container settings on any entry; two entries
// setting one differently is an error), or null (what `ambassadors:` with no
// value becomes). It is decoded strictly (unknown fields are errors);
// upstreams are merged by name into the entries already present and the
// settings given replace the ones before.
func (o *Options) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var raws []json.RawMessage
	legacy := false
	switch {
	case bytes.HasPrefix(b, []byte("[")):
		if err := json.Unmarshal(b, &raws); err != nil {
			return err
		}
		legacy = true
	case bytes.HasPrefix(b, []byte("{")):
		obj := struct {
			Upstreams []json.RawMessage `json:"upstreams"`
			*Proxy
		}{Proxy: &o.Proxy}
		if err := validate.StrictJSON(b, &obj); err != nil {
			return fmt.Errorf("%w (expected {upstreams: [...], <settings of the container>})", err)
		}
		raws = obj.Upstreams
	case string(b) == "null":
		return nil
	default:
		return fmt.Errorf("expected {upstreams: [...]}, got %s", b)
	}
	seen := map[string]int{}
	setBy := map[string]string{} // legacy: container setting -> the entry that set it
	for i, raw := range raws {
		var probe struct {
			Name     string `json:"name"`
			Upstream string `json:"upstream"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return fmt.Errorf("[%d]: expected an upstream mapping: %w", i, validate.CleanJSONError(err))
		}
		name := probe.Name
		if name == "" {
			name = nameFromUpstream(probe.Upstream)
		}
		if name == "" {
			return fmt.Errorf("[%d]: name: required (or an upstream to take it from)", i)
		}
		if j, dup := seen[name]; dup {
			return fmt.Errorf("[%d]: name %q is also [%d]'s: give each upstream its own name", i, name, j)
		}
		seen[name] = i
		idx := -1
		for j := range o.Upstreams {
			if o.Upstreams[j].Name == name {
				idx = j
			}
		}
		e := Upstream{Name: name}
		if idx >= 0 {
			e = o.Upstreams[idx]
		}
		if legacy {
			var px Proxy
			entry := struct {
				*Upstream
				*Proxy
			}{&e, &px}
			if err := validate.StrictJSON(raw, &entry); err != nil {
				return fmt.Errorf("[%d] (%s): %w", i, name, err)
			}
			if err := o.mergeLegacy(px, name, setBy); err != nil {
				return err
			}
		} else if err := validate.StrictJSON(raw, &e); err != nil {
			return fmt.Errorf("upstreams[%d] (%s): %w", i, name, err)
		}
		e.Name = name
		if idx >= 0 {
			o.Upstreams[idx] = e
		} else {
			o.Upstreams = append(o.Upstreams, e)
		}
	}
	return nil
}

// mergeLegacy sets the container settings an entry of the older list form
// gave; two entries of one list setting one differently is an error.
func (o *Options) mergeLegacy(px Proxy, entry string, setBy map[string]string) error {
	dst, src := reflect.ValueOf(&o.Proxy).Elem(), reflect.ValueOf(px)
	for i := 0; i < src.NumField(); i++ {
		if src.Field(i).IsZero() {
			continue
		}
		tag := strings.Split(dst.Type().Field(i).Tag.Get("json"), ",")[0]
		if other, ok := setBy[tag]; ok && !reflect.DeepEqual(dst.Field(i).Interface(), src.Field(i).Interface()) {
			return fmt.Errorf("%s.%s and %s.%s differ: %s is a setting of the whole ambassador container, set it once", other, tag, entry, tag, tag)
		}
		setBy[tag] = entry
		dst.Field(i).Set(src.Field(i))
	}
	return nil
}

// nameFromUpstream is the first DNS label of the upstream's host, or "".
func nameFromUpstream(up string) string {
	t, err := parseUpstream(up)
	if err != nil || t.ip {
		return ""
	}
	n := strings.ToLower(strings.SplitN(t.host, ".", 2)[0])
	if !validate.IsDNSLabel(n) || len(n) > 32 {
		return ""
	}
	return n
}

// Validate checks every entry (with defaults applied) and the entries
// together (unique names and local ports), and keeps the result for Inject.
func (o *Options) Validate() error {
	ups, px, err := o.check()
	o.resolved, o.px = ups, px
	return err
}

// withDefaults fills the fields the user left unset.
func (u Upstream) withDefaults() Upstream {
	d := DefaultUpstream(u.Name)
	fill(reflect.ValueOf(&u).Elem(), reflect.ValueOf(d))
	return u
}

// fill sets zero fields of dst from def, recursing into structs so that
// setting one field of a group keeps the others' defaults.
func fill(dst, def reflect.Value) {
	for i := 0; i < dst.NumField(); i++ {
		f := dst.Field(i)
		if f.Kind() == reflect.Struct {
			fill(f, def.Field(i))
			continue
		}
		if f.IsZero() {
			f.Set(def.Field(i))
		}
	}
}

// DefaultEntry implements transform.EntryDefaulter: one upstream's options
// with their defaults, for `sidecarize patterns`.
func (o *Options) DefaultEntry() any { return DefaultUpstream("<name>") }
