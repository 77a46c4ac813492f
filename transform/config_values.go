package transform

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/internal/validate"
)

// Strict checks of a config's values, beyond its structure (config.go):
// the config is one document without duplicate keys, spec.images names
// only images some pattern uses and holds image references, and the
// values a rule gives a pattern's options are checked by the pattern's own
// validation when the config is loaded, not only when a workload selects
// the rule.

// ImageUser is implemented by patterns whose helper images spec.images
// overrides; ImageKeys are the keys they read (w.Image's component).
type ImageUser interface {
	ImageKeys() []string
}

// configDocument checks that data is one YAML document without duplicate
// keys: a second document would be ignored, and of a key given twice the
// decoder would silently keep one.
func configDocument(source string, data []byte) error {
	var docs []*Doc
	for _, d := range SplitStream(source, data) {
		if !d.Empty() {
			docs = append(docs, d)
		}
	}
	if len(docs) > 1 {
		return fmt.Errorf("%s: a config is one %s document; found %d (the second starts at line %d)", source, ConfigKind, len(docs), docs[1].Line)
	}
	if len(docs) == 0 {
		return nil
	}
	n, err := kyaml.Parse(string(docs[0].Raw))
	if err != nil {
		return nil // reported as malformed YAML by the decoder
	}
	shiftLines(n.YNode(), docs[0].Line-1)
	if se := checkKeys(n.YNode(), ""); se != nil {
		if se.line == 0 {
			return fmt.Errorf("%s: %s: %s", source, se.path, se.msg)
		}
		return fmt.Errorf("%s: %s: %s (line %d)", source, se.path, se.msg, se.line)
	}
	return nil
}

// validateValues checks what Validate's structural checks leave: images,
// pod template paths, and each rule's option values.
func (c *Config) validateValues(patterns []Pattern) error {
	if len(c.Spec.Images) > 0 {
		known := imageKeys(patterns)
		for _, k := range slices.Sorted(maps.Keys(c.Spec.Images)) {
			if !contains(known, k) {
				return fmt.Errorf("spec.images.%s: unknown image (images: %s)", k, strings.Join(known, ", "))
			}
			if err := validate.Image("spec.images."+k, c.Spec.Images[k]); err != nil {
				return err
			}
		}
	}
	for i, fs := range c.Spec.PodTemplates {
		for _, seg := range strings.Split(fs.Path, "/") {
			if seg == "" || strings.TrimSpace(seg) != seg {
				return fmt.Errorf("spec.podTemplates[%d].path: %q: expected field names separated by /, e.g. spec/template", i, fs.Path)
			}
		}
	}
	for i, r := range c.Spec.Rules {
		for _, k := range slices.Sorted(maps.Keys(r.Patterns)) {
			if err := ruleValues(patternByKey(patterns, k), r.Patterns[k]); err != nil {
				return fmt.Errorf("spec.rules[%d].%s: %w", i, k, err)
			}
		}
	}
	return nil
}

func imageKeys(patterns []Pattern) []string {
	var out []string
	for _, p := range patterns {
		if iu, ok := p.(ImageUser); ok {
			for _, k := range iu.ImageKeys() {
				if !contains(out, k) {
					out = append(out, k)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// ruleValues validates a rule's options over the defaults and reports an
// error when it is about a field the rule sets ("interval: …" for a rule
// that sets interval). Other errors (a required option missing) may be
// made good by flags or a workload's annotations; they are reported when a
// workload is injected.
func ruleValues(p Pattern, raw json.RawMessage) error {
	if p == nil {
		return nil
	}
	opts := p.NewOptions()
	if err := strictJSON(nullToEmpty(raw), opts); err != nil {
		return err
	}
	err := opts.Validate()
	if err == nil {
		err = checkResources(opts)
	}
	if err == nil {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	set := map[string]bool{}
	fieldNames(v, set)
	field, _, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		return nil
	}
	for _, seg := range strings.FieldsFunc(field, func(r rune) bool { return r == '.' || r == '[' || r == ']' || r == ' ' }) {
		if set[seg] {
			return err
		}
	}
	return nil
}

// fieldNames collects every object key and every entry name ("name" of a
// list entry, which errors use as a path segment) in a JSON value.
func fieldNames(v any, out map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			out[k] = true
			if s, ok := c.(string); ok && k == "name" {
				out[s] = true
			}
			fieldNames(c, out)
		}
	case []any:
		for _, c := range t {
			fieldNames(c, out)
		}
	}
}
