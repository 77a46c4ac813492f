// Package tracing checks the Envoy bootstraps the tracing pattern generates
// against Envoy's own API: every envoy.yaml in the pattern's golden
// expected.yaml files is decoded into go-control-plane's
// bootstrap/v3.Bootstrap with protojson (unknown fields are an error), every
// typed_config is unpacked into its registered type, and the generated
// protoc-gen-validate rules (ValidateAll) pass on the bootstrap and on every
// unpacked message. Deprecated fields are rejected: the pattern promises the
// v3 API without deprecated fields.
package tracing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"gopkg.in/yaml.v3"

	// The typed_config messages the pattern uses, registered for Any.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// goldens is where the pattern's golden cases live, from e2e/tracing.
const goldens = "../../patterns/tracing/testdata"

// bootstraps returns every envoy.yaml in the golden expected files, keyed by
// "<case>/<ConfigMap>".
func bootstraps(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldens, "*", "expected.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var obj struct {
				Kind     string                `yaml:"kind"`
				Metadata struct{ Name string } `yaml:"metadata"`
				Data     map[string]string     `yaml:"data"`
			}
			if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if cfg, ok := obj.Data["envoy.yaml"]; ok && obj.Kind == "ConfigMap" {
				out[filepath.Base(filepath.Dir(f))+"/"+obj.Metadata.Name] = cfg
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no envoy.yaml found in %s/*/expected.yaml (run the tracing golden tests first: go test ./patterns/tracing/)", goldens)
	}
	return out
}

// decode is the strict decode: YAML to JSON, protojson into the Bootstrap
// (unknown fields and unregistered Any types are errors), then validation.
func decode(cfg string) (*bootstrapv3.Bootstrap, error) {
	var v any
	if err := yaml.Unmarshal([]byte(cfg), &v); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	var b bootstrapv3.Bootstrap
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, &b); err != nil {
		return nil, fmt.Errorf("protojson: %w", err)
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("ValidateAll: %w", err)
	}
	if err := walk("bootstrap", b.ProtoReflect()); err != nil {
		return nil, err
	}
	return &b, nil
}

// walk visits every set field: deprecated fields are errors, and every Any
// is unpacked into its type and validated too (ValidateAll does not look
// inside an Any).
func walk(path string, m protoreflect.Message) error {
	var errs []error
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, a.GetTypeUrl(), err)
		}
		if v, ok := inner.(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): ValidateAll: %w", path, a.GetTypeUrl(), err))
			}
		}
		if err := walk(path+"("+string(inner.ProtoReflect().Descriptor().FullName())+")", inner.ProtoReflect()); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		if o, ok := fd.Options().(*descriptorpb.FieldOptions); ok && o.GetDeprecated() {
			errs = append(errs, fmt.Errorf("%s: deprecated field", p))
		}
		if fd.Enum() != nil && !fd.IsList() && !fd.IsMap() {
			if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
				if o, ok := ev.Options().(*descriptorpb.EnumValueOptions); ok && o.GetDeprecated() {
					errs = append(errs, fmt.Errorf("%s: deprecated enum value %s", p, ev.Name()))
				}
			}
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", p, i), l.Get(i).Message()); err != nil {
					errs = append(errs, err)
				}
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if err := walk(fmt.Sprintf("%s[%s]", p, k.String()), mv.Message()); err != nil {
					errs = append(errs, err)
				}
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			if err := walk(p, v.Message()); err != nil {
				errs = append(errs, err)
			}
		}
		return true
	})
	return errors.Join(errs...)
}

func TestGeneratedBootstrapsDecodeAndValidate(t *testing.T) {
	for name, cfg := range bootstraps(t) {
		t.Run(name, func(t *testing.T) {
			b, err := decode(cfg)
			if err != nil {
				t.Fatalf("%v\n--- envoy.yaml ---\n%s", err, cfg)
			}
			// Admin on loopback only, and no admin access log to write.
			sa := b.GetAdmin().GetAddress().GetSocketAddress()
			if sa.GetAddress() != "127.0.0.1" {
				t.Errorf("admin listens on %q, want 127.0.0.1", sa.GetAddress())
			}
			if len(b.GetAdmin().GetAccessLog()) > 0 || b.GetAdmin().GetAccessLogPath() != "" {
				t.Errorf("admin has an access log: the root filesystem is read-only")
			}
			// The metrics listener routes /stats/prometheus to a cluster
			// whose endpoint is the admin address.
			if !statsRouted(t, b, sa.GetPortValue()) {
				t.Errorf("no listener routes /stats/prometheus to the admin interface 127.0.0.1:%d", sa.GetPortValue())
			}
		})
	}
}

// statsRouted finds a route for /stats/prometheus whose cluster's endpoint is
// 127.0.0.1:adminPort.
func statsRouted(t *testing.T, b *bootstrapv3.Bootstrap, adminPort uint32) bool {
	t.Helper()
	admin := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		for _, le := range c.GetLoadAssignment().GetEndpoints() {
			for _, lb := range le.GetLbEndpoints() {
				sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
				if sa.GetAddress() == "127.0.0.1" && sa.GetPortValue() == adminPort {
					admin[c.GetName()] = true
				}
			}
		}
	}
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				js, err := protojson.Marshal(f.GetTypedConfig())
				if err != nil {
					t.Fatal(err)
				}
				var h struct {
					RouteConfig struct {
						VirtualHosts []struct {
							Routes []struct {
								Match struct{ Path string }
								Route struct{ Cluster string }
							}
						}
					}
				}
				if err := json.Unmarshal(js, &h); err != nil {
					t.Fatal(err)
				}
				for _, vh := range h.RouteConfig.VirtualHosts {
					for _, r := range vh.Routes {
						if r.Match.Path == "/stats/prometheus" && admin[r.Route.Cluster] {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// The check has teeth: an unknown field, an unregistered typed_config, an
// out-of-range value and a deprecated field are each rejected.
func TestDecodeRejectsBadBootstraps(t *testing.T) {
	var cfg string
	for _, c := range bootstraps(t) {
		cfg = c
		break
	}
	mutate := func(old, new string) string {
		if !strings.Contains(cfg, old) {
			t.Fatalf("golden bootstrap has no %q to mutate", old)
		}
		return strings.Replace(cfg, old, new, 1)
	}
	cases := map[string]string{
		"unknown field":     mutate("admin:\n", "admin:\n  bogus_field: 1\n"),
		"unregistered type": mutate("envoy.extensions.filters.http.router.v3.Router", "envoy.extensions.filters.http.nonexistent.v3.Nope"),
		"out of range port": mutate("port_value: 9901", "port_value: 99999"),
		"validation rule":   mutate("stat_prefix: inbound", "stat_prefix: ''"),
		"deprecated field":  mutate("admin:\n", "admin:\n  access_log_path: /dev/null\n"),
	}
	for name, bad := range cases {
		if _, err := decode(bad); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	var _ proto.Message = (*bootstrapv3.Bootstrap)(nil)
}
