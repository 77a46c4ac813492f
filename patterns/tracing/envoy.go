package tracing

// The subset of Envoy's v3 bootstrap that the pattern generates, as plain Go
// types with the proto field names as JSON keys (protojson accepts them).
// Only non-deprecated v3 fields are used; the e2e module checks the output
// against go-control-plane's generated types.

// Type URLs of the typed_config messages.
const (
	typeHCM           = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	typeRouter        = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
	typeZipkin        = "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig"
	typeOpenTelemetry = "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig"
	typeHTTPProtocol  = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
	typeUpstreamTLS   = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
)

// CABundle is the system CA bundle of the official Envoy image (Ubuntu's
// ca-certificates), used to verify https upstreams.
const CABundle = "/etc/ssl/certs/ca-certificates.crt"

type bootstrap struct {
	Node            node            `json:"node"`
	StaticResources staticResources `json:"static_resources"`
	Admin           admin           `json:"admin"`
}

type node struct {
	ID      string `json:"id"`
	Cluster string `json:"cluster"`
}

// admin has no access_log: nothing is written to the (read-only) root
// filesystem.
type admin struct {
	Address address `json:"address"`
}

type address struct {
	SocketAddress socketAddress `json:"socket_address"`
}

type socketAddress struct {
	Address   string `json:"address"`
	PortValue int32  `json:"port_value"`
}

type staticResources struct {
	Listeners []listener `json:"listeners"`
	Clusters  []cluster  `json:"clusters"`
}

type listener struct {
	Name             string        `json:"name"`
	Address          address       `json:"address"`
	TrafficDirection string        `json:"traffic_direction,omitempty"`
	FilterChains     []filterChain `json:"filter_chains"`
}

type filterChain struct {
	Filters []networkFilter `json:"filters"`
}

type networkFilter struct {
	Name        string `json:"name"`
	TypedConfig hcm    `json:"typed_config"`
}

type hcm struct {
	Type       string `json:"@type"`
	StatPrefix string `json:"stat_prefix"`
	CodecType  string `json:"codec_type"`
	// GenerateRequestID: an x-request-id is made for requests that have
	// none; with UseRemoteAddress (the edge) one from outside is replaced.
	GenerateRequestID *bool       `json:"generate_request_id,omitempty"`
	UseRemoteAddress  *bool       `json:"use_remote_address,omitempty"`
	Tracing           *hcmTracing `json:"tracing,omitempty"`
	RouteConfig       routeConfig `json:"route_config"`
	HTTPFilters       []typedRef  `json:"http_filters"`
}

type hcmTracing struct {
	RandomSampling percent         `json:"random_sampling"`
	Provider       tracingProvider `json:"provider"`
}

type percent struct {
	Value float64 `json:"value"`
}

type tracingProvider struct {
	Name        string `json:"name"`
	TypedConfig any    `json:"typed_config"`
}

// zipkinConfig reports to a Zipkin v2 JSON endpoint (Jaeger's collector
// serves one on 9411), through collector_service: the legacy
// collector_cluster/collector_endpoint fields are slated for deprecation.
type zipkinConfig struct {
	Type                     string      `json:"@type"`
	CollectorService         httpService `json:"collector_service"`
	CollectorEndpointVersion string      `json:"collector_endpoint_version"`
	// SharedSpanContext false: client and server spans get their own ids,
	// as seed 2 (and Envoy's Jaeger example) configure it.
	SharedSpanContext bool `json:"shared_span_context"`
	TraceID128bit     bool `json:"trace_id_128bit"`
}

type httpService struct {
	HTTPURI httpURI `json:"http_uri"`
}

type httpURI struct {
	URI     string `json:"uri"`
	Cluster string `json:"cluster"`
	Timeout string `json:"timeout"`
}

type otelConfig struct {
	Type        string      `json:"@type"`
	GRPCService grpcService `json:"grpc_service"`
	ServiceName string      `json:"service_name"`
}

type grpcService struct {
	EnvoyGRPC envoyGRPC `json:"envoy_grpc"`
	Timeout   string    `json:"timeout"`
}

type envoyGRPC struct {
	ClusterName string `json:"cluster_name"`
	Authority   string `json:"authority,omitempty"`
}

type typedRef struct {
	Name        string    `json:"name"`
	TypedConfig typedOnly `json:"typed_config"`
}

type typedOnly struct {
	Type string `json:"@type"`
}

type routeConfig struct {
	Name         string        `json:"name"`
	VirtualHosts []virtualHost `json:"virtual_hosts"`
}

type virtualHost struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Routes  []route  `json:"routes"`
}

type route struct {
	Match          routeMatch      `json:"match"`
	Route          *routeAction    `json:"route,omitempty"`
	DirectResponse *directResponse `json:"direct_response,omitempty"`
}

type routeMatch struct {
	Prefix string `json:"prefix,omitempty"`
	Path   string `json:"path,omitempty"`
}

