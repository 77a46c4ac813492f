// Package schema generates the JSON Schema of the Sidecarize config file
// (`sidecarize schema`, sidecarize.schema.json) from the same Go types the
// loader decodes into: transform.Config and every pattern's options type,
// with the options' doc tags as descriptions and their defaults. Like the
// loader it refuses unknown fields at every level. Types that decode
// themselves (json.Unmarshaler) have hand-written schemas here; a new one
// is an error until it gets one, so the schema cannot silently drift from
// what the loader accepts.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/ambassador"
	"github.com/sidecarize/sidecarize/transform"
)

// ID is the schema's $id: the committed file at the repository's root.
const ID = "https://raw.githubusercontent.com/sidecarize/sidecarize/main/sidecarize.schema.json"

// M is a JSON Schema object.
type M = map[string]any

// specDocs describe the config's own fields (the options' descriptions
// come from their doc tags). Every field of transform.Spec and the types it
// holds needs one (TestEveryFieldDescribed).
var specDocs = map[string]string{
	"spec.nativeSidecars":             "auto | true | false: put helpers in initContainers with restartPolicy: Always (auto: when kubeVersion >= 1.29)",
	"spec.kubeVersion":                `the cluster's Kubernetes minor version, e.g. "1.33" (the default)`,
	"spec.apiVersions":                "API versions the cluster serves, as helm template --api-versions takes them (monitoring.coreos.com/v1 decides scrape: auto)",
	"spec.images":                     "image per component (haproxy, envoy, fluent-bit, busybox, <type>-exporter): name[:tag][@sha256:digest]",
	"spec.podTemplates":               "workload kinds beyond the built-in ones whose objects hold a pod template (CRDs such as Argo Rollouts)",
	"spec.podTemplates[].group":       "API group of the kind (empty: the core group)",
	"spec.podTemplates[].kind":        "the kind, e.g. Rollout",
	"spec.podTemplates[].path":        "path of the pod template, field names separated by /, e.g. spec/template",
	"spec.rules":                      "rules: each selects workloads and gives them patterns with options; later rules refine earlier ones",
	"spec.rules[].select":             "which workloads the rule applies to; every given condition must hold (omitted: every workload)",
	"spec.rules[].select.kinds":       "workload kinds (case-insensitive)",
	"spec.rules[].select.names":       "workload names",
	"spec.rules[].select.namespaces":  "workload namespaces",
	"spec.rules[].select.matchLabels": "labels the workload or its pod template carries",
	"spec.annotations":                "what the manifests' sidecarize.dev/<pattern>.<option> annotations may set beyond choosing patterns and tuning",
	"spec.annotations.allow":          "consent categories annotations may set",
	"spec.annotations.maxResources":   "ceiling of each request and limit an annotation may set (default cpu: 1, memory: 1Gi)",
	"apiVersion":                      transform.ConfigAPIVersion,
	"kind":                            transform.ConfigKind,
	"metadata":                        "object metadata (name, annotations such as config.kubernetes.io/function)",
	"spec":                            "the config",
}

// Generate returns the schema of a config for the given patterns (in the
// order given: the order of spec.rules[]'s properties).
func Generate(patterns []transform.Pattern) (M, error) {
	g := &gen{docs: specDocs, defs: M{}}
	spec, err := g.object(reflect.TypeOf(transform.Spec{}), reflect.ValueOf(transform.Spec{}), "spec", nil)
	if err != nil {
		return nil, err
	}
	spec["description"] = specDocs["spec"]
	props := spec["properties"].(M)
	props["nativeSidecars"].(M)["enum"] = []string{"auto", "true", "false"}
	props["annotations"].(M)["properties"].(M)["allow"].(M)["items"].(M)["enum"] = transform.ConsentCategories
	rule, err := g.rule(patterns)
	if err != nil {
		return nil, err
	}
	props["rules"] = M{"type": "array", "description": specDocs["spec.rules"], "items": rule}
	return M{
		"$defs":                g.defs,
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  ID,
		"title":                "Sidecarize config",
		"description":          "sidecarize's config file and KRM functionConfig (sidecarize patterns lists every option; README: Configuration)",
		"type":                 "object",
		"required":             []string{"apiVersion", "kind"},
		"additionalProperties": false,
		"properties": M{
			"apiVersion": M{"const": transform.ConfigAPIVersion, "description": "always " + transform.ConfigAPIVersion},
			"kind":       M{"const": transform.ConfigKind, "description": "always " + transform.ConfigKind},
			"metadata":   M{"type": "object", "description": specDocs["metadata"]},
			"spec":       spec,
		},
	}, nil
}

