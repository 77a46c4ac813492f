// Package dashboard generates a workload's Grafana dashboard: one per
// workload, whatever number of patterns contribute panels to it (the
// monitor's HTTP traffic, the ambassador's upstreams and circuits, the
// exporter's health). It is a ConfigMap the Grafana sidecar of
// kube-prometheus-stack imports: labelled grafana_dashboard: "1", put in the
// folder its grafana_folder annotation names.
//
// The dashboard is built as typed values of the Grafana Foundation SDK and
// marshalled, never from text. Its queries select series by the namespace
// and pod labels, which the Prometheus Operator's ServiceMonitors and
// PodMonitors and the usual prometheus.io annotation scrape configs all
// give, so a dashboard works whatever the scrape mode; metric names and the
// proxy labels are those of the generated PrometheusRules.
package dashboard

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	sdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarize/sidecarize/transform"
)

// How the Grafana sidecar finds the ConfigMap and where it files it.
const (
	LabelDashboard   = "grafana_dashboard"
	AnnotationFolder = "grafana_folder"
	Folder           = "sidecarize"
	// Part is the last part of the ConfigMap's name:
	// <workload>-<first contributing pattern>-dashboard.
	Part = "dashboard"
)

// The template variables every query uses (e2e/promsim substitutes them as
// Grafana does, parses each query with Prometheus' parser and runs it
// against a real Prometheus).
const (
	VarDatasource = "datasource"
	VarNamespace  = "namespace"
	VarWorkload   = "workload"
)

// Panel is one graph: its title, what it shows, its unit (a Grafana unit
// id) and its queries.
type Panel struct {
	Title       string
	Description string
	Unit        string
	// Stat shows the last value instead of a graph.
	Stat bool
	// Health is a stat of an up metric: 1 is up (green), below is down (red).
	Health bool
	// Threshold, when set, draws a line (graph) or turns the value red
	// (stat) at that value.
	Threshold *float64
	Queries   []Query
}

// Query is one PromQL query of a panel and its legend.
type Query struct {
	Expr   string
	Legend string
}

// Section is a pattern's row of panels.
type Section struct {
	Title  string
	Panels []Panel
}

// Add adds a pattern's section to the workload's dashboard.
func Add(w *transform.Workload, s Section) {
	b := w.Assembly(Part, func() transform.Assembler { return &board{} }).(*board)
	b.sections = append(b.sections, s)
}

// Selector is the label matchers of a query for the workload's pods:
// namespace and pod (the pod's name is the workload's and a suffix its
// kind gives: PodName), then extra matchers.
func Selector(w *transform.Workload, extra ...string) string {
	m := []string{fmt.Sprintf(`namespace="$%s"`, VarNamespace), fmt.Sprintf(`pod=~"$%s%s"`, VarWorkload, PodSuffix(w.Kind))}
	return strings.Join(append(m, extra...), ",")
}

// PodSuffix is a regular expression for what the controller of a workload
// kind appends to the workload's name to name its pods (a Deployment's
// api-7d9c5b6f48-x2kqz, a StatefulSet's db-0).
func PodSuffix(kind string) string {
	switch kind {
	case "Pod":
		return ""
	case "Deployment", "Rollout":
		return "-[a-z0-9]+-[a-z0-9]+"
	case "StatefulSet":
		return "-[0-9]+"
	case "CronJob":
		return "-[0-9]+-[a-z0-9]+"
	case "DaemonSet", "ReplicaSet", "ReplicationController", "Job":
		return "-[a-z0-9]+"
	}
	return "-.+"
}

// Rate is the per-second rate of a counter over Grafana's rate interval.
func Rate(metric, sel string) string {
	return fmt.Sprintf(`rate(%s{%s}[$__rate_interval])`, metric, sel)
}

// board collects the sections of one workload's dashboard.
type board struct {
	sections []Section
}

// Assemble implements transform.Assembler: the dashboard's ConfigMap.
func (b *board) Assemble(w *transform.Workload) error {
	name := w.ObjectName(Part)
	js, err := b.json(w)
	if err != nil {
		return err
	}
	cm := corev1.ConfigMap{Data: map[string]string{name + ".json": js}}
	cm.APIVersion, cm.Kind, cm.Name = "v1", "ConfigMap", name
	cm.Labels = map[string]string{LabelDashboard: "1"}
	cm.Annotations = map[string]string{AnnotationFolder: Folder}
	return w.AddObject(cm)
}

