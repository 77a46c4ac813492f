// Package validate is the one place where user values are checked: ports
// and port sets, port names, durations, HTTP paths, DNS and host names,
// environment variable names, image references and Secret references.
// Config files, --set flags and annotations all end up in a pattern's options, and every pattern checks
// those options with these functions, so a value is accepted or refused the
// same way whichever pattern reads it and wherever it was written.
//
// Every function takes the field's name as the user writes it ("proxyPort",
// "upstreams[0].localPort") and returns an error that starts with it and the
// value, so callers return it as is. An empty field name leaves the prefix
// out.
//
// The grammars are deliberately narrower than what the consumers accept
// (HAProxy, Envoy, Fluent Bit, a container runtime): a value that passes is
// safe to write unquoted into any generated config, so no pattern needs its
// own escaping rules.
package validate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

func fail(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field == "" {
		return fmt.Errorf("%s", msg)
	}
	return fmt.Errorf("%s: %s", field, msg)
}

// Port checks a port number: 1 to 65535.
func Port(field string, p int64) error {
	if p < 1 || p > 65535 {
		return fail(field, "%d: not a port (1 to 65535)", p)
	}
	return nil
}

// PortString parses a port written in digits ("8080", the port of a URL or
// of host:port) and checks it as Port does.
func PortString(field, s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fail(field, "%q: not a port (1 to 65535)", s)
	}
	if err := Port(field, n); err != nil {
		return 0, err
	}
	return int32(n), nil
}

// ListenPort checks a port a helper container listens on: helpers run as
// non-root users, so 1024 to 65535.
func ListenPort(field string, p int32) error {
	if p < 1024 || p > 65535 {
		return fail(field, "%d: must be between 1024 and 65535", p)
	}
	return nil
}

// PortSet collects the ports one helper listens on: each must be a listen
// port and none may be used twice. The zero value is ready to use.
type PortSet struct {
	used map[int32]string
}

// Add checks p as a listen port and records it under field.
func (s *PortSet) Add(field string, p int32) error {
	if err := ListenPort(field, p); err != nil {
		return err
	}
	if other, ok := s.used[p]; ok {
		return fmt.Errorf("%s and %s are both %d", other, field, p)
	}
	if s.used == nil {
		s.used = map[int32]string{}
	}
	s.used[p] = field
	return nil
}

// PortName checks a container or Service port name (IANA_SVC_NAME): at most
// 15 lower-case letters, digits and '-', with at least one letter, no '-'
// at either end and no "--".
func PortName(field, s string) error {
	if len(validation.IsValidPortName(s)) > 0 {
		return fail(field, "%q: not a port name (at most 15 lower-case letters, digits and '-', with a letter)", s)
	}
	return nil
}

// durationRE is the time format HAProxy, Envoy (through Go) and Prometheus
// share: digits and one unit.
var durationRE = regexp.MustCompile(`^[0-9]{1,9}(us|ms|s|m|h)$`)

