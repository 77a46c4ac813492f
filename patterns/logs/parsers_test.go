package logs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A Java (Logback) log with a stack trace: the multiline sample.
const (
	javaRegex = `^(?<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) +(?<level>[A-Z]+) +\[(?<thread>[^\]]+)\] (?<logger>\S+) - (?<message>[\s\S]*)$`
	javaStart = `^\d{4}-\d{2}-\d{2} `
	javaLog   = "2026-11-22 02:39:56.123 ERROR [http-nio-8080-exec-1] c.w.orders.OrderController - Order 42 failed\n" +
		"java.lang.IllegalStateException: stock is negative\n" +
		"\tat com.widgetario.orders.Stock.take(Stock.java:31)\n" +
		"\tat com.widgetario.orders.OrderController.place(OrderController.java:58)\n" +
		"Caused by: java.sql.SQLException: deadlock detected\n" +
		"\t... 2 more\n" +
		"2026-11-22 02:39:57.001 INFO  [main] c.w.orders.App - recovered\n"
)

// configFor renders the config for a format and returns it checked.
func configFor(t *testing.T, o *Options) fbDoc {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := FluentBitConfig("Deployment web", o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return checkFluentBitConfig(t, cfg)
}

// parseRegex does what fluent-bit's regex parser does with a line: the named
// groups become the record; empty values are skipped (skip_empty_values
// defaults to true). nil when the line does not match (fluent-bit then
// keeps the raw line under "log").
func parseRegex(t *testing.T, re, line string) map[string]string {
	t.Helper()
	c, err := regexp.Compile(re)
	if err != nil {
		t.Fatalf("the generated regex does not compile in Go: %v\n%s", err, re)
	}
	m := c.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	rec := map[string]string{}
	for i, name := range c.SubexpNames() {
		if name != "" && m[i] != "" {
			rec[name] = m[i]
		}
	}
	return rec
}

// samples are real log lines per format and the exact records expected
// from them (testdata/samples.json, shared with the e2e test that runs the
// same regexes through Onigmo).
type samples struct {
	Formats map[string][]struct {
		Line string            `json:"line"`
		Want map[string]string `json:"want"`
	} `json:"formats"`
	Multiline struct {
		Regex   string              `json:"regex"`
		Start   string              `json:"start"`
		Log     string              `json:"log"`
		Records []map[string]string `json:"records"`
	} `json:"multiline"`
	// Native are json and logfmt lines (records of any JSON type).
	Native map[string][]struct {
		Line string         `json:"line"`
		Want map[string]any `json:"want"`
	} `json:"native"`
	// Unparsed are lines no format reads: kept whole under "log".
	Unparsed []string `json:"unparsed"`
}

func loadSamples(t *testing.T) samples {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "samples.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s samples
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFormatRegexes(t *testing.T) {
	cases := loadSamples(t).Formats
	for _, format := range []string{"nginx", "apache", "clf", "syslog"} {
		t.Run(format, func(t *testing.T) {
			o := Default()
			o.Files, o.Format = []string{"/logs/app.log"}, format
			doc := configFor(t, o)
			p := doc.Parsers[0]
			if p["format"] != "regex" {
				t.Fatalf("parser format %v", p["format"])
			}
			re := p["regex"].(string)
			if re != FormatRegex(format, "") {
				t.Fatalf("the config's regex is not the pattern's:\n%s\n%s", re, FormatRegex(format, ""))
			}
			if len(cases[format]) < 2 {
				t.Fatalf("want real sample lines for %s", format)
			}
			for _, s := range cases[format] {
				got := parseRegex(t, re, s.Line)
				if d := cmp.Diff(s.Want, got); d != "" {
					t.Errorf("%s\n(-want +got):\n%s", s.Line, d)
				}
			}
			// A line of another format does not match (it is kept raw).
			if got := parseRegex(t, re, `{"level":"info"}`); got != nil {
				t.Errorf("a JSON line matches: %v", got)
			}
		})
	}
}

// logfmt and json have no regex: fluent-bit decodes them natively. The test
// decodes the same sample lines with the rules of fluent-bit's decoders
// (flb_parser_logfmt.c: key=value pairs, values optionally double-quoted
// with \" escapes; flb_parser_json.c: one JSON object) to pin the records
// the adapter writes.
func TestNativeFormats(t *testing.T) {
	o := Default()
	o.Files, o.Format = []string{"/logs/app.log"}, "logfmt"
	if p := configFor(t, o).Parsers[0]; p["format"] != "logfmt" || p["regex"] != nil {
		t.Fatalf("logfmt parser: %v", p)
	}
	for line, want := range map[string]map[string]string{
		`time=2026-11-22T02:39:56Z level=info msg="order placed" order_id=1234 duration=35ms`: {
			"time": "2026-11-22T02:39:56Z", "level": "info", "msg": "order placed", "order_id": "1234", "duration": "35ms"},
		`level=error msg="payment failed: card \"4242\" declined" err="stripe: 402" retry=false`: {
			"level": "error", "msg": `payment failed: card "4242" declined`, "err": "stripe: 402", "retry": "false"},
	} {
		if d := cmp.Diff(want, logfmt(line)); d != "" {
			t.Errorf("%s (-want +got):\n%s", line, d)
		}
	}

	o.Format = "json"
	if p := configFor(t, o).Parsers[0]; p["format"] != "json" || p["regex"] != nil {
		t.Fatalf("json parser: %v", p)
	}
	// Serilog's compact JSON, as seed 2's widgetario/web writes it.
	line := `{"@t":"2026-11-22T02:39:56.1234567Z","@mt":"Fetched {Count} products","Count":12,"SourceContext":"Widgetario.Web.ProductsController"}`
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"@t": "2026-11-22T02:39:56.1234567Z", "@mt": "Fetched {Count} products", "Count": 12.0, "SourceContext": "Widgetario.Web.ProductsController"}
	if d := cmp.Diff(want, rec); d != "" {
		t.Error(d)
	}
}

func logfmt(line string) map[string]string {
	rec := map[string]string{}
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		k := i
		for i < len(line) && line[i] != '=' && line[i] != ' ' {
			i++
		}
		key := line[k:i]
		if i >= len(line) || line[i] != '=' {
			continue
		}
		i++
		var val strings.Builder
		if i < len(line) && line[i] == '"' {
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				val.WriteByte(line[i])
			}
			i++
		} else {
			for ; i < len(line) && line[i] != ' '; i++ {
				val.WriteByte(line[i])
			}
		}
		rec[key] = val.String()
	}
	return rec
}