// json is the dashboard, indented: one key per line in the manifest.
//
// Dashboards differ from workload to workload only in the workload's
// identity (its reference, uid, namespace and name) once the kind and the
// sections are the same, and building one with the Grafana SDK is most of
// what a dashboard costs. So the JSON is built once per kind and sections
// with placeholders for the identity (a control character no section
// holds, which the encoder writes as \u0001) and copied with the identity
// filled in, JSON-escaped. Sections that hold the marker are built
// directly. TestDashboardCache compares the two ways on every golden case.
func (b *board) json(w *transform.Workload) (string, error) {
	id := identity{kind: w.Kind, ref: w.Ref(), uid: UID(w), namespace: w.Namespace, name: w.Name}
	if !cacheOn {
		return b.encode(id)
	}
	key, direct := sectionsKey(w.Kind, b.sections)
	if direct {
		return b.encode(id)
	}
	tmpl, ok := cache.Load(key)
	if !ok && cached.Load() >= cacheSize {
		return b.encode(id)
	}
	if !ok {
		js, err := b.encode(identity{kind: w.Kind, ref: marker + "R", uid: marker + "U", namespace: marker + "N", name: marker + "W"})
		if err != nil {
			return "", err
		}
		if tmpl, ok = cache.LoadOrStore(key, split(js)); !ok {
			cached.Add(1)
		}
	}
	js := tmpl.(template).fill(id)
	if transform.Verify() { // transform/verify.go
		direct, err := b.encode(id)
		if err == nil && direct != js {
			err = fmt.Errorf("internal error: %s: the dashboard from the cache differs from the one built for it", w.Ref())
		}
		return js, err
	}
	return js, nil
}

// sectionsKey is the cache's key for a kind and sections: every field of
// the sections (TestSectionsKeyFields keeps the list whole), strings with
// their length, so that sections that differ have keys that differ.
// direct: build the dashboard without the cache — a string holds the
// placeholder marker, raw or as the encoder writes it, or a threshold is
// no number JSON can hold (the build reports it).
func sectionsKey(kind string, sections []Section) (key string, direct bool) {
	b := make([]byte, 0, 1024)
	str := func(s string) {
		direct = direct || strings.Contains(s, marker) || strings.Contains(s, escapedMarker)
		b = append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	flag := func(f bool) {
		if f {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	str(kind)
	b = binary.AppendUvarint(b, uint64(len(sections)))
	for _, s := range sections {
		str(s.Title)
		b = binary.AppendUvarint(b, uint64(len(s.Panels)))
		for _, p := range s.Panels {
			str(p.Title)
			str(p.Description)
			str(p.Unit)
			flag(p.Stat)
			flag(p.Health)
			flag(p.Threshold != nil)
			if p.Threshold != nil {
				t := *p.Threshold
				direct = direct || math.IsNaN(t) || math.IsInf(t, 0)
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t))
			}
			b = binary.AppendUvarint(b, uint64(len(p.Queries)))
			for _, q := range p.Queries {
				str(q.Expr)
				str(q.Legend)
			}
		}
	}
	return string(b), direct
}

// template is a dashboard's JSON cut at its placeholders: text, then the
// letter of the identity field that follows it, and so on.
type template struct {
	text  []string
	slots []byte
	size  int
}

func split(js string) template {
	var t template
	for {
		i := strings.Index(js, escapedMarker)
		if i < 0 || i+len(escapedMarker) == len(js) {
			t.text = append(t.text, js)
			t.size += len(js)
			return t
		}
		t.text = append(t.text, js[:i])
		t.slots = append(t.slots, js[i+len(escapedMarker)])
		t.size += i
		js = js[i+len(escapedMarker)+1:]
	}
}

// fill is the template with the workload's identity in its slots.
func (t template) fill(id identity) string {
	field := map[byte]string{'R': jsonText(id.ref), 'U': jsonText(id.uid), 'N': jsonText(id.namespace), 'W': jsonText(id.name)}
	var out strings.Builder
	out.Grow(t.size + len(t.slots)*len(field['R']))
	for i, text := range t.text {
		out.WriteString(text)
		if i < len(t.slots) {
			out.WriteString(field[t.slots[i]])
		}
	}
	return out.String()
}

// The placeholders of a cached dashboard: marker and a letter, which the
// JSON encoder writes as escapedMarker and the letter.
const (
	marker        = "\x01"
	escapedMarker = `\u0001`
)

// cacheSize bounds the cache: a stream whose dashboards all differ (each
// workload's own ports or upstreams in its panels) builds the rest directly
// rather than keep a copy of each.
const cacheSize = 64

var (
	cache   sync.Map // kind and sections (JSON) → the dashboard with placeholders
	cached  atomic.Int64
	cacheOn = true
)

// identity is what a dashboard says about its workload.
type identity struct{ kind, ref, uid, namespace, name string }

// jsonText is s as it reads inside a JSON string the encoder wrote (no
// HTML escaping).
func jsonText(s string) string {
	if plainJSON(s) {
		return s
	}
	var out strings.Builder
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	t := strings.TrimSuffix(out.String(), "\n")
	return t[1 : len(t)-1]
}

// plainJSON: printable ASCII without a quote or a backslash, which the
// encoder writes as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// encode builds the dashboard for id and encodes it, indented.
func (b *board) encode(id identity) (string, error) {
	d, err := b.build(id)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // < and > in descriptions and regexes stay readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return "", err
	}
	return out.String(), nil
}