// JSON is Generate, indented, with a final newline.
func JSON(patterns []transform.Pattern) ([]byte, error) {
	s, err := Generate(patterns)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type gen struct {
	docs map[string]string
	defs M // $defs: the entries of list options
}

// rule is spec.rules[]: select plus one key per pattern (its ConfigKey, and
// its name, which the loader takes too). A pattern's value may be empty
// (`monitor:`) or true: on with defaults.
func (g *gen) rule(patterns []transform.Pattern) (M, error) {
	sel, err := g.object(reflect.TypeOf(transform.Selector{}), reflect.Value{}, "spec.rules[].select", nil)
	if err != nil {
		return nil, err
	}
	sel["description"] = specDocs["spec.rules[].select"]
	props := M{"select": sel}
	for _, p := range patterns {
		docs := map[string]string{}
		for _, o := range transform.DescribeOptions(p) {
			docs[o.Name] = o.Doc
		}
		opts := p.NewOptions()
		t := reflect.TypeOf(opts)
		v := reflect.ValueOf(opts)
		for t.Kind() == reflect.Pointer {
			t, v = t.Elem(), v.Elem()
		}
		var body M
		if named := byName(t); named >= 0 {
			body, err = g.named(p, t, v, named, opts, docs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name(), err)
			}
		} else if t.Kind() == reflect.Slice {
			// A list of named entries (the ambassador's upstreams):
			// [...] or {upstreams: [...]}.
			entry := reflect.New(t.Elem()).Elem()
			if d, ok := opts.(transform.EntryDefaulter); ok {
				if e := reflect.ValueOf(d.DefaultEntry()); e.IsValid() && e.Type() == t.Elem() {
					entry = e
				}
			}
			item, err := g.object(t.Elem(), entry, "", prefixed(docs, "<name>."))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name(), err)
			}
			def := p.Name() + "Entry"
			g.defs[def] = item
			list := M{"type": "array", "items": M{"$ref": "#/$defs/" + def}}
			body = M{"anyOf": []any{list, M{"type": "object", "additionalProperties": false, "properties": M{"upstreams": list}}}}
		} else {
			body, err = g.object(t, v, "", docs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name(), err)
			}
		}
		s := M{
			"description": p.Summary() + " (empty or true: on with the defaults)",
			"anyOf":       []any{M{"type": "null"}, M{"const": true}, body},
		}
		props[p.ConfigKey()] = s
		if p.Name() != p.ConfigKey() {
			props[p.Name()] = M{"$ref": "#/properties/spec/properties/rules/items/properties/" + p.ConfigKey(), "description": "same as " + p.ConfigKey()}
		}
	}
	return M{"type": "object", "additionalProperties": false, "properties": props}, nil
}

// byName is the index of a struct's field tagged `options:"byname"` (named
// entries, addressed by name under the struct: transform/options.go), or -1.
func byName(t reflect.Type) int {
	if t.Kind() != reflect.Struct {
		return -1
	}
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("options") == "byname" {
			return i
		}
	}
	return -1
}

// named is the schema of options holding named entries (the ambassador's
// {upstreams: [...], <settings>}), and of their older form, a bare list of
// entries each of which may carry the settings: $defs <pattern>Entry.
func (g *gen) named(p transform.Pattern, t reflect.Type, v reflect.Value, i int, opts any, docs map[string]string) (M, error) {
	f := t.Field(i)
	et := f.Type.Elem()
	entry := reflect.New(et).Elem()
	if d, ok := opts.(transform.EntryDefaulter); ok {
		if e := reflect.ValueOf(d.DefaultEntry()); e.IsValid() && e.Type() == et {
			entry = e
		}
	}
	item, err := g.object(et, entry, "", prefixed(docs, "<name>."))
	if err != nil {
		return nil, err
	}
	props := M{}
	if err := g.fields(t, v, "", "", docs, props); err != nil {
		return nil, err
	}
	key := strings.Split(f.Tag.Get("json"), ",")[0]
	g.defs[p.Name()+"Upstream"] = item
	props[key] = M{"type": "array", "items": M{"$ref": "#/$defs/" + p.Name() + "Upstream"},
		"description": "each addressed by its name in annotations and --set (" + p.Name() + ".<name>.<option>)"}
	legacy := M{}
	for k, x := range item["properties"].(M) {
		legacy[k] = x
	}
	for k, x := range props {
		if k != key {
			legacy[k] = x
		}
	}
	g.defs[p.Name()+"Entry"] = M{"type": "object", "additionalProperties": false, "properties": legacy,
		"description": "an entry of the older list form, which may carry the settings of the whole"}
	return M{"anyOf": []any{
		M{"type": "object", "additionalProperties": false, "properties": props},
		M{"type": "array", "items": M{"$ref": "#/$defs/" + p.Name() + "Entry"}},
	}}, nil
}

