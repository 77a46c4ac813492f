package promsim

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// Dashboard is a generated Grafana dashboard (a ConfigMap labelled
// grafana_dashboard, one JSON file) as Grafana runs it: its panels'
// queries and its query variables, for the workload it was generated for.
type Dashboard struct {
	Source string // "ConfigMap <namespace>/<name>"
	// Namespace and Workload are the values the namespace and workload
	// variables take for the workload that owns the ConfigMap (its
	// sidecarize.dev/owner annotation; a namespace-less one is default).
	Namespace, Workload string
	Queries             []PanelQuery
	Variables           []Variable
}

// PanelQuery is one query of a panel.
type PanelQuery struct {
	Panel string // its title
	Expr  string // as written, with Grafana's variables
}

// Variable is a query variable: label_values(<selector>, <label>), and the
// regex Grafana applies to the values it lists.
type Variable struct {
	Name, Query, Regex string
}

// Dashboards decodes every dashboard ConfigMap of objs.
func Dashboards(objs []manifest.Object) ([]Dashboard, error) {
	var out []Dashboard
	for _, o := range objs {
		if o.Kind() != "ConfigMap" || manifest.Str(o, "metadata", "labels", "grafana_dashboard") == "" {
			continue
		}
		src := "ConfigMap " + o.NamespaceOr("default") + "/" + o.Name()
		owner := manifest.Str(o, "metadata", "annotations", "sidecarize.dev/owner")
		_, name, ok := strings.Cut(owner, "/")
		if !ok {
			return nil, fmt.Errorf("%s: owner annotation %q: want <Kind>/<name>", src, owner)
		}
		data := manifest.Map(o, "data")
		if len(data) != 1 {
			return nil, fmt.Errorf("%s: want one dashboard file, got %d", src, len(data))
		}
		var raw string
		for _, v := range data {
			raw, _ = v.(string)
		}
		var js struct {
			Panels     []jsonPanel
			Templating struct {
				List []struct {
					Type, Name string
					Query      any
					Regex      string
				}
			}
		}
		if err := json.Unmarshal([]byte(raw), &js); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		d := Dashboard{Source: src, Namespace: o.NamespaceOr("default"), Workload: name}
		var walk func([]jsonPanel)
		walk = func(ps []jsonPanel) {
			for _, p := range ps {
				for _, t := range p.Targets {
					d.Queries = append(d.Queries, PanelQuery{Panel: p.Title, Expr: t.Expr})
				}
				walk(p.Panels) // a collapsed row holds its panels
			}
		}
		walk(js.Panels)
		for _, v := range js.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, ok := v.Query.(string)
			if !ok {
				return nil, fmt.Errorf("%s: variable %s: query %v: want a string", src, v.Name, v.Query)
			}
			d.Variables = append(d.Variables, Variable{Name: v.Name, Query: q, Regex: v.Regex})
		}
		out = append(out, d)
	}
	return out, nil
}

type jsonPanel struct {
	Title   string
	Targets []struct{ Expr string }
	Panels  []jsonPanel
}

// GrafanaVars are the values Grafana gives a query's variables: the
// dashboard's namespace and workload (single values, inserted as they are:
// Grafana escapes only backslashes and quotes, which Kubernetes names do
// not have), and its built-in interval variables for a data source whose
// scrape interval is scrape, a panel step of step and a time range rng.
// $__rate_interval is max($__interval + scrape interval, 4 × scrape
// interval), as Grafana defines it.
func GrafanaVars(namespace, workload string, scrape, step, rng time.Duration) map[string]string {
	rate := max(step+scrape, 4*scrape)
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	return map[string]string{
		"namespace": namespace, "workload": workload,
		"__interval": FormatDuration(step), "__interval_ms": ms(step),
		"__rate_interval": FormatDuration(rate), "__rate_interval_ms": ms(rate),
		"__range": FormatDuration(rng), "__range_s": strconv.FormatInt(int64(rng/time.Second), 10), "__range_ms": ms(rng),
	}
}

// FormatDuration writes d as PromQL does: in its largest whole unit (1h,
// 4s, 1500ms).
func FormatDuration(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d >= u.d && d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// grafanaVar is a variable reference in each of Grafana's syntaxes: $name,
// ${name}, ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)`)

// Substitute replaces the variables of expr that vars has, as Grafana does
// before it sends a query; a reference to any other variable is left as it
// is (Grafana leaves an unknown variable alone too), and Unresolved reports
// it.
func Substitute(expr string, vars map[string]string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(ref string) string {
		if v, ok := vars[varName(ref)]; ok {
			return v
		}
		return ref
	})
}

// Unresolved lists the variable references left in a substituted query.
func Unresolved(expr string) []string {
	return grafanaVar.FindAllString(expr, -1)
}

func varName(ref string) string {
	m := grafanaVar.FindStringSubmatch(ref)
	return m[1] + m[2] + m[3]
}

// Parse substitutes expr's variables and parses it with Prometheus' own
// PromQL parser; a variable vars lacks is an error.
func Parse(expr string, vars map[string]string) (string, parser.Expr, error) {
	s := Substitute(expr, vars)
	if left := Unresolved(s); len(left) > 0 {
		return s, nil, fmt.Errorf("unknown variables %v in %s", left, expr)
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(s)
	if err != nil {
		return s, nil, fmt.Errorf("%s: %w", s, err)
	}
	return s, e, nil
}

// Selectors are the vector selectors of a parsed query.
func Selectors(e parser.Expr) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// labelValues is Grafana's label_values([selector,] label).
var labelValues = regexp.MustCompile(`^label_values\((?:(.+),\s*)?(\w+)\)$`)

// ParseVariable substitutes a label_values variable query's variables and
// parses its selector with the PromQL parser; it returns the selector
// ("" for none) and the label.
func ParseVariable(v Variable, vars map[string]string) (selector, label string, err error) {
	m := labelValues.FindStringSubmatch(strings.TrimSpace(v.Query))
	if m == nil {
		return "", "", fmt.Errorf("variable %s: %q is not label_values([selector,] label)", v.Name, v.Query)
	}
	selector, label = Substitute(m[1], vars), m[2]
	if left := Unresolved(selector); len(left) > 0 {
		return "", "", fmt.Errorf("variable %s: unknown variables %v in %s", v.Name, left, v.Query)
	}
	if selector != "" {
		if _, err := parser.NewParser(parser.Options{}).ParseMetricSelector(selector); err != nil {
			return "", "", fmt.Errorf("variable %s: %s: %w", v.Name, selector, err)
		}
	}
	return selector, label, nil
}

// VariableValues is what Grafana lists for a query variable: the label's
// values among the series the selector matches, through the variable's
// regex (/…/: its first group, else the whole match).
func (p *Prom) VariableValues(ctx context.Context, v Variable, vars map[string]string) ([]string, error) {
	sel, label, err := ParseVariable(v, vars)
	if err != nil {
		return nil, err
	}
	vs, err := p.LabelValues(ctx, label, sel)
	if err != nil {
		return nil, err
	}
	if v.Regex == "" {
		return vs, nil
	}
	re, err := regexp.Compile(strings.TrimSuffix(strings.TrimPrefix(v.Regex, "/"), "/"))
	if err != nil {
		return nil, fmt.Errorf("variable %s: regex %s: %w", v.Name, v.Regex, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range vs {
		m := re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		if len(m) > 1 {
			s = m[1]
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out, nil
}
