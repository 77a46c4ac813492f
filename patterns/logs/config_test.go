package logs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// fluent-bit 5.1 documented keys, section by section. Sources: the YAML
// "service" section page (administration/configuring-fluent-bit/yaml/
// service-section.md), "Configuring custom parsers" (pipeline/parsers/
// configuring-parser.md), the multiline parsing page (its YAML
// multiline_parsers section), the tail input page together with the
// plugin's config_map in plugins/in_tail/tail.c, the parser and
// record_modifier filter pages and the standard output page. A key that is
// not listed here (a typo such as "read_from_heads") fails the test.
var (
	serviceKeys = keys("coro_stack_size daemon dns.mode dns.prefer_ipv4 dns.prefer_ipv6 dns.resolver enable_chunk_trace flush grace hc_errors_count hc_period hc_retry_failure_count health_check hot_reload hot_reload.ensure_thread_safety hot_reload.timeout http_listen http_port http_server json.convert_nan_to_null json.escape_unicode log_file log_level multiline_buffer_limit parsers_file plugins_file scheduler.base scheduler.cap sp.convert_from_str_to_num streams_file windows.maxstdio storage")
	parserKeys  = keys("name format regex time_key time_format time_offset time_keep time_system_timezone time_strict types decode_field decode_field_as skip_empty_values logfmt_no_bare_keys")
	mlKeys      = keys("name type parser key_content key_pattern key_group flush_timeout rules")
	mlRuleKeys  = keys("state regex next_state")
	// Properties every input, filter and output takes.
	inputCommon  = keys("name tag alias log_level log_suppress_interval mem_buf_limit routable storage.type storage.pause_on_chunks_overlimit threaded processors")
	filterCommon = keys("name match match_regex alias log_level")
	outputCommon = keys("name match match_regex alias log_level retry_limit workers storage.total_limit_size")
	pluginKeys   = map[string]map[string]bool{
		"input:tail":             keys("path exclude_path key read_from_head read_newly_discovered_files_from_head refresh_interval watcher_interval progress_check_interval progress_check_interval_nsec rotate_wait docker_mode docker_mode_flush docker_mode_parser path_key offset_key ignore_older ignore_active_older_files buffer_chunk_size buffer_max_size static_batch_size event_batch_size skip_long_lines exit_on_eof skip_empty_lines truncate_long_lines file_cache_advise inotify_watcher parser tag_regex db db.sync db.locking db.journal_mode db.compare_filename multiline multiline_flush parser_firstline multiline.parser unicode.encoding generic.encoding"),
		"filter:parser":          keys("key_name parser preserve_key reserve_data unescape_key"),
		"filter:record_modifier": keys("record remove_key allowlist_key whitelist_key uuid_key"),
		"filter:modify":          keys("set add remove remove_wildcard remove_regex rename hard_rename copy hard_copy move_to_start move_to_end condition"),
		"output:stdout":          keys("format json_date_key json_date_format"),
	}
	// Documented values of enumerated keys.
	enumValues = map[string]map[string]bool{
		"log_level":        keys("off error warn info debug trace"),
		"parser.format":    keys("json regex ltsv logfmt"),
		"stdout.format":    keys("msgpack json json_lines json_stream"),
		"json_date_format": keys("double epoch epoch_ms iso8601 java_sql_timestamp"),
		"ml.type":          keys("regex endswith equal"),
		"bool":             keys("on off true false yes no"),
	}
)

func keys(s string) map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(s) {
		m[k] = true
	}
	return m
}

type fbDoc struct {
	Service          map[string]any   `yaml:"service"`
	Parsers          []map[string]any `yaml:"parsers"`
	MultilineParsers []map[string]any `yaml:"multiline_parsers"`
	Pipeline         struct {
		Inputs  []map[string]any `yaml:"inputs"`
		Filters []map[string]any `yaml:"filters"`
		Outputs []map[string]any `yaml:"outputs"`
	} `yaml:"pipeline"`
}