// Duration checks a duration written as digits and one unit of us, ms, s,
// m or h ("30s", "500ms", "2m", "0s") and returns its value. It is the form
// every consumer reads alike: HAProxy, Go (Envoy's config is generated from
// it) and, but for us, Prometheus.
func Duration(field, s string) (time.Duration, error) {
	if !durationRE.MatchString(s) {
		return 0, fail(field, "%q: expected a duration like 30s or 500ms (digits and one unit: us, ms, s, m or h)", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fail(field, "%q: expected a duration like 30s or 500ms", s)
	}
	return d, nil
}

// PositiveDuration is Duration for a time that cannot be zero (a timeout,
// an interval).
func PositiveDuration(field, s string) (time.Duration, error) {
	d, err := Duration(field, s)
	if err == nil && d <= 0 {
		err = fail(field, "%q: expected a positive duration like 30s or 500ms", s)
	}
	return d, err
}

// pathRE is the safe subset of an HTTP path (RFC 3986 pchar and '/'): no
// space, '#', '?', quotes, backslash, braces, '$' or control characters, so
// it can stand unquoted in an HAProxy ACL, an Envoy route or a flag.
var pathRE = regexp.MustCompile(`^/[A-Za-z0-9._~!&()*+,;=:@%/-]*$`)

// HTTPPath checks a URL path: it starts with '/' and holds only letters,
// digits and -._~!&()*+,;=:@%/ (at most 1024 characters).
func HTTPPath(field, s string) error {
	if len(s) > 1024 || !pathRE.MatchString(s) {
		return fail(field, "%q: must be a path starting with / (letters, digits and -._~!&()*+,;=:@%%/ only)", s)
	}
	return nil
}

// labelRE is a DNS-1123 label; a subdomain is labels joined by dots.
var labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// DNSLabel checks a DNS-1123 label (a Service or container name): at most
// 63 lower-case letters, digits and '-', starting and ending with a letter
// or digit.
func DNSLabel(field, s string) error {
	if !IsDNSLabel(s) {
		return fail(field, "%q: not a DNS-1123 label (at most 63 lower-case letters, digits and '-')", s)
	}
	return nil
}

// IsDNSLabel reports whether s is a DNS-1123 label.
func IsDNSLabel(s string) bool { return len(s) <= 63 && labelRE.MatchString(s) }

// DNSSubdomain checks a DNS-1123 subdomain (the name of most Kubernetes
// objects, a Secret's among them): DNS labels joined by dots, at most 253
// characters.
func DNSSubdomain(field, s string) error {
	if !IsDNSSubdomain(s) {
		return fail(field, "%q: not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253)", s)
	}
	return nil
}

// IsDNSSubdomain reports whether s is a DNS-1123 subdomain.
func IsDNSSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// hostLabelRE is a label of a host name as a resolver looks it up: a
// DNS-1123 label that may also hold '_' (names of external services do).
var hostLabelRE = regexp.MustCompile(`^[a-z0-9_]([-a-z0-9_]*[a-z0-9])?$`)

// IsHostname reports whether s is a lower-case host name: labels of
// letters, digits, '-' and '_', at most 63 characters each and 253 in all,
// with an optional final dot (a fully qualified name).
func IsHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if len(l) > 63 || !hostLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// EnvName checks an environment variable name as the API server does:
// letters, digits, '-', '_' and '.', not starting with a digit, nor "."
// or ".." alone or first.
func EnvName(field, s string) error {
	if len(validation.IsEnvVarName(s)) > 0 {
		return fail(field, "%q: not an environment variable name (letters, digits, '-', '_' and '.', not starting with a digit or '..')", s)
	}
	return nil
}

// SecretKey checks the key of a Secret's data (a secretKeyRef's key):
// letters, digits, '-', '_' and '.', at most 253 characters, as the API
// server requires.
func SecretKey(field, s string) error {
	if len(validation.IsConfigMapKey(s)) > 0 {
		return fail(field, "%q: not a Secret key (letters, digits, '-', '_' and '.', at most 253)", s)
	}
	return nil
}

// dbNameRE is the database and user name subset that stands as it is in a
// connection URI, an environment variable and an argument (no '$', which
// Kubernetes expands in both, no separators of a URI).
var dbNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,62}$`)

// DBName checks a database or database user name: at most 63 letters,
// digits and '_', '.', '@', '-', not starting with a punctuation mark.
func DBName(field, s string) error {
	if !dbNameRE.MatchString(s) {
		return fail(field, "%q: not a database or user name (at most 63 letters, digits and _.@-)", s)
	}
	return nil
}

// The image reference grammar of the OCI distribution spec (the one
// container runtimes parse): [domain[:port]/]path[:tag][@digest].
var (
	imageDomain = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?`
	imagePath   = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	imageRE     = regexp.MustCompile(`^(?:` + imageDomain + `/)?` + imagePath + `(?:/` + imagePath + `)*` +
		`(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?` +
		`(?:@(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}))?$`)
)

// Image checks an image reference: name[:tag][@sha256:digest], with an
// optional registry host ("registry.example.com:5000/team/app:1.2"). No
// spaces, upper-case repository names or newlines.
func Image(field, s string) error {
	name := s
	if i := strings.IndexAny(s, ":@"); i >= 0 {
		name = s[:i]
	}
	if len(name) > 255 || !imageRE.MatchString(s) {
		return fail(field, "%q: not an image reference (name[:tag][@sha256:digest], e.g. haproxy:3.4-alpine)", s)
	}
	return nil
}

// SecretRef names a Secret of the workload's namespace. It is written as a
// LocalObjectReference, {name: db-credentials}, the way Kubernetes objects
// refer to Secrets; the bare name ("db-credentials") is accepted too, in
// config files, --set and annotations alike.
type SecretRef struct {
	Name string `json:"name"`
}

// UnmarshalJSON accepts "name" or {"name": "name"}; other fields are errors.
func (r *SecretRef) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		r.Name = s
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("expected a Secret name or {name: …}, got %s", b)
	}
	for k, v := range obj {
		if k != "name" {
			return fmt.Errorf("unknown field %q (a Secret reference has only name)", k)
		}
		if err := json.Unmarshal(v, &r.Name); err != nil {
			return fmt.Errorf("name: expected a string, got %s", v)
		}
	}
	return nil
}

// MarshalJSON writes the object form; an unset reference is null.
func (r SecretRef) MarshalJSON() ([]byte, error) {
	if r.Name == "" {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Name string `json:"name"`
	}{r.Name})
}

// IsSet reports whether a Secret is named; options hold a *SecretRef, nil
// when none is given.
func (r *SecretRef) IsSet() bool { return r != nil && r.Name != "" }

// Validate checks the name as a Secret name (a DNS-1123 subdomain).
func (r SecretRef) Validate(field string) error {
	return DNSSubdomain(field, r.Name)
}

// Secret checks a Secret name given as a string.
func Secret(field, name string) error { return DNSSubdomain(field, name) }
