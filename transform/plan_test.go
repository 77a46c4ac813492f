package transform

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// stepPattern is a pattern with one option, for the plan's steps.
type stepPattern struct{ name string }

type stepOptions struct {
	Level int `json:"level"`
}

func (o *stepOptions) Validate() error {
	if o.Level > 3 {
		return fmt.Errorf("level: %d: at most 3", o.Level)
	}
	return nil
}

func (p stepPattern) Name() string                  { return p.name }
func (p stepPattern) ConfigKey() string             { return p.name }
func (stepPattern) Summary() string                 { return "test: plan steps" }
func (stepPattern) NewOptions() Options             { return &stepOptions{Level: 1} }
func (stepPattern) Inject(*Workload, Options) error { return nil }

// readTestWorkload runs plan's first step on a Deployment with the given
// annotations on its pod template.
func readTestWorkload(t *testing.T, e *Engine, anns string) *plan {
	t.Helper()
	src := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop, labels: {tier: web}}\n" +
		"spec:\n  template:\n    metadata: {labels: {app: api}, annotations: {" + anns + "}}\n    spec: {containers: [{name: api, image: \"a:1\"}]}\n"
	n := yaml.MustParse(src)
	o := &object{node: n, where: "in.yaml[0]", doc: &Doc{Raw: []byte(src)}, spec: findSpec(BuiltinPodTemplates, n.GetApiVersion(), n.GetKind())}
	p, err := e.readWorkload(o, true, KubeVersion{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.settled() {
		t.Fatalf("readWorkload settled the plan: %+v", p)
	}
	return p
}

func stepEngine() *Engine {
	return &Engine{Patterns: []Pattern{stepPattern{"a"}, stepPattern{"b"}}, Version: "test"}
}

// selectPatterns: which patterns are on, and whether the workload was named.
func TestPlanSelectPatterns(t *testing.T) {
	rule := func(sel Selector, keys ...string) Rule {
		r := Rule{Select: sel, Patterns: map[string]json.RawMessage{}}
		for _, k := range keys {
			r.Patterns[k] = json.RawMessage(`{}`)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		anns   string
		flags  Flags
		rules  []Rule
		on     string // enabled patterns, sorted, comma-separated
		named  bool
		reason Reason
		err    string
	}{
		{name: "nothing"},
		{name: "opted out", anns: `sidecarize.dev/inject: "off"`, flags: Flags{Patterns: []string{"a"}}, reason: ReasonOptedOut},
		{name: "-p", flags: Flags{Patterns: []string{"a"}}, on: "a"},
		{name: "-p --name", flags: Flags{Patterns: []string{"a"}, Select: Selector{Names: []string{"api"}}}, on: "a", named: true},
		{name: "-p -l other", flags: Flags{Patterns: []string{"a"}, Select: Selector{MatchLabels: map[string]string{"app": "other"}}}},
		{name: "rule by object label", rules: []Rule{rule(Selector{MatchLabels: map[string]string{"tier": "web"}}, "b")}, on: "b"},
		{name: "rule by name", rules: []Rule{rule(Selector{Names: []string{"api"}}, "a")}, on: "a", named: true},
		{name: "annotation", anns: `sidecarize.dev/inject: "b, a"`, on: "a,b", named: true},
		{name: "annotation enabled", anns: `sidecarize.dev/inject: enabled`, rules: []Rule{rule(Selector{}, "a")}, on: "a", named: true},
		{name: "unknown", anns: `sidecarize.dev/inject: "a,c"`, err: `in.yaml[0]: Deployment shop/api: metadata.annotations["sidecarize.dev/inject"]: unknown pattern "c" (patterns: a, b)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := stepEngine()
			e.Flags = tc.flags
			if tc.rules != nil {
				e.Config = &Config{Spec: Spec{Rules: tc.rules}}
			}
			p := readTestWorkload(t, e, tc.anns)
			err := e.selectPatterns(p)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var on []string
			for _, pat := range e.Patterns {
				if p.on[pat.Name()] {
					on = append(on, pat.Name())
				}
			}
			if got := strings.Join(on, ","); got != tc.on || p.named != tc.named || p.reason != tc.reason {
				t.Errorf("on %q named %v reason %q, want on %q named %v reason %q", got, p.named, p.reason, tc.on, tc.named, tc.reason)
			}
		})
	}
}

// layerOptions: annotations over flags, validation naming the pattern, a
// warning for the options of a pattern that is not on.
func TestPlanLayerOptions(t *testing.T) {
	e := stepEngine()
	e.Flags = Flags{Set: []string{"a.level=2"}}
	p := readTestWorkload(t, e, `sidecarize.dev/inject: a, sidecarize.dev/a.level: "3", sidecarize.dev/b.level: "2"`)
	if err := e.selectPatterns(p); err != nil {
		t.Fatal(err)
	}
	if err := e.layerOptions(p); err != nil {
		t.Fatal(err)
	}
	if len(p.enabled) != 1 || p.opts["a"].(*stepOptions).Level != 3 {
		t.Errorf("enabled %v, options %+v", p.enabled, p.opts)
	}
	if !p.explicit["a"]["level"] || p.explicit["b"]["level"] {
		t.Errorf("explicit: %v", p.explicit)
	}
	if d := cmp.Diff([]string{"b: annotation sidecarize.dev/b.level is set but the pattern is not enabled on this workload"}, p.w.warnings); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}

	p = readTestWorkload(t, e, `sidecarize.dev/inject: a, sidecarize.dev/a.level: "4"`)
	if err := e.selectPatterns(p); err != nil {
		t.Fatal(err)
	}
	err := e.layerOptions(p)
	if want := "in.yaml[0]: Deployment shop/api: a: level: 4: at most 3"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}

	p = readTestWorkload(t, e, `sidecarize.dev/c.level: "1"`)
	err = e.checkAnnotations(p)
	if want := `in.yaml[0]: Deployment shop/api: metadata.annotations["sidecarize.dev/c.level"]: unknown pattern "c" (patterns: a, b)`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// decide: the last step, and the uninject-or-skip rule of the ones before.
func TestPlanDecide(t *testing.T) {
	for _, tc := range []struct {
		enabled bool
		old     bool
		step    step
		reason  Reason
	}{
		{enabled: true, step: stepInject},
		{enabled: true, old: true, step: stepInject},
		{old: true, step: stepLeave},
		{step: stepSkip, reason: ReasonNotSelected},
	} {
		p := &plan{}
		if tc.enabled {
			p.enabled = []Pattern{stepPattern{"a"}}
		}
		if tc.old {
			p.old = &Status{}
		}
		p.decide()
		if p.step != tc.step || p.reason != tc.reason || !p.settled() {
			t.Errorf("%+v: got step %d reason %q", tc, p.step, p.reason)
		}
	}
	for _, old := range []bool{false, true} {
		p := &plan{}
		if old {
			p.old = &Status{}
		}
		p.uninjectElse(ReasonOptedOut)
		if want := map[bool]step{false: stepSkip, true: stepUninject}[old]; p.step != want || (p.reason == ReasonOptedOut) == old {
			t.Errorf("old %v: step %d reason %q", old, p.step, p.reason)
		}
	}
}

// TestPlanUnmentioned: skipping the patterns that are not on and that no
// flag, rule or annotation mentions changes nothing layerOptions works out
// (options, explicit options, warnings, errors), over flags, rules and
// annotations that mention patterns that are on, off or unknown, valid or not.
func TestPlanUnmentioned(t *testing.T) {
	defer func() { skipUnmentioned = true }()
	sets := [][]string{nil, {"a.level=2"}, {"b.level=2"}, {"b=2"}, {"b.level=x"}, {"b.level"}, {"c.level=1"}, {"a.level=1", "b.level=9"}, {"b.x.y=1.5"}}
	anns := []string{``, `sidecarize.dev/inject: a`, `sidecarize.dev/inject: a, sidecarize.dev/b.level: "2"`, `sidecarize.dev/inject: b`,
		`sidecarize.dev/b.level: "x"`, `sidecarize.dev/inject: a, sidecarize.dev/a.level: "4"`}
	rules := []map[string]json.RawMessage{nil, {"a": json.RawMessage(`{}`)}, {"b": json.RawMessage(`{"level": 2}`)}, {"b": json.RawMessage(`{"level": "x"}`)}}
	type outcome struct {
		Err      string
		Enabled  []string
		Opts     map[string]int
		Explicit map[string]map[string]bool
		Warnings []string
	}
	run := func(set []string, ann string, rule map[string]json.RawMessage, skip bool) outcome {
		skipUnmentioned = skip
		e := stepEngine()
		e.Flags = Flags{Set: set, Patterns: []string{"a"}}
		p := readTestWorkload(t, e, ann)
		if rule != nil {
			p.rules = []Rule{{Patterns: rule}}
		}
		var o outcome
		err := e.selectPatterns(p)
		if err == nil {
			err = e.layerOptions(p)
		}
		if err != nil {
			o.Err = err.Error()
		}
		o.Opts = map[string]int{}
		for _, pat := range p.enabled {
			o.Enabled = append(o.Enabled, pat.Name())
		}
		for k, v := range p.opts {
			o.Opts[k] = v.(*stepOptions).Level
		}
		o.Explicit, o.Warnings = p.explicit, p.w.warnings
		return o
	}
	skipped := 0
	for _, set := range sets {
		for _, ann := range anns {
			for _, rule := range rules {
				want, got := run(set, ann, rule, false), run(set, ann, rule, true)
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("--set %q, annotations {%s}, rule %s (-all +skipped):\n%s", set, ann, rule, d)
				}
				if got.Err == "" && !got.Explicit["b"]["level"] && len(got.Enabled) == 1 {
					skipped++
				}
			}
		}
	}
	if skipped == 0 {
		t.Fatal("no case skipped a pattern")
	}
}

// countingPattern's defaults differ each time: checkUnmentioned (on under
// verify) must notice that what layerOptions assumed of it is wrong.
type countingPattern struct{ n *int }

func (countingPattern) Name() string                    { return "counting" }
func (countingPattern) ConfigKey() string               { return "counting" }
func (countingPattern) Summary() string                 { return "test: defaults that change" }
func (c countingPattern) NewOptions() Options           { *c.n++; return &stepOptions{Level: *c.n} }
func (countingPattern) Inject(*Workload, Options) error { return nil }

func TestPlanUnmentionedChecked(t *testing.T) {
	e := &Engine{Patterns: []Pattern{stepPattern{"a"}, countingPattern{new(int)}}, Version: "test", Flags: Flags{Patterns: []string{"a"}}}
	p := readTestWorkload(t, e, ``)
	if err := e.selectPatterns(p); err != nil {
		t.Fatal(err)
	}
	if err := e.layerOptions(p); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("a wrong assumption went unnoticed: %v", err)
	}
}
