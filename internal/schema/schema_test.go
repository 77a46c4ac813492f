package schema_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/cli"
	"github.com/sidecarize/sidecarize/internal/schema"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

const root = "../.."

// TestCommitted keeps sidecarize.schema.json (the file the README's
// yaml-language-server modeline points at) equal to `sidecarize schema`.
func TestCommitted(t *testing.T) {
	got, err := schema.JSON(patterns.All())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "sidecarize.schema.json")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("sidecarize.schema.json is stale: regenerate it with UPDATE_GOLDEN=1 go test ./internal/schema")
	}
}

// compile compiles the schema with a real JSON Schema validator (which
// also checks it against the 2020-12 meta-schema).
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := schema.JSON(patterns.All())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schema.ID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schema.ID)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

func validate(s *jsonschema.Schema, data []byte) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

type config struct {
	where string
	data  []byte
}

var (
	configRE = regexp.MustCompile(`(?m)^kind:\s*Sidecarize\s*$`)
	mdYAML   = regexp.MustCompile("(?s)```ya?ml\n(.*?)```")
)

// configs finds every Sidecarize config in the repository: YAML files
// (each document), the txtar files of the CLI scripts and the ```yaml
// blocks of the Markdown docs (README, docs/, examples).
func configs(t *testing.T) []config {
	t.Helper()
	var out []config
	add := func(where string, data []byte) {
		for i, d := range transform.SplitStream(where, data) {
			if configRE.Match(d.Raw) {
				out = append(out, config{fmt.Sprintf("%s[%d]", where, i), d.Raw})
			}
		}
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "dist" || name == "bin" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch ext := filepath.Ext(name); ext {
		case ".yaml", ".yml", ".txtar", ".md":
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			switch ext {
			case ".txtar":
				for _, f := range txtar.Parse(data).Files {
					if strings.HasSuffix(f.Name, ".yaml") || strings.HasSuffix(f.Name, ".yml") {
						add(rel+":"+f.Name, f.Data)
					}
				}
			case ".md":
				for i, m := range mdYAML.FindAllSubmatch(data, -1) {
					add(fmt.Sprintf("%s:block%d", rel, i), m[1])
				}
			default:
				add(rel, data)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRepositoryConfigs validates every config of the repository with
// the schema and loads it with sidecarize's loader: every config the
// loader takes, the schema takes (an editor never flags a working config);
// a config the loader refuses for its structure (an unknown field, a
// wrong type), the schema refuses too.
func TestRepositoryConfigs(t *testing.T) {
	s := compile(t)
	cfgs := configs(t)
	valid, invalid, structural := 0, 0, 0
	for _, c := range cfgs {
		_, loadErr := transform.LoadConfig(c.where, c.data, patterns.All())
		schemaErr := validate(s, c.data)
		switch {
		case loadErr == nil:
			valid++
			if schemaErr != nil {
				t.Errorf("%s: loads, but the schema refuses it: %v", c.where, schemaErr)
			}
		default:
			invalid++
			t.Logf("%s: refused by the loader (%v); by the schema: %v", c.where, loadErr, schemaErr != nil)
			if structuralError(loadErr) {
				structural++
				if schemaErr == nil {
					t.Errorf("%s: the loader refuses its structure (%v), the schema takes it", c.where, loadErr)
				}
			}
		}
	}
	t.Logf("%d configs: %d load and validate, %d refused by the loader (%d for their structure, refused by the schema too)", len(cfgs), valid, invalid, structural)
	if valid < 50 {
		t.Errorf("only %d valid configs found in the repository: the search is broken", valid)
	}
}

// structuralError: errors of the config's shape, which a schema
// expresses (value checks such as durations and ports it leaves to the
// loader).
func structuralError(err error) bool {
	return structuralRE.MatchString(err.Error())
}

var structuralRE = regexp.MustCompile(`unknown field|expected [^,]+, got |expected a list of upstreams|a Secret reference has only name|expected apiVersion: `)

// TestInvalidConfigs: configs of the wrong shape are refused by the schema
// (and by the loader), at every level.
func TestInvalidConfigs(t *testing.T) {
	s := compile(t)
	head := "apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarize\n"
	for name, body := range map[string]string{
		"wrong kind":              "apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarise\nspec: {}\n",
		"unknown top field":       head + "rules: []\n",
		"unknown spec field":      head + "spec: {nativeSidecar: auto}\n",
		"nativeSidecars value":    head + "spec: {nativeSidecars: sometimes}\n",
		"unknown pattern":         head + "spec: {rules: [{select: {names: [a]}, monitoring: {}}]}\n",
		"unknown selector field":  head + "spec: {rules: [{select: {name: [a]}, monitor: {}}]}\n",
		"unknown option":          head + "spec: {rules: [{monitor: {proxyport: 9080}}]}\n",
		"option type":             head + "spec: {rules: [{monitor: {proxyPort: nine}}]}\n",
		"pattern false":           head + "spec: {rules: [{monitor: false}]}\n",
		"nested option":           head + "spec: {rules: [{ambassadors: [{upstream: http://api, circuitBreaker: {errors: 3}}]}]}\n",
		"ambassadors object key":  head + "spec: {rules: [{ambassadors: {upstream: [{upstream: http://api}]}}]}\n",
		"secretRef extra field":   head + "spec: {rules: [{exporter: {type: postgres, secretRef: {name: db, key: x}}}]}\n",
		"resources unknown field": head + "spec: {rules: [{monitor: {resources: {limit: {cpu: 1}}}}]}\n",
		"allow category":          head + "spec: {annotations: {allow: [everything]}}\n",
		"podTemplates field":      head + "spec: {podTemplates: [{kind: Rollout, path: spec/template, version: v1}]}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := validate(s, []byte(body)); err == nil {
				t.Errorf("the schema takes\n%s", body)
			}
			if _, err := transform.LoadConfig("config.yaml", []byte(body), patterns.All()); err == nil {
				t.Errorf("the loader takes\n%s", body)
			}
		})
	}
}

// TestEveryFieldDescribed: the config's own fields have descriptions, and
// every option `sidecarize patterns` documents has its doc as description.
func TestEveryFieldDescribed(t *testing.T) {
	s, err := schema.Generate(patterns.All())
	if err != nil {
		t.Fatal(err)
	}
	prop := func(node any, name string) map[string]any {
		m, _ := node.(map[string]any)
		props, _ := m["properties"].(map[string]any)
		p, _ := props[name].(map[string]any)
		return p
	}
	var walk func(path string, node map[string]any)
	walk = func(path string, node map[string]any) {
		props, _ := node["properties"].(map[string]any)
		for k, v := range props {
			vm := v.(map[string]any)
			if vm["description"] == nil {
				t.Errorf("%s.%s: no description", path, k)
			}
			walk(path+"."+k, vm)
			if items, ok := vm["items"].(map[string]any); ok && path+"."+k != ".spec.rules" {
				walk(path+"."+k+"[]", items)
			}
		}
	}
	walk("", s)
	rules := prop(prop(s, "spec"), "rules")["items"]
	for _, p := range patterns.All() {
		body := prop(rules, p.ConfigKey())
		if body == nil {
			t.Errorf("spec.rules[].%s: missing", p.ConfigKey())
			continue
		}
		opts := body["anyOf"].([]any)[2].(map[string]any)
		if _, list := opts["anyOf"]; list {
			opts = s["$defs"].(map[string]any)[p.Name()+"Entry"].(map[string]any)
		}
		for _, o := range transform.DescribeOptions(p) {
			node := opts
			for _, seg := range strings.Split(strings.TrimPrefix(o.Name, "<name>."), ".") {
				node = prop(node, seg)
			}
			if node == nil {
				t.Errorf("%s: option %s is not in the schema", p.Name(), o.Name)
			} else if node["description"] != o.Doc {
				t.Errorf("%s: option %s: description %q, want %q", p.Name(), o.Name, node["description"], o.Doc)
			}
		}
	}
}

// TestInitValidates: the config `sidecarize init` writes, modeline
// included, validates against the schema.
func TestInitValidates(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cli.Run([]string{"sidecarize", "init", "-"}, nil, &out, &errb); code != 0 {
		t.Fatalf("init -: exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "# yaml-language-server: $schema=") {
		t.Errorf("init's config does not start with the yaml-language-server modeline:\n%s", out.String())
	}
	if err := validate(compile(t), out.Bytes()); err != nil {
		t.Errorf("init's config: %v", err)
	}
}
