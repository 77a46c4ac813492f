package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// TestPromtool: every generated PrometheusRule's groups pass `promtool check
// rules`, and a `promtool test rules` unit test per rule set proves its
// high-error-rate alert fires above its threshold and not below.
func TestPromtool(t *testing.T) {
	n := 0
	for _, f := range outputsAndSamples(t) {
		data, err := os.ReadFile(filepath.Join(env.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := manifest.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range objs {
			if o.Kind() != "PrometheusRule" {
				continue
			}
			n++
			t.Run(f+"/"+o.Name(), func(t *testing.T) {
				t.Parallel()
				if err := checkRuleSet(t, o); err != nil {
					t.Error(err)
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("no PrometheusRule found in the generated outputs or samples")
	}
}

func promtool(t testing.TB) string {
	p, err := env.Tool("PROMTOOL_BIN", "promtool", "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type ruleGroups struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string            `yaml:"record"`
			Alert  string            `yaml:"alert"`
			Expr   string            `yaml:"expr"`
			For    string            `yaml:"for"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// checkRuleSet runs promtool check rules and, for each error-rate alert, a
// promtool unit test above and below its threshold.
func checkRuleSet(t testing.TB, o manifest.Object) error {
	dir := t.TempDir()
	spec, err := yaml.Marshal(manifest.Map(o, "spec"))
	if err != nil {
		return err
	}
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, spec, 0o644); err != nil {
		return err
	}
	if out, err := exec.Command(promtool(t), "check", "rules", rules).CombinedOutput(); err != nil {
		return fmt.Errorf("promtool check rules: %v\n%s\n--- rules:\n%s", err, out, spec)
	}
	var rg ruleGroups
	if err := yaml.Unmarshal(spec, &rg); err != nil {
		return err
	}
	tests, err := errorRateTests(rg)
	if err != nil {
		return err
	}
	if len(tests) == 0 {
		if strings.Contains(string(spec), "haproxy_") {
			return fmt.Errorf("rule set over haproxy metrics has no high-error-rate alert (an alert `<ratio> > <threshold>` over a 5xx series)\n%s", spec)
		}
		t.Logf("no error-rate alert: only checked")
		return nil
	}
	testFile := filepath.Join(dir, "test.yaml")
	if err := os.WriteFile(testFile, []byte(tests), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(promtool(t), "test", "rules", testFile)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("promtool test rules: %v\n%s\n--- test:\n%s\n--- rules:\n%s", err, out, tests, spec)
	}
	t.Logf("promtool test rules passed:\n%s", tests)
	return nil
}

var (
	reZero      = regexp.MustCompile(`^(?s)(.*\S)\s*==\s*0$`)
	reThreshold = regexp.MustCompile(`^(?s)(.*\S)\s*>\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$`)
	reStrip     = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|\[[^\]]*\]|offset\s+\w+`)
	reSelector  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*(\{[^}]*\})?`)
	reMatcher   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	promKeyword = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "offset": true, "inf": true, "nan": true}
)

type selector struct {
	name     string
	matchers [][3]string // label, op, value
}

// selectors finds the metric selectors of a PromQL expression (the subset of
// PromQL sidecarize generates: aggregations, functions, binary operators).
func selectors(expr string) []selector {
	s := reStrip.ReplaceAllString(expr, " ")
	var out []selector
	for _, loc := range reSelector.FindAllStringSubmatchIndex(s, -1) {
		name := strings.TrimSpace(s[loc[0]:loc[1]])
		if i := strings.Index(name, "{"); i >= 0 {
			name = strings.TrimSpace(name[:i])
		}
		// Skip function/aggregation names, keywords, numbers' exponents and
		// words inside strings.
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.' || s[loc[0]-1] == '"') {
			continue
		}
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if loc[2] < 0 && strings.HasPrefix(rest, "(") || promKeyword[strings.ToLower(name)] {
			continue
		}
		sel := selector{name: name}
		if loc[2] >= 0 {
			for _, m := range reMatcher.FindAllStringSubmatch(s[loc[2]:loc[3]], -1) {
				sel.matchers = append(sel.matchers, [3]string{m[1], m[2], m[3]})
			}
		}
		out = append(out, sel)
	}
	return out
}

// codeLabels are the labels that split responses by status class, with
// their 5xx and 2xx values: HAProxy's code, Envoy's
// envoy_response_code_class.
var codeLabels = map[string][2]string{"code": {"5xx", "2xx"}, "envoy_response_code_class": {"5", "2"}}

func isErrorMatcher(m [3]string) bool {
	_, ok := codeLabels[m[0]]
	return ok && (m[1] == "=" || m[1] == "=~") && strings.HasPrefix(m[2], "5")
}

// errorRateTests builds a promtool unit test file: for each alert whose
// expression is `<expr> > <threshold>` and depends (through recording rules)
// on a 5xx series, series at twice and at half the threshold; for each
// alert `<gauge> == 0`, the gauge at 0 and at 1.
func errorRateTests(rg ruleGroups) (string, error) {
	recorded := map[string]string{} // record name -> expr
	for _, g := range rg.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] += " " + r.Expr
			}
		}
	}
	var b strings.Builder
	b.WriteString("rule_files: [rules.yaml]\nevaluation_interval: 1m\ntests:\n")
	found := 0
	for _, g := range rg.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			forDur, err := parseFor(r.Alert, r.For)
			if err != nil {
				return "", err
			}
			if z := reZero.FindStringSubmatch(strings.TrimSpace(r.Expr)); z != nil {
				if err := zeroTest(&b, r.Alert, z[1], recorded, forDur); err != nil {
					return "", err
				}
				found++
				continue
			}
			m := reThreshold.FindStringSubmatch(strings.TrimSpace(r.Expr))
			if m == nil {
				continue
			}
			threshold, err := strconv.ParseFloat(m[2], 64)
			if err != nil || threshold <= 0 || threshold >= 1 {
				continue
			}
			// Expand recording rules down to the raw series.
			base := map[string][]selector{}
			seen := map[string]bool{}
			var walk func(expr string)
			walk = func(expr string) {
				for _, sel := range selectors(expr) {
					if e, ok := recorded[sel.name]; ok {
						if !seen[sel.name] {
							seen[sel.name] = true
							walk(e)
						}
						continue
					}
					base[sel.name] = append(base[sel.name], sel)
				}
			}
			walk(m[1])
			hasErr := false
			for _, sels := range base {
				for _, s := range sels {
					for _, mm := range s.matchers {
						hasErr = hasErr || isErrorMatcher(mm)
					}
				}
			}
			if !hasErr {
				continue
			}
			found++
			evalMin := 15 + int(forDur.Minutes())
			for _, c := range []struct {
				name   string
				ratio  float64
				firing int
			}{{"above", threshold * 2, 1}, {"below", threshold / 2, 0}} {
				series, err := seriesFor(base, c.ratio, evalMin+5)
				if err != nil {
					return "", fmt.Errorf("alert %s: %v", r.Alert, err)
				}
				fmt.Fprintf(&b, "  # %s: error ratio %g (%s the threshold %g)\n", r.Alert, c.ratio, c.name, threshold)
				b.WriteString("  - interval: 1m\n    input_series:\n")
				for _, s := range series {
					fmt.Fprintf(&b, "      - series: %s\n        values: %q\n", strconv.Quote(s[0]), s[1])
				}
				fmt.Fprintf(&b, "    promql_expr_test:\n      - expr: 'count(ALERTS{alertname=%q,alertstate=\"firing\"}) or vector(0)'\n", r.Alert)
				fmt.Fprintf(&b, "        eval_time: %dm\n        exp_samples:\n          - labels: '{}'\n            value: %d\n", evalMin, c.firing)
			}
		}
	}
	if found == 0 {
		return "", nil
	}
	return b.String(), nil
}

func parseFor(alert, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("alert %s: for %q: %v", alert, v, err)
	}
	return d, nil
}

// zeroTest writes the unit tests of an alert `<raw selector> == 0` (a
// gauge such as pg_up or haproxy_backend_active_servers): at 0 for longer
// than its for: it fires, at 1 it does not.
func zeroTest(b *strings.Builder, alert, expr string, recorded map[string]string, forDur time.Duration) error {
	sels := selectors(expr)
	if len(sels) != 1 || recorded[sels[0].name] != "" {
		return fmt.Errorf("alert %s: want one raw series selector before == 0, got %q", alert, expr)
	}
	series, err := seriesFor(map[string][]selector{sels[0].name: sels}, 0, 0)
	if err != nil {
		return fmt.Errorf("alert %s: %v", alert, err)
	}
	evalMin := 2 + int(forDur.Minutes())
	for _, v := range []int{0, 1} {
		fmt.Fprintf(b, "  # %s: %s at %d\n  - interval: 1m\n    input_series:\n", alert, sels[0].name, v)
		fmt.Fprintf(b, "      - series: %s\n        values: %q\n", strconv.Quote(series[0][0]), fmt.Sprintf("%dx%d", v, evalMin+5))
		fmt.Fprintf(b, "    promql_expr_test:\n      - expr: 'count(ALERTS{alertname=%q,alertstate=\"firing\"}) or vector(0)'\n", alert)
		fmt.Fprintf(b, "        eval_time: %dm\n        exp_samples:\n          - labels: '{}'\n            value: %d\n", evalMin, 1-v)
	}
	return nil
}

// seriesFor generates input series for the raw metrics: counters grow by 100
// a minute, split 5xx/2xx at ratio where a code matcher asks for 5xx; gauges
// are constant.
func seriesFor(base map[string][]selector, ratio float64, minutes int) ([][2]string, error) {
	names := make([]string, 0, len(base))
	for n := range base {
		names = append(names, n)
	}
	sort.Strings(names)
	var out [][2]string
	for _, n := range names {
		labels := map[string]string{}
		coded := ""
		for _, s := range base[n] {
			for _, m := range s.matchers {
				switch {
				case codeLabels[m[0]] != [2]string{}:
					coded = m[0]
				case m[1] == "=":
					if v, ok := labels[m[0]]; ok && v != m[2] {
						return nil, fmt.Errorf("%s: conflicting %s=%q and %q", n, m[0], v, m[2])
					}
					labels[m[0]] = m[2]
				case m[1] == "=~":
					alt := strings.Split(m[2], "|")[0]
					if regexp.QuoteMeta(alt) != alt {
						return nil, fmt.Errorf("%s: cannot generate a value for %s=~%q", n, m[0], m[2])
					}
					labels[m[0]] = alt
				}
			}
		}
		sel := func(extra string) string {
			keys := make([]string, 0, len(labels))
			for k := range labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
			}
			if extra != "" {
				parts = append(parts, extra)
			}
			return n + "{" + strings.Join(parts, ",") + "}"
		}
		counter := strings.HasSuffix(n, "_total") || strings.HasSuffix(n, "_count") || strings.HasSuffix(n, "_sum")
		switch {
		case coded != "":
			v := codeLabels[coded]
			out = append(out,
				[2]string{sel(fmt.Sprintf("%s=%q", coded, v[0])), fmt.Sprintf("0+%gx%d", 100*ratio, minutes)},
				[2]string{sel(fmt.Sprintf("%s=%q", coded, v[1])), fmt.Sprintf("0+%gx%d", 100*(1-ratio), minutes)})
		case counter:
			out = append(out, [2]string{sel(""), fmt.Sprintf("0+100x%d", minutes)})
		default:
			out = append(out, [2]string{sel(""), fmt.Sprintf("0.1x%d", minutes)})
		}
	}
	return out, nil
}

// TestPromtoolTracingEnvoySeries runs testdata/promtool/tracing-envoy.test.yaml
// (series as Envoy exports them) against the tracing rules golden's
// PrometheusRule: the 5xx ratio of the inbound listener is recorded and
// alerted on, the metrics listener and upstream statistics are not counted.
func TestPromtoolTracingEnvoySeries(t *testing.T) {
	const golden = "patterns/tracing/testdata/rules/expected.yaml"
	_, objs := expGolden(t, golden)
	var spec []byte
	var err error
	for _, o := range objs {
		if o.Kind() == "PrometheusRule" {
			if spec, err = yaml.Marshal(manifest.Map(o, "spec")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if spec == nil {
		t.Fatalf("%s: no PrometheusRule", golden)
	}
	test, err := os.ReadFile(filepath.Join("testdata", "promtool", "tracing-envoy.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"rules.yaml": spec, "test.yaml": test} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool(t), "test", "rules", "test.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n--- rules:\n%s", err, out, spec)
	}
	t.Logf("%s", out)
}
