package transform

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/internal/validate"
)

const (
	// ConfigAPIVersion and ConfigKind identify a sidecarize config file or
	// KRM functionConfig.
	ConfigAPIVersion = "sidecarize.dev/v1alpha1"
	ConfigKind       = "Sidecarize"

	// DefaultKubeVersion is the cluster version assumed when none is given.
	// Native sidecars are on by default in Kubernetes 1.29 and later, GA in 1.33.
	DefaultKubeVersion = "1.33"
)

// Config is the Sidecarize config file / functionConfig.
type Config struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Spec       Spec           `json:"spec"`
}

// Spec is the body of a Sidecarize config.
type Spec struct {
	// NativeSidecars: auto (true when kubeVersion >= 1.29), true or false.
	NativeSidecars string `json:"nativeSidecars,omitempty"`
	// KubeVersion is the target cluster's minor version, e.g. "1.33".
	KubeVersion string `json:"kubeVersion,omitempty"`
	// APIVersions the cluster serves, as `helm template --api-versions`
	// takes them (monitoring.coreos.com/v1: the Prometheus Operator).
	APIVersions []string `json:"apiVersions,omitempty"`
	// Images overrides default images per component (haproxy, fluent-bit …).
	Images map[string]string `json:"images,omitempty"`
	// PodTemplates adds workload kinds with a pod template (CRDs).
	PodTemplates []FieldSpec `json:"podTemplates,omitempty"`
	// Rules select workloads and say which patterns apply, with options.
	Rules []Rule `json:"rules,omitempty"`
	// Annotations says what the manifest's sidecarize.dev/<pattern>.<option>
	// annotations may set beyond pattern choice and tuning (consent.go).
	Annotations *AnnotationPolicy `json:"annotations,omitempty"`
}

// Rule is one entry of spec.rules: a selector plus pattern options keyed by
// each pattern's ConfigKey. Pattern options stay raw here and are decoded
// strictly into the pattern's own type when a workload's options are
// layered (Engine.plan, overlayJSON).
type Rule struct {
	Select   Selector
	Patterns map[string]json.RawMessage
}

// UnmarshalJSON keeps the pattern keys raw; unknown keys are reported by
// Config.Validate, which knows the registered patterns.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	r.Patterns = map[string]json.RawMessage{}
	for k, v := range m {
		if k == "select" {
			if err := strictJSON(v, &r.Select); err != nil {
				return fmt.Errorf("select: %w", err)
			}
			continue
		}
		r.Patterns[k] = v
	}
	return nil
}

// MarshalJSON is the inverse of UnmarshalJSON.
func (r Rule) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for k, v := range r.Patterns {
		m[k] = v
	}
	m["select"] = r.Select
	return json.Marshal(m)
}