type routeAction struct {
	Cluster            string `json:"cluster"`
	Timeout            string `json:"timeout,omitempty"`
	HostRewriteLiteral string `json:"host_rewrite_literal,omitempty"`
}

type directResponse struct {
	Status int `json:"status"`
}

type cluster struct {
	Name string `json:"name"`
	// Type is STATIC (loopback) or STRICT_DNS (a Service name, re-resolved
	// so Service and pod changes are followed).
	Type                          string                  `json:"type"`
	DNSLookupFamily               string                  `json:"dns_lookup_family,omitempty"`
	TypedExtensionProtocolOptions map[string]httpProtocol `json:"typed_extension_protocol_options,omitempty"`
	TransportSocket               *transportSocket        `json:"transport_socket,omitempty"`
	LoadAssignment                loadAssignment          `json:"load_assignment"`
}

// transportSocket originates TLS to an https upstream.
type transportSocket struct {
	Name        string      `json:"name"`
	TypedConfig upstreamTLS `json:"typed_config"`
}

type upstreamTLS struct {
	Type             string    `json:"@type"`
	SNI              string    `json:"sni,omitempty"`
	CommonTLSContext commonTLS `json:"common_tls_context"`
}

type commonTLS struct {
	ALPNProtocols     []string          `json:"alpn_protocols,omitempty"`
	ValidationContext validationContext `json:"validation_context"`
}

// validationContext verifies the upstream's chain against the CA bundle
// and its name against the host the app was configured with.
type validationContext struct {
	TrustedCA                 dataSource   `json:"trusted_ca"`
	MatchTypedSubjectAltNames []sanMatcher `json:"match_typed_subject_alt_names"`
}

type dataSource struct {
	Filename string `json:"filename"`
}

type sanMatcher struct {
	SANType string        `json:"san_type"`
	Matcher stringMatcher `json:"matcher"`
}

type stringMatcher struct {
	Exact string `json:"exact"`
}

// httpProtocol is envoy.extensions.upstreams.http.v3.HttpProtocolOptions with
// explicit HTTP/2 (h2c) to the cluster.
type httpProtocol struct {
	Type               string       `json:"@type"`
	ExplicitHTTPConfig explicitHTTP `json:"explicit_http_config"`
}

type explicitHTTP struct {
	HTTP2ProtocolOptions struct{} `json:"http2_protocol_options"`
}

type loadAssignment struct {
	ClusterName string             `json:"cluster_name"`
	Endpoints   []localityEndpoint `json:"endpoints"`
}

type localityEndpoint struct {
	LBEndpoints []lbEndpoint `json:"lb_endpoints"`
}

type lbEndpoint struct {
	Endpoint endpoint `json:"endpoint"`
}

type endpoint struct {
	Address address `json:"address"`
}

func sockAddr(host string, port int32) address {
	return address{SocketAddress: socketAddress{Address: host, PortValue: port}}
}

// newCluster is a one-endpoint cluster; h2 makes it speak HTTP/2 (h2c, or
// h2 over TLS), tls originates TLS with the certificate checked.
func newCluster(name, host string, port int32, h2, tls bool) cluster {
	c := cluster{
		Name: name, Type: "STATIC",
		LoadAssignment: loadAssignment{ClusterName: name, Endpoints: []localityEndpoint{{
			LBEndpoints: []lbEndpoint{{Endpoint: endpoint{Address: sockAddr(host, port)}}},
		}}},
	}
	if !isIP(host) {
		c.Type = "STRICT_DNS"
		// IPv4 first: cluster Services usually have no AAAA record.
		c.DNSLookupFamily = "V4_PREFERRED"
	}
	if h2 {
		c.TypedExtensionProtocolOptions = map[string]httpProtocol{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {Type: typeHTTPProtocol},
		}
	}
	if tls {
		t := upstreamTLS{Type: typeUpstreamTLS, SNI: host}
		san := sanMatcher{SANType: "DNS", Matcher: stringMatcher{Exact: host}}
		if isIP(host) {
			t.SNI = "" // SNI carries host names only (RFC 6066)
			san.SANType = "IP_ADDRESS"
		}
		t.CommonTLSContext.ValidationContext = validationContext{
			TrustedCA:                 dataSource{Filename: CABundle},
			MatchTypedSubjectAltNames: []sanMatcher{san},
		}
		if h2 {
			t.CommonTLSContext.ALPNProtocols = []string{"h2"}
		}
		c.TransportSocket = &transportSocket{Name: "envoy.transport_sockets.tls", TypedConfig: t}
	}
	return c
}

func routerFilter() []typedRef {
	return []typedRef{{Name: "envoy.filters.http.router", TypedConfig: typedOnly{Type: typeRouter}}}
}

func hcmFilter(h hcm) filterChain {
	h.Type = typeHCM
	h.CodecType = "AUTO"
	h.HTTPFilters = routerFilter()
	return filterChain{Filters: []networkFilter{{Name: "envoy.filters.network.http_connection_manager", TypedConfig: h}}}
}