// checkFluentBitConfig validates a generated config against the documented
// keys and values, section by section, and the references between them.
func checkFluentBitConfig(t reporter, cfg string) fbDoc {
	t.Helper()
	var top map[string]any
	if err := yaml.Unmarshal([]byte(cfg), &top); err != nil {
		t.Fatalf("config is not YAML: %v\n%s", err, cfg)
	}
	for k := range top {
		if !keys("env includes service pipeline parsers multiline_parsers plugins upstream_servers customs")[k] {
			t.Errorf("top-level section %q is not a documented section", k)
		}
	}
	var doc fbDoc
	if err := yaml.Unmarshal([]byte(cfg), &doc); err != nil {
		t.Fatal(err)
	}
	errs := func(where string, m map[string]any, allowed ...map[string]bool) {
		for k := range m {
			ok := false
			for _, a := range allowed {
				ok = ok || a[k]
			}
			if !ok {
				t.Errorf("%s: key %q is not documented for fluent-bit %s", where, k, FluentBitVersion)
			}
		}
	}
	enum := func(where, kind string, v any) {
		s := fmt.Sprint(v)
		if !enumValues[kind][s] {
			t.Errorf("%s: value %q is not one of the documented values", where, s)
		}
	}
	errs("service", doc.Service, serviceKeys)
	if v, ok := doc.Service["log_level"]; ok {
		enum("service.log_level", "log_level", v)
	}
	for _, k := range []string{"daemon", "http_server", "hot_reload"} {
		if v, ok := doc.Service[k]; ok {
			enum("service."+k, "bool", v)
		}
	}
	parsers := map[string]bool{}
	for i, p := range doc.Parsers {
		where := fmt.Sprintf("parsers[%d]", i)
		errs(where, p, parserKeys)
		parsers[fmt.Sprint(p["name"])] = true
		enum(where+".format", "parser.format", p["format"])
		if p["format"] == "regex" {
			re, _ := p["regex"].(string)
			if _, err := regexp.Compile(re); err != nil {
				t.Errorf("%s.regex does not compile in Go: %v", where, err)
			}
		} else if _, ok := p["regex"]; ok {
			t.Errorf("%s: regex without format regex", where)
		}
		if _, ok := p["time_key"]; ok && p["time_format"] == nil {
			t.Errorf("%s: time_key without time_format", where)
		}
	}
	mls := map[string]bool{}
	for i, m := range doc.MultilineParsers {
		where := fmt.Sprintf("multiline_parsers[%d]", i)
		errs(where, m, mlKeys)
		mls[fmt.Sprint(m["name"])] = true
		enum(where+".type", "ml.type", m["type"])
		rules, _ := m["rules"].([]any)
		states := map[string]bool{}
		for _, r := range rules {
			states[fmt.Sprint(r.(map[string]any)["state"])] = true
		}
		if !states["start_state"] {
			t.Errorf("%s: no start_state rule", where)
		}
		for j, r := range rules {
			rm := r.(map[string]any)
			errs(fmt.Sprintf("%s.rules[%d]", where, j), rm, mlRuleKeys)
			if !states[fmt.Sprint(rm["next_state"])] {
				t.Errorf("%s.rules[%d]: next_state %v has no rule", where, j, rm["next_state"])
			}
			re := fmt.Sprint(rm["regex"])
			if !strings.HasPrefix(re, "/") || !strings.HasSuffix(re, "/") {
				t.Errorf("%s.rules[%d]: regex %q is not written /.../", where, j, re)
			}
		}
	}
	section := func(kind string, list []map[string]any, common map[string]bool) {
		for i, p := range list {
			where := fmt.Sprintf("pipeline.%ss[%d]", kind, i)
			name := fmt.Sprint(p["name"])
			plugin, ok := pluginKeys[kind+":"+name]
			if !ok {
				t.Errorf("%s: plugin %q has no documented keys in this test", where, name)
				continue
			}
			errs(where+" ("+name+")", p, common, plugin)
		}
	}
	section("input", doc.Pipeline.Inputs, inputCommon)
	section("filter", doc.Pipeline.Filters, filterCommon)
	section("output", doc.Pipeline.Outputs, outputCommon)
	for _, in := range doc.Pipeline.Inputs {
		if p, ok := in["parser"]; ok && !parsers[fmt.Sprint(p)] {
			t.Errorf("input parser %v is not defined", p)
		}
		if p, ok := in["multiline.parser"]; ok {
			if !mls[fmt.Sprint(p)] {
				t.Errorf("input multiline.parser %v is not defined", p)
			}
			if _, both := in["parser"]; both {
				t.Errorf("input sets both parser and multiline.parser (the tail docs: disable parser with multiline.parser)")
			}
		}
		for _, k := range []string{"read_from_head", "db.locking", "skip_long_lines", "skip_empty_lines"} {
			if v, ok := in[k]; ok {
				enum("input."+k, "bool", v)
			}
		}
	}
	for _, f := range doc.Pipeline.Filters {
		if f["name"] == "parser" && !parsers[fmt.Sprint(f["parser"])] {
			t.Errorf("filter parser %v is not defined", f["parser"])
		}
		if f["name"] == "modify" {
			for k, v := range f {
				if filterCommon[k] {
					continue
				}
				// A rule's arguments: fluent-bit drops a rule with the
				// wrong number of words silently.
				rules, ok := v.([]any)
				if !ok {
					rules = []any{v}
				}
				want := 2
				if k == "remove" || k == "remove_wildcard" || k == "remove_regex" || k == "move_to_start" || k == "move_to_end" {
					want = 1
				}
				for _, r := range rules {
					if n := len(modifyWords(fmt.Sprint(r))); n != want {
						t.Errorf("filter modify: %s %q has %d words, want %d", k, r, n, want)
					}
				}
			}
		}
	}
	for _, o := range doc.Pipeline.Outputs {
		if o["name"] == "stdout" {
			enum("stdout.format", "stdout.format", o["format"])
			enum("stdout.json_date_format", "json_date_format", o["json_date_format"])
		}
	}
	return doc
}