// prefixed keeps the docs under prefix, without it.
func prefixed(docs map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range docs {
		if s, ok := strings.CutPrefix(k, prefix); ok {
			out[s] = v
		}
	}
	return out
}

var (
	unmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	// Types that decode themselves, with the shapes their UnmarshalJSON takes.
	custom = map[reflect.Type]M{
		reflect.TypeOf(resource.Quantity{}): {"type": []string{"string", "number"}, "description": "a Kubernetes quantity, e.g. 100m, 1Gi"},
		// spec.rules[] is generated by rule, from the patterns.
		reflect.TypeOf(transform.Rule{}): {},
		reflect.TypeOf(validate.SecretRef{}): {"anyOf": []any{
			M{"type": "string", "description": "Secret name"},
			M{"type": "object", "additionalProperties": false, "required": []string{"name"}, "properties": M{"name": M{"type": "string"}}},
		}},
		// The ambassador's ca: {name, key}; a name alone, or {secret, key}
		// of older configs.
		reflect.TypeOf(ambassador.SecretKey{}): {"anyOf": []any{
			M{"type": "string", "description": "Secret name"},
			M{"type": "object", "additionalProperties": false, "properties": M{
				"name":   M{"type": "string", "description": "Secret name"},
				"key":    M{"type": "string", "description": "key in the Secret (default ca.crt)"},
				"secret": M{"type": "string", "description": "Secret name (older spelling of name)"},
			}},
		}},
	}
)

// object is a struct's schema. path names it in specDocs (config fields);
// docs, when not nil, are the pattern's dotted option docs instead. v is
// the defaulted value (invalid: no defaults).
func (g *gen) object(t reflect.Type, v reflect.Value, path string, docs map[string]string) (M, error) {
	props := M{}
	if err := g.fields(t, v, path, "", docs, props); err != nil {
		return nil, err
	}
	return M{"type": "object", "additionalProperties": false, "properties": props}, nil
}

func (g *gen) fields(t reflect.Type, v reflect.Value, path, dotted string, docs map[string]string, props M) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		if f.Anonymous && tag == "" {
			if err := g.fields(f.Type, fv, path, dotted, docs, props); err != nil {
				return err
			}
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		s, err := g.value(f.Type, fv, join(path, tag), dotted+tag, docs)
		if err != nil {
			return fmt.Errorf("%s: %w", tag, err)
		}
		if docs != nil {
			if d := docs[dotted+tag]; d != "" {
				s["description"] = d
			}
		} else if d := g.docs[join(path, tag)]; d != "" {
			s["description"] = d
		}
		if _, obj := s["properties"]; !obj && fv.IsValid() && !fv.IsZero() {
			if b, err := json.Marshal(fv.Interface()); err == nil {
				var d any
				if json.Unmarshal(b, &d) == nil {
					s["default"] = d
				}
			}
		}
		props[tag] = s
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return ""
	}
	return path + "." + name
}

// value is the schema of one field's type.
func (g *gen) value(t reflect.Type, v reflect.Value, path, dotted string, docs map[string]string) (M, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		if v.IsValid() {
			if v.IsNil() {
				v = reflect.Value{}
			} else {
				v = v.Elem()
			}
		}
	}
	if s, ok := custom[t]; ok {
		out := M{}
		for k, x := range s {
			out[k] = x
		}
		return out, nil
	}
	if t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil, fmt.Errorf("%s decodes itself (UnmarshalJSON): give it a schema in internal/schema", t)
	}
	switch t.Kind() {
	case reflect.String:
		return M{"type": "string"}, nil
	case reflect.Bool:
		return M{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return M{"type": "integer"}, nil
	case reflect.Float32, reflect.Float64:
		return M{"type": "number"}, nil
	case reflect.Slice:
		item, err := g.value(t.Elem(), reflect.Value{}, path+"[]", dotted+"[]", docs)
		if err != nil {
			return nil, err
		}
		if d := g.docs[path+"[]"]; d != "" {
			item["description"] = d
		}
		return M{"type": "array", "items": item}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map keys must be strings", t)
		}
		item, err := g.value(t.Elem(), reflect.Value{}, path+".{}", dotted+".{}", docs)
		if err != nil {
			return nil, err
		}
		return M{"type": "object", "additionalProperties": item}, nil
	case reflect.Struct:
		props := M{}
		if err := g.fields(t, v, path, dotted+".", docs, props); err != nil {
			return nil, err
		}
		return M{"type": "object", "additionalProperties": false, "properties": props}, nil
	case reflect.Interface:
		return M{}, nil
	}
	return nil, fmt.Errorf("%s: no JSON Schema for kind %s", t, t.Kind())
}