// UID is the dashboard's uid: stable for the workload, at most 40
// characters.
func UID(w *transform.Workload) string {
	sum := sha256.Sum256([]byte(w.Kind + "/" + w.Namespace + "/" + w.Name))
	return "sidecarize-" + hex.EncodeToString(sum[:])[:16]
}

func (b *board) build(w identity) (sdk.Dashboard, error) {
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + VarDatasource + "}")}
	d := sdk.NewDashboardBuilder("sidecarize: "+w.ref).
		Uid(w.uid).
		Description("Generated by sidecarize for "+w.ref+": what its sidecars measure.").
		Tags([]string{"sidecarize"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(sdk.DashboardCursorSyncCrosshair).
		WithVariable(sdk.NewDatasourceVariableBuilder(VarDatasource).Label("Data source").Type("prometheus")).
		WithVariable(sdk.NewQueryVariableBuilder(VarNamespace).Label("Namespace").
			Datasource(ds).
			Query(sdk.StringOrMap{String: cog.ToPtr("label_values(up, namespace)")}).
			Current(option(w.namespace)).
			Refresh(sdk.VariableRefreshOnDashboardLoad).
			Sort(sdk.VariableSortAlphabeticalAsc)).
		WithVariable(sdk.NewQueryVariableBuilder(VarWorkload).Label(w.kind).
			Description(fmt.Sprintf("%ss of the namespace, by their pods' names (%s: <name>%s)", w.kind, w.kind, PodSuffix(w.kind))).
			Datasource(ds).
			Query(sdk.StringOrMap{String: cog.ToPtr(fmt.Sprintf(`label_values(up{namespace="$%s"}, pod)`, VarNamespace))}).
			Regex("/^(.+)" + PodSuffix(w.kind) + "$/").
			Current(option(w.name)).
			Refresh(sdk.VariableRefreshOnDashboardLoad).
			Sort(sdk.VariableSortAlphabeticalAsc))
	id := uint32(0)
	for _, s := range b.sections {
		id++
		d.WithRow(sdk.NewRowBuilder(s.Title).Id(id))
		for _, p := range s.Panels {
			id++
			d.WithPanel(panel(p, id, ds))
		}
	}
	return d.Build()
}

// option is a variable's current value.
func option(v string) sdk.VariableOption {
	return sdk.VariableOption{
		Text:  sdk.StringOrArrayOfString{String: cog.ToPtr(v)},
		Value: sdk.StringOrArrayOfString{String: cog.ToPtr(v)},
	}
}

// panel builds a graph or a stat, six columns of the 24 wide.
func panel(p Panel, id uint32, ds common.DataSourceRef) cog.Builder[sdk.Panel] {
	var targets []cog.Builder[variants.Dataquery]
	for i, q := range p.Queries {
		targets = append(targets, prometheus.NewDataqueryBuilder().
			Datasource(ds).
			RefId(string(rune('A'+i))).
			Expr(q.Expr).
			LegendFormat(q.Legend))
	}
	steps := []sdk.Threshold{{Color: "green"}}
	if p.Threshold != nil {
		steps = append(steps, sdk.Threshold{Value: p.Threshold, Color: "red"})
	}
	if p.Health {
		steps = []sdk.Threshold{{Color: "red"}, {Value: cog.ToPtr(1.0), Color: "green"}}
	}
	thresholds := sdk.NewThresholdsConfigBuilder().Mode(sdk.ThresholdsModeAbsolute).Steps(steps)
	if p.Stat || p.Health {
		b := stat.NewPanelBuilder().Id(id).Title(p.Title).Description(p.Description).
			Datasource(ds).Unit(p.Unit).Targets(targets).Height(8).Span(6).
			Thresholds(thresholds).ColorMode(common.BigValueColorModeBackground)
		if p.Health {
			b.Mappings([]sdk.ValueMapping{{ValueMap: &sdk.ValueMap{Type: sdk.MappingTypeValueToText, Options: map[string]sdk.ValueMappingResult{
				"0": {Text: cog.ToPtr("down")}, "1": {Text: cog.ToPtr("up")},
			}}}})
		}
		return b
	}
	b := timeseries.NewPanelBuilder().Id(id).Title(p.Title).Description(p.Description).
		Datasource(ds).Unit(p.Unit).Targets(targets).Height(8).Span(6).Min(0).
		Thresholds(thresholds).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone))
	if p.Threshold != nil {
		b.ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))
	}
	return b
}