// The generated config for every format and option combination uses
// documented keys only.
func TestFluentBitConfigKeys(t *testing.T) {
	cases := map[string]*Options{}
	for _, f := range []string{"json", "logfmt", "nginx", "apache", "clf", "syslog"} {
		o := Default()
		o.Files, o.Format = []string{"/logs/app.log"}, f
		cases[f] = o
	}
	ml := Default()
	ml.Files = []string{"/logs/app.log", "/var/log/app/*.log"}
	ml.Format, ml.Regex, ml.Multiline = "regex", javaRegex, javaStart
	ml.Fields = map[string]string{"app": "orders", "pod": "fieldRef:metadata.name"}
	cases["multiline+fields"] = ml
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			o := cases[n]
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			cfg, err := FluentBitConfig("Deployment web", o, map[string]string{"pod": "SIDECARIZE_FIELD_1"})
			if err != nil {
				t.Fatal(err)
			}
			doc := checkFluentBitConfig(t, cfg)
			in := doc.Pipeline.Inputs[0]
			if in["path"] != strings.Join(o.Files, ",") {
				t.Errorf("path = %v", in["path"])
			}
			if in["db"] != DBDir+"/tail.db" || fmt.Sprint(in["read_from_head"]) != "true" {
				t.Errorf("tail input without its DB or read_from_head: %v", in)
			}
		})
	}
}

// The checker itself catches a misspelt key, in any section.
func TestFluentBitConfigKeysCatchTypos(t *testing.T) {
	o := Default()
	o.Files, o.Format, o.Multiline = []string{"/logs/app.log"}, "syslog", `^<`
	o.Fields = map[string]string{"app": "web"}
	cfg, err := FluentBitConfig("Deployment web", o, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, typo := range []struct{ from, to string }{
		{"read_from_head:", "read_from_heads:"},
		{"log_level: warn", "loglevel: warn"},
		{"time_keep:", "time_kept:"},
		{"next_state:", "nextstate:"},
		{"json_date_format:", "json_date_fmt:"},
		{"reserve_data:", "reserved_data:"},
		{"flush_timeout:", "flush_timeout_ms:"},
		{"format: json_lines", "format: jsonlines"},
	} {
		bad := strings.Replace(cfg, typo.from, typo.to, 1)
		if bad == cfg {
			t.Fatalf("%q not in the config", typo.from)
		}
		ft := &fakeT{}
		func() {
			defer func() { _ = recover() }()
			checkFluentBitConfig(ft, bad)
		}()
		if !ft.failed {
			t.Errorf("a config with %q is accepted", typo.to)
		}
	}
}

// reporter is the part of testing.TB the checker uses, so a test can run it
// on a broken config and see it fail.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type fakeT struct{ failed bool }

func (f *fakeT) Helper()               { _ = f }
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatal(...any)          { f.failed = true; panic(f) }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true; panic(f) }

// Every fluent-bit config in the golden outputs passes the key check too.
func TestGoldenConfigsKeys(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "expected.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(b), OmitReaderAnnotations: true}).Read()
		if err != nil {
			t.Fatal(err)
		}
		for _, node := range nodes {
			if cfg, ok := node.GetDataMap()[ConfigFile]; ok && node.GetKind() == "ConfigMap" {
				n++
				t.Run(f, func(t *testing.T) { checkFluentBitConfig(t, cfg) })
			}
		}
	}
	if n == 0 {
		t.Fatal("no fluent-bit config in the goldens")
	}
}

// modifyWords splits a modify filter rule the way fluent-bit does
// (flb_slist_split_tokens): at spaces, a double-quoted word taken whole with
// \" and \\ read as " and \.
func modifyWords(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		var w strings.Builder
		if s[i] == '"' {
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				w.WriteByte(s[i])
			}
			i++
		} else {
			for ; i < len(s) && s[i] != ' '; i++ {
				w.WriteByte(s[i])
			}
		}
		out = append(out, w.String())
	}
	return out
}