// Selector picks workloads; every given condition must hold.
type Selector struct {
	Kinds       []string          `json:"kinds,omitempty"`
	Names       []string          `json:"names,omitempty"`
	Namespaces  []string          `json:"namespaces,omitempty"`
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// Matches reports whether the workload satisfies every condition.
// Labels are matched against the workload's own labels and its pod labels.
func (s Selector) Matches(kind, name, namespace string, labels ...map[string]string) bool {
	if len(s.Kinds) > 0 && !containsFold(s.Kinds, kind) {
		return false
	}
	if len(s.Names) > 0 && !contains(s.Names, name) {
		return false
	}
	if len(s.Namespaces) > 0 && !contains(s.Namespaces, namespace) {
		return false
	}
	for k, v := range s.MatchLabels {
		found := false
		for _, l := range labels {
			if got, ok := l[k]; ok && got == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// strictJSON decodes JSON the way the Kubernetes API server does: field
// names are case-sensitive, and unknown or duplicate fields are errors.
func strictJSON(b []byte, v any) error { return validate.StrictJSON(b, v) }

// cleanJSONError turns encoding/json's messages into ones that name the field
// the way users write it.
func cleanJSONError(err error) error { return validate.CleanJSONError(err) }

// LoadConfig parses a config file strictly: unknown fields are an error with
// their path. Pattern option blocks are checked against the registered
// patterns.
func LoadConfig(source string, data []byte, patterns []Pattern) (*Config, error) {
	if err := configDocument(source, data); err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: malformed YAML: %w", source, err)
	}
	var c Config
	if err := strictJSON(js, &c); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", source, ConfigKind, err)
	}
	if c.APIVersion != ConfigAPIVersion || c.Kind != ConfigKind {
		return nil, fmt.Errorf("%s: expected apiVersion: %s, kind: %s; got apiVersion: %q, kind: %q", source, ConfigAPIVersion, ConfigKind, c.APIVersion, c.Kind)
	}
	if err := c.Validate(patterns); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &c, nil
}

// Validate checks the config against the registered patterns: every pattern
// key is known and its options decode strictly and validate.
func (c *Config) Validate(patterns []Pattern) error {
	switch c.Spec.NativeSidecars {
	case "", "auto", "true", "false":
	default:
		return fmt.Errorf("spec.nativeSidecars: %q: must be auto, true or false", c.Spec.NativeSidecars)
	}
	if c.Spec.KubeVersion != "" {
		if _, err := ParseKubeVersion(c.Spec.KubeVersion); err != nil {
			return fmt.Errorf("spec.kubeVersion: %w", err)
		}
	}
	for i, v := range c.Spec.APIVersions {
		if err := ValidAPIVersion(v); err != nil {
			return fmt.Errorf("spec.apiVersions[%d]: %w", i, err)
		}
	}
	if err := c.Spec.Annotations.validate(); err != nil {
		return err
	}
	for i, fs := range c.Spec.PodTemplates {
		if fs.Kind == "" || fs.Path == "" {
			return fmt.Errorf("spec.podTemplates[%d]: kind and path are required", i)
		}
		// A Kubernetes kind is a word: it is written where the workload is
		// named (reports, haproxy.cfg's header comment).
		if !validKind(fs.Kind) {
			return fmt.Errorf("spec.podTemplates[%d].kind: %q: expected a Kubernetes kind (a letter, then letters and digits, e.g. Rollout)", i, fs.Kind)
		}
	}
	for i, r := range c.Spec.Rules {
		keys := make([]string, 0, len(r.Patterns))
		for k := range r.Patterns {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := patternByKey(patterns, k)
			if p == nil {
				return fmt.Errorf("spec.rules[%d].%s: unknown field (patterns: %s)", i, k, strings.Join(patternKeys(patterns), ", "))
			}
			opts := p.NewOptions()
			if err := strictJSON(nullToEmpty(r.Patterns[k]), opts); err != nil {
				return fmt.Errorf("spec.rules[%d].%s: %w", i, k, err)
			}
		}
	}
	return c.validateValues(patterns)
}

// nullToEmpty lets `monitor:` (no value) or `monitor: {}` both mean "on with
// defaults".
func nullToEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" || string(b) == "true" {
		return json.RawMessage("{}")
	}
	return b
}

func patternByKey(patterns []Pattern, key string) Pattern {
	for _, p := range patterns {
		if p.ConfigKey() == key || p.Name() == key {
			return p
		}
	}
	return nil
}

func patternByName(patterns []Pattern, name string) Pattern {
	for _, p := range patterns {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

func patternKeys(patterns []Pattern) []string {
	var out []string
	for _, p := range patterns {
		out = append(out, p.ConfigKey())
	}
	return out
}

// KubeVersion is a parsed "1.33".
type KubeVersion struct{ Major, Minor int }

// ParseKubeVersion accepts "1.33", "v1.33" and "v1.33.2".
func ParseKubeVersion(s string) (KubeVersion, error) {
	t := strings.TrimPrefix(s, "v")
	parts := strings.Split(t, ".")
	if len(parts) < 2 {
		return KubeVersion{}, fmt.Errorf("%q: expected a version like 1.33", s)
	}
	maj, err1 := strconv.Atoi(parts[0])
	min, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || maj < 1 {
		return KubeVersion{}, fmt.Errorf("%q: expected a version like 1.33", s)
	}
	return KubeVersion{maj, min}, nil
}

// AtLeast compares versions.
func (v KubeVersion) AtLeast(maj, min int) bool {
	return v.Major > maj || (v.Major == maj && v.Minor >= min)
}

// configured returns a pattern's options from the layers of whoever runs
// sidecarize: defaults, then --set flags, then the matching config rules.
// The manifest's annotations go on top (Engine.plan), within what
// spec.annotations allows.
func (e *Engine) configured(w *Workload, pat Pattern, rules []Rule) (Options, error) {
	opts := pat.NewOptions()
	for _, s := range e.Flags.Set {
		key, val, _ := strings.Cut(s, "=")
		pn, path, _ := strings.Cut(key, ".")
		if pn != pat.Name() {
			continue
		}
		if err := SetOption(opts, path, val); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	for _, r := range rules {
		raw, ok := r.Patterns[pat.ConfigKey()]
		if !ok {
			raw, ok = r.Patterns[pat.Name()]
		}
		if ok {
			if err := overlayJSON(opts, raw); err != nil {
				return nil, w.failAt("config "+pat.ConfigKey(), err)
			}
		}
	}
	return opts, nil
}

// annotationPolicy is the config's spec.annotations (nil: no consent given).
func (e *Engine) annotationPolicy() *AnnotationPolicy {
	if e.Config == nil {
		return nil
	}
	return e.Config.Spec.Annotations
}

// validKind: a letter, then letters and digits.
func validKind(k string) bool {
	for i, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return k != ""
}
