package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// logsOnigmoScript matches regexes against strings with Ruby's regex engine,
// Onigmo: the engine fluent-bit bundles and compiles parser and multiline
// regexes with (ONIG_SYNTAX_RUBY). It prints, per regex and input, the
// named captures (empty and unset ones dropped, as fluent-bit's
// skip_empty_values does) or null when the regex does not match.
const logsOnigmoScript = `
require 'json'
req = JSON.parse(STDIN.read)
out = req.map do |r|
  re = Regexp.new(r['regex'])
  r['inputs'].map do |s|
    m = re.match(s)
    m && m.named_captures.reject { |_, v| v.nil? || v.empty? }
  end
end
puts JSON.generate(out)
`

type logsOnigmoReq struct {
	Regex  string   `json:"regex"`
	Inputs []string `json:"inputs"`
}

func logsOnigmo(t *testing.T, ruby string, reqs []logsOnigmoReq) [][]map[string]string {
	t.Helper()
	in, _ := json.Marshal(reqs)
	cmd := exec.Command(ruby, "-e", logsOnigmoScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ruby: %v\n%s", err, stderr.String())
	}
	var res [][]map[string]string
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ruby output: %v\n%s", err, out)
	}
	return res
}

// logsConfig runs sidecarize with logs options and returns the generated
// fluent-bit config.
func logsConfig(t *testing.T, opts map[string]any) map[string]any {
	t.Helper()
	out := logsManifest(t, opts)
	objs, err := manifest.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Kind() == "ConfigMap" {
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(manifest.Str(o, "data", "fluent-bit.yaml")), &doc); err != nil {
				t.Fatal(err)
			}
			return doc
		}
	}
	t.Fatalf("no ConfigMap in the output:\n%s", out)
	return nil
}

// logsStripSlashes is fluent-bit's reading of a "/regex/" rule (str_to_regex).
func logsStripSlashes(re string) string {
	if len(re) >= 2 && strings.HasPrefix(re, "/") && strings.HasSuffix(re, "/") {
		return re[1 : len(re)-1]
	}
	return re
}

// TestLogsRegexesInOnigmo: the regexes sidecarize writes into the
// fluent-bit config parse the sample lines to the same records in Onigmo
// (fluent-bit's engine) as in Go's RE2 (the unit tests), and the multiline
// rules — including the negative-lookahead continuation rule Go cannot
// compile — group a Java stack trace into the expected records.
func TestLogsRegexesInOnigmo(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		t.Fatalf("ruby is not installed (its regex engine is Onigmo, fluent-bit's): run scripts/deps.sh all, or apt-get install ruby")
	}
	s := logsLoadSamples(t)
	for format, cases := range s.Formats {
		t.Run(format, func(t *testing.T) {
			doc := logsConfig(t, map[string]any{"files": []string{"/logs/app.log"}, "format": format})
			p := doc["parsers"].([]any)[0].(map[string]any)
			re := p["regex"].(string)
			req := logsOnigmoReq{Regex: re}
			for _, c := range cases {
				req.Inputs = append(req.Inputs, c.Line)
			}
			req.Inputs = append(req.Inputs, `{"level":"info","msg":"a JSON line"}`)
			got := logsOnigmo(t, ruby, []logsOnigmoReq{req})[0]
			for i, c := range cases {
				if !reflect.DeepEqual(got[i], c.Want) {
					t.Errorf("Onigmo parses %s\n to %v\nwant %v", c.Line, got[i], c.Want)
				}
			}
			if got[len(cases)] != nil {
				t.Errorf("Onigmo matches a JSON line: %v", got[len(cases)])
			}
		})
	}

	t.Run("multiline", func(t *testing.T) {
		ml := s.Multiline
		doc := logsConfig(t, map[string]any{"files": []string{"/logs/app.log"}, "format": "regex", "regex": ml.Regex, "multiline": ml.Start})
		rules := doc["multiline_parsers"].([]any)[0].(map[string]any)["rules"].([]any)
		start := logsStripSlashes(rules[0].(map[string]any)["regex"].(string))
		cont := logsStripSlashes(rules[1].(map[string]any)["regex"].(string))
		format := doc["parsers"].([]any)[0].(map[string]any)["regex"].(string)
		lines := strings.Split(strings.TrimSuffix(ml.Log, "\n"), "\n")
		res := logsOnigmo(t, ruby, []logsOnigmoReq{{Regex: start, Inputs: lines}, {Regex: cont, Inputs: lines}})
		goStart := regexp.MustCompile(start)
		// fluent-bit's state machine (flb_ml_rule.c), driven by Onigmo's
		// answers: in state cont, a line the cont rule matches is appended;
		// otherwise a start line begins a new record.
		var records []string
		inCont := false
		for i, l := range lines {
			isStart, isCont := res[0][i] != nil, res[1][i] != nil
			if isStart != goStart.MatchString(l) {
				t.Errorf("start rule: Onigmo %v, Go %v on %q", isStart, !isStart, l)
			}
			if isCont == isStart {
				t.Errorf("cont rule (%s) is not the negation of the start rule on %q", cont, l)
			}
			switch {
			case inCont && isCont:
				records[len(records)-1] += "\n" + l
			case isStart:
				records, inCont = append(records, l), true
			default:
				records, inCont = append(records, l), false
			}
		}
		got := logsOnigmo(t, ruby, []logsOnigmoReq{{Regex: format, Inputs: records}})[0]
		if !reflect.DeepEqual(got, ml.Records) {
			t.Errorf("Onigmo records:\n%q\nwant\n%q", got, ml.Records)
		}
	})
}