// groupMultiline is fluent-bit's multiline regex state machine
// (src/multiline/flb_ml_rule.c) for the two generated rules: in state cont a
// line matching the cont rule is appended with "\n"; otherwise a line
// matching start_state flushes the record and starts a new one; a line
// matching neither is emitted on its own. The cont rule is the negative
// lookahead ContinuationRegex, modelled here as "does not match start".
func groupMultiline(start *regexp.Regexp, text string) []string {
	var out []string
	var cur []string
	inCont := false
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		isStart := start.MatchString(line)
		switch {
		case inCont && !isStart:
			cur = append(cur, line)
		case isStart:
			flush()
			cur, inCont = []string{line}, true
		default:
			flush()
			out = append(out, line)
		}
	}
	flush()
	return out
}

func TestMultilineJavaStackTrace(t *testing.T) {
	o := Default()
	o.Files, o.Format, o.Regex, o.Multiline = []string{"/logs/app.log"}, "regex", javaRegex, javaStart
	doc := configFor(t, o)
	ml := doc.MultilineParsers[0]
	rules := ml["rules"].([]any)
	startRule := rules[0].(map[string]any)["regex"].(string)
	contRule := rules[1].(map[string]any)["regex"].(string)
	start := strings.TrimSuffix(strings.TrimPrefix(startRule, "/"), "/")
	if start != javaStart || contRule != ContinuationRegex(javaStart) || contRule != "/^(?!"+javaStart+")/" {
		t.Fatalf("rules: start %q cont %q", startRule, contRule)
	}
	if doc.Pipeline.Inputs[0]["multiline.parser"] != ml["name"] {
		t.Fatalf("the input does not use the multiline parser")
	}
	filter := doc.Pipeline.Filters[0]
	if filter["name"] != "parser" || filter["key_name"] != "log" {
		t.Fatalf("no parser filter on the joined record: %v", filter)
	}
	re := doc.Parsers[0]["regex"].(string)
	if re != javaRegex {
		t.Fatalf("regex %q", re)
	}
	sm := loadSamples(t).Multiline
	if sm.Regex != javaRegex || sm.Start != javaStart || sm.Log != javaLog {
		t.Fatalf("testdata/samples.json's multiline sample is not this test's")
	}
	records := groupMultiline(regexp.MustCompile(start), javaLog)
	if len(records) != len(sm.Records) {
		t.Fatalf("%d records: %q", len(records), records)
	}
	for i, r := range records {
		if d := cmp.Diff(sm.Records[i], parseRegex(t, re, r)); d != "" {
			t.Errorf("record %d (-want +got):\n%s", i, d)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := func(o *Options) *Options { return o }
	base := func(mod func(o *Options)) *Options {
		o := Default()
		o.Files = []string{"/logs/app.log"}
		mod(o)
		return o
	}
	uid0 := int64(0)
	for _, c := range []struct {
		o    *Options
		want string
	}{
		{ok(Default()), "files: name at least one log file"},
		{base(func(o *Options) { o.Files = []string{"logs/app.log"} }), "must be an absolute, clean file path"},
		{base(func(o *Options) { o.Files = []string{"/app.log"} }), "other than /"},
		{base(func(o *Options) { o.Files = []string{"/logs/*/app.log"} }), "globs are allowed in the file name only"},
		{base(func(o *Options) { o.Files = []string{"/logs/*.log"}; o.Engine = EngineTail }), "the tail engine follows named files"},
		{base(func(o *Options) { o.Engine = "vector" }), `engine: "vector"`},
		{base(func(o *Options) { o.Format = "xml" }), `format: "xml"`},
		{base(func(o *Options) { o.Format = "regex" }), "regex: format regex needs a pattern"},
		{base(func(o *Options) { o.Format, o.Regex = "regex", `^(?P<level>\w+)` }), "write named groups as (?<name>...)"},
		{base(func(o *Options) { o.Format, o.Regex = "regex", `^(?<level>\w+)(?=:)` }), "look-around"},
		{base(func(o *Options) { o.Format, o.Regex = "regex", `^(\w+) (.*)$` }), "needs at least one named group"},
		{base(func(o *Options) { o.Format, o.Regex = "regex", `^(?<level>[A-Z+` }), "missing closing ]"},
		{base(func(o *Options) { o.Regex = `^(?<a>.*)$` }), "regex: only used with format regex"},
		{base(func(o *Options) { o.Multiline = `^\d` }), "multiline: a JSON record is one line"},
		{base(func(o *Options) { o.Format, o.Multiline = "logfmt", `^(?!\s)` }), "look-around"},
		{base(func(o *Options) { o.Fields = map[string]string{"my app": "x"} }), "fields: \"my app\""},
		{base(func(o *Options) { o.Fields = map[string]string{"pod": "fieldRef:metadata.generateName"} }), "fields.pod"},
		{base(func(o *Options) { o.Fields = map[string]string{"home": "${HOME}"} }), "without ${"},
		{base(func(o *Options) { o.Engine, o.Format = EngineTail, "logfmt" }), "format: logfmt needs engine fluent-bit"},
		{base(func(o *Options) { o.Engine, o.Fields = EngineTail, map[string]string{"app": "web"} }), "fields: need engine fluent-bit"},
		{base(func(o *Options) { o.SizeLimit = "lots" }), "sizeLimit"},
		{base(func(o *Options) { o.RunAsUser = &uid0 }), "runAsUser: 0"},
		{base(func(o *Options) { o.Files = []string{"/fluent-bit/db/x.log"} }), "/fluent-bit"},
	} {
		err := c.o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.o, err, c.want)
		}
	}
	good := base(func(o *Options) {
		o.Files = []string{"/logs/app.log", "/var/log/app/*.log"}
		o.Format, o.Regex, o.Multiline = "regex", javaRegex, javaStart
		o.Fields = map[string]string{"app": "orders", "pod": "fieldRef:metadata.name", "team": "fieldRef:metadata.labels['team']"}
	})
	if err := good.Validate(); err != nil {
		t.Error(err)
	}
}

func TestShippedDir(t *testing.T) {
	for d, warn := range map[string]bool{
		"/var/log": true, "/var/log/nginx": true, "/app/logs": true, "/opt/orders/logs": true, "/tmp": true,
		"/logs": false, "/data/logs": false, "/srv2": false,
	} {
		if got := shippedDir(d) != ""; got != warn {
			t.Errorf("%s: warn = %v, want %v", d, got, warn)
		}
	}
}

func ExampleTailCommand() {
	fmt.Println(strings.Join(TailCommand([]string{"/logs/app.log"}), " "))
	// Output: tail -n +1 -q -F /logs/app.log
}
