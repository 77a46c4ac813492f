package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/logsim"
)

// TestLogsFluentBit runs every fluent-bit config the checkout generates (the
// goldens, the demo, the suite's samples) and one per format the goldens do
// not cover, under a real Fluent Bit, the way the adapter container runs it:
//
//   - its mounts at their paths: the app's log directory (the same host
//     directory the app container writes, subPath included) read-only, the
//     ConfigMap's files, the offset database's emptyDir, the binary at the
//     image's /fluent-bit/bin/fluent-bit; its own command and args verbatim;
//   - a private mount namespace whose root is read-only: only the mounts not
//     marked readOnly are writable (checked by a probe first);
//   - as the container's runAsUser/runAsGroup, with no supplementary groups;
//   - its env, downward-API values filled in.
//
// The "app" writes sample lines of the config's format (plus lines no
// format reads, and empty lines) to every file the config follows; the
// adapter starts, more lines come, the file is rotated (renamed, late lines
// to the renamed file, a new file), the adapter is stopped (SIGTERM, as the
// kubelet does), lines are written while it is down, and it starts again on
// the same database. Every record must come out exactly once, as expected:
// parsed, unparsed lines kept under "log", empty lines dropped, multi-line
// records joined and trimmed, the file name and fields added only where the
// app's record has no such key. (Records are compared per file as
// multisets: a renamed file's last lines and the new file's first are read
// concurrently.)
func TestLogsFluentBit(t *testing.T) {
	bin, err := logsim.FluentBit()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root (a mount namespace per adapter, and its user)")
	}
	samples := logsLoadSamples(t)
	regexFormats := logsRegexFormats(t)

	type source struct {
		names []string
		pod   *logsim.Pod
	}
	var sources []*source
	byConfig := map[string]*source{}
	add := func(name string, p *logsim.Pod) {
		key := p.Config
		if s, ok := byConfig[key]; ok {
			s.names = append(s.names, name)
			return
		}
		s := &source{names: []string{name}, pod: p}
		byConfig[key] = s
		sources = append(sources, s)
	}
	golden := 0
	for _, f := range outputsAndSamples(t) {
		data, err := os.ReadFile(filepath.Join(env.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		pods, err := logsim.Find(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range pods {
			golden++
			add(f+"/"+p.Workload, p)
		}
	}
	if golden == 0 {
		t.Fatal("no fluent-bit adapter in the generated outputs")
	}
	// The formats no golden uses, generated here (clf is apache's config).
	covered := map[string]bool{}
	for _, s := range sources {
		covered[logsFormatOf(s.pod.Doc, regexFormats)] = true
	}
	for _, f := range []string{"json", "logfmt", "nginx", "apache", "clf", "syslog", "regex", "regex+multiline"} {
		if covered[f] || (f == "clf" && covered["apache"]) {
			continue
		}
		opts := map[string]any{"files": []string{"/logs/app.log"}, "format": f}
		switch f {
		case "regex":
			opts["regex"] = samples.Multiline.Regex
		case "regex+multiline":
			opts["format"], opts["regex"], opts["multiline"] = "regex", samples.Multiline.Regex, samples.Multiline.Start
		}
		pods, err := logsim.Find(logsManifest(t, opts))
		if err != nil || len(pods) != 1 {
			t.Fatalf("format %s: %d adapters, %v", f, len(pods), err)
		}
		add("format "+f, pods[0])
	}

	// Sabotage: each rule the configs rely on, broken on purpose, must make
	// the same scenario fail.
	// withRule is a config of the format that has the rule to break.
	withRule := func(format, rule string) *logsim.Pod {
		for _, s := range sources {
			if logsFormatOf(s.pod.Doc, regexFormats) == format && strings.Contains(s.pod.Config, rule) {
				return s.pod
			}
		}
		return nil
	}
	sabotages := []struct {
		name, format, old, new string
	}{
		{"no offset database: the restart reads again", "json", "      db: /fluent-bit/db/tail.db\n", ""},
		{"empty lines kept", "json", "      skip_empty_lines: on\n", ""},
		{"fields overwrite the app's keys", "json", "      add:\n", "      set:\n"},
		{"multi-line records not trimmed", "regex+multiline", "parser: sidecarize-trim", "parser: sidecarize-format"},
		{"logfmt splits a line that is not logfmt", "logfmt", "    logfmt_no_bare_keys: true\n", ""},
	}
	type run struct {
		name     string
		pod      *logsim.Pod
		sabotage bool
	}
	var runs []run
	for _, s := range sources {
		runs = append(runs, run{name: strings.Join(s.names, "+"), pod: s.pod})
	}
	for _, sb := range sabotages {
		p := withRule(sb.format, sb.old)
		if p == nil {
			t.Fatalf("sabotage %q: no %s config with %q", sb.name, sb.format, sb.old)
		}
		bad, err := p.WithConfig(strings.Replace(p.Config, sb.old, sb.new, 1))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{name: "sabotage/" + sb.name, pod: bad, sabotage: true})
	}

	// The runs mostly wait (flush intervals, the tail input's 5s scan for
	// new files): all at once, each reporting into its own subtest.
	reports := make([]*logsReport, len(runs))
	var wg sync.WaitGroup
	for i, rn := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i] = logsRunAdapter(bin, rn.pod, samples, regexFormats)
		}()
	}
	wg.Wait()
	for i, rn := range runs {
		t.Run(rn.name, func(t *testing.T) {
			r := reports[i]
			if rn.sabotage {
				if len(r.errs) == 0 {
					t.Errorf("the broken config passes the scenario")
				}
				for _, e := range r.errs {
					t.Logf("caught: %.300s", e)
				}
				return
			}
			for _, l := range r.logs {
				t.Log(l)
			}
			for _, e := range r.errs {
				t.Error(e)
			}
		})
	}
}

// logsSamples is patterns/logs/testdata/samples.json.
type logsSamples struct {
	Formats map[string][]struct {
		Line string            `json:"line"`
		Want map[string]string `json:"want"`
	} `json:"formats"`
	Multiline struct {
		Regex, Start, Log string
		Records           []map[string]string
	} `json:"multiline"`
	Native map[string][]struct {
		Line string         `json:"line"`
		Want map[string]any `json:"want"`
	} `json:"native"`
	Unparsed []string `json:"unparsed"`
}

func logsLoadSamples(t *testing.T) logsSamples {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(env.RepoRoot(), "patterns", "logs", "testdata", "samples.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s logsSamples
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// logsRegexFormats maps the regex sidecarize writes for each regex format
// to the format's name.
func logsRegexFormats(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range []string{"nginx", "apache", "syslog"} {
		doc := logsConfig(t, map[string]any{"files": []string{"/logs/app.log"}, "format": f})
		m[doc["parsers"].([]any)[0].(map[string]any)["regex"].(string)] = f
	}
	return m
}

// logsManifest is sidecarize's output for a web Deployment with logs opts.
func logsManifest(t *testing.T, opts map[string]any) []byte {
	t.Helper()
	rule, _ := json.Marshal(opts)
	cfg := `{"apiVersion":"sidecarize.dev/v1alpha1","kind":"Sidecarize","metadata":{"name":"t"},"spec":{"rules":[{"select":{"names":["web"]},"logs":` + string(rule) + `}]}}`
	f := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	in := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: example/web:1.0.0}]\n")
	out, err := runSidecarize(t, in, "--config", f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logsFormatOf names a config's format: json, logfmt, nginx, apache,
// syslog, regex (another regex) or regex+multiline.
func logsFormatOf(doc map[string]any, regexFormats map[string]string) string {
	if len(manifest.Slice(doc, "multiline_parsers")) > 0 {
		return "regex+multiline"
	}
	p, _ := manifest.Slice(doc, "parsers")[0].(map[string]any)
	switch f := manifest.Str(p, "format"); f {
	case "regex":
		if name, ok := regexFormats[manifest.Str(p, "regex")]; ok {
			return name
		}
		return "regex"
	default:
		return f
	}
}

// logsReport is one adapter run's findings.
type logsReport struct {
	errs, logs []string
}

func (r *logsReport) errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *logsReport) logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// logsScenario is one adapter's run in TestLogsFluentBit.
type logsScenario struct {
	*logsReport
	p       *logsim.Pod
	sb      *logsim.Sandbox
	format  string
	lines   []string         // one batch the app writes to each file
	wants   []map[string]any // its records, before the adapter's keys
	ours    map[string]any   // the fields the adapter adds
	pathKey bool             // records name their file
	files   []logsFile
	wantAll []map[string]any // the records expected, in the order written
	began   time.Time

	mu    sync.Mutex
	got   []string // stdout lines, all runs
	procs []*logsAdapterProc
}

// logsFile is a log file as the containers see it and on the host.
type logsFile struct{ at, host string }

// logsAdapterProc is one run of the adapter.
type logsAdapterProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
}

// logsRunAdapter runs the scenario of TestLogsFluentBit for one adapter.
func logsRunAdapter(bin string, p *logsim.Pod, samples logsSamples, regexFormats map[string]string) *logsReport {
	s := &logsScenario{logsReport: &logsReport{}, p: p}
	root, err := os.MkdirTemp("", "logs-fluentbit-")
	if err != nil {
		s.errorf("%v", err)
		return s.logsReport
	}
	defer os.RemoveAll(root)
	defer s.kill()
	for _, step := range []func() error{
		func() (err error) { s.sb, err = logsim.NewSandbox(root, bin, p); return err },
		func() error { return s.sb.Probe() },
		func() error { return s.prepare(samples, regexFormats) },
		s.run,
	} {
		if err := step(); err != nil {
			s.errorf("%v", err)
			for i, a := range s.procs {
				a.cmd.Process.Kill()
				<-a.done
				s.logf("fluent-bit run %d stderr:\n%s", i+1, a.stderr.String())
			}
			return s.logsReport
		}
	}
	s.compare()
	return s.logsReport
}

// prepare picks the sample lines for the config's format, the records
// expected from them and the files the config follows (a glob gets a name
// it matches), where the app container writes them.
func (s *logsScenario) prepare(samples logsSamples, regexFormats map[string]string) error {
	s.format = logsFormatOf(s.p.Doc, regexFormats)
	var err error
	if s.lines, s.wants, err = logsBatch(s.format, s.p.Doc, samples); err != nil {
		return err
	}
	s.ours = logsFields(s.p.Doc, s.sb.Env)
	in := s.p.Input()
	s.pathKey = manifest.Str(in, "path_key") != ""
	for _, pat := range strings.Split(manifest.Str(in, "path"), ",") {
		at := pat
		if strings.ContainsAny(path.Base(pat), "*?[") {
			at = ""
			for _, name := range []string{"app.log", "audit-app.log", "app", "x.log"} {
				if ok, _ := path.Match(path.Base(pat), name); ok {
					at = path.Join(path.Dir(pat), name)
					break
				}
			}
			if at == "" {
				return fmt.Errorf("no file name for the glob %s", pat)
			}
		}
		host, err := s.sb.AppFile(at)
		if err != nil {
			return err
		}
		s.files = append(s.files, logsFile{at, host})
	}
	s.logf("format %s, %d files, as %d:%d, %d lines per batch", s.format, len(s.files), s.sb.UID, s.sb.GID, len(s.lines))
	return nil
}

// write appends a batch to a file (host path) and records what the
// adapter must make of it: the app's keys win over the file name and the
// fields.
func (s *logsScenario) write(host, at string) error {
	f, err := os.OpenFile(host, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(s.lines, "\n") + "\n"); err != nil {
		return err
	}
	for _, w := range s.wants {
		rec := map[string]any{}
		for k, v := range s.ours {
			rec[k] = v
		}
		if s.pathKey {
			rec["file"] = at
		}
		for k, v := range w {
			rec[k] = v
		}
		s.wantAll = append(s.wantAll, rec)
	}
	return nil
}

// writeAll writes a batch to every file, or to its renamed self (suffix).
func (s *logsScenario) writeAll(suffix string) error {
	for _, f := range s.files {
		if err := s.write(f.host+suffix, f.at); err != nil {
			return err
		}
	}
	return nil
}

// start runs the adapter's command and args, verbatim, in its sandbox.
func (s *logsScenario) start() (*logsAdapterProc, error) {
	a := &logsAdapterProc{cmd: s.sb.Command(s.p.Argv()...), done: make(chan struct{})}
	a.cmd.Stderr = &a.stderr
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	s.procs = append(s.procs, a)
	go func() {
		defer close(a.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.got = append(s.got, sc.Text())
			s.mu.Unlock()
		}
		a.cmd.Wait()
	}()
	return a, nil
}

// stop sends SIGTERM, as the kubelet does, and waits for the exit.
func (s *logsScenario) stop(a *logsAdapterProc) error {
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("fluent-bit did not stop within 15s of SIGTERM")
	}
}

func (s *logsScenario) kill() {
	for _, a := range s.procs {
		a.cmd.Process.Kill()
		<-a.done
	}
	s.procs = nil
}

// until waits for every record written so far to be on stdout.
func (s *logsScenario) until(what string) error {
	n := len(s.wantAll)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		k := len(s.got)
		s.mu.Unlock()
		if k >= n {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Errorf("%s: %d records on stdout after 30s, want %d", what, len(s.got), n)
}

// run is the app's and the kubelet's part: lines before the start,
// appended, around a rotation (renamed, late lines to the renamed file, a
// new file), and while the adapter is down before a restart on the same
// database.
func (s *logsScenario) run() error {
	s.began = time.Now().UTC().Truncate(time.Second)
	if err := s.writeAll(""); err != nil {
		return err
	}
	a, err := s.start()
	if err != nil {
		return err
	}
	if err := s.until("lines written before the start"); err != nil {
		return err
	}
	if err := s.writeAll(""); err != nil {
		return err
	}
	if err := s.until("lines appended"); err != nil {
		return err
	}
	for _, f := range s.files {
		if err := os.Rename(f.host, f.host+".1"); err != nil {
			return err
		}
	}
	if err := s.writeAll(".1"); err != nil {
		return err
	}
	if err := s.writeAll(""); err != nil {
		return err
	}
	if err := s.until("lines around a rotation"); err != nil {
		return err
	}
	if err := s.stop(a); err != nil {
		return err
	}
	if err := s.writeAll(""); err != nil {
		return err
	}
	if a, err = s.start(); err != nil {
		return err
	}
	if err := s.until("lines written while the adapter was down"); err != nil {
		return err
	}
	time.Sleep(2500 * time.Millisecond) // a duplicate would show now
	return s.stop(a)
}

// compare checks stdout against the records written, per file (the files
// are read concurrently); records whose "file" is the app's own compare
// among themselves.
func (s *logsScenario) compare() {
	s.mu.Lock()
	defer s.mu.Unlock()
	ours := map[string]bool{}
	for _, f := range s.files {
		ours[f.at] = true
	}
	group := func(recs []map[string]any) map[string][]map[string]any {
		m := map[string][]map[string]any{}
		for _, rec := range recs {
			k := ""
			if f, ok := rec["file"].(string); ok && s.pathKey && ours[f] {
				k = f
			}
			m[k] = append(m[k], rec)
		}
		return m
	}
	var recs []map[string]any
	for _, l := range s.got {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			s.errorf("stdout line is not a JSON object: %v\n%s", err, l)
			continue
		}
		switch ts, _ := rec["timestamp"].(string); {
		case ts == logsAppTS: // the app's own, kept
		case !logsISOTime.MatchString(ts):
			s.errorf("record without an ISO 8601 timestamp: %s", l)
		default:
			if tt, _ := time.Parse(time.RFC3339Nano, ts); s.format != "nginx" && s.format != "apache" && s.format != "syslog" && tt.Before(s.began) {
				s.errorf("timestamp %s is before the run began (%s): not the time the line was read", ts, s.began)
			}
			delete(rec, "timestamp")
		}
		// A line read after the rotation may name the renamed file.
		if f, ok := rec["file"].(string); ok && s.pathKey && ours[strings.TrimSuffix(f, ".1")] {
			rec["file"] = strings.TrimSuffix(f, ".1")
		}
		recs = append(recs, rec)
	}
	wantBy, gotBy := group(s.wantAll), group(recs)
	for k, w := range wantBy {
		// As multisets: the renamed file's last lines and the new file's
		// first are read concurrently (a multi-line record of the renamed
		// file waits its flush_timeout), so their order is not defined.
		if g := gotBy[k]; !reflect.DeepEqual(logsSorted(w), logsSorted(g)) {
			s.errorf("file %q: %d records, want %d, each exactly once:\n%s", k, len(g), len(w), logsDiff(w, g))
		}
	}
	for k, g := range gotBy {
		if _, ok := wantBy[k]; !ok {
			s.errorf("%d records of a file nobody wrote: %q", len(g), k)
		}
	}
	if len(s.errs) == 0 {
		s.logf("%d records, each exactly once, across a rotation and a restart", len(s.got))
		return
	}
	for i, a := range s.procs {
		s.logf("fluent-bit run %d stderr:\n%s", i+1, a.stderr.String())
	}
}

var logsISOTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$`)

// logsAppTS is the timestamp of the sample JSON line that has its own.
const logsAppTS = "2026-11-22T02:39:56Z"

// logsBatch is one batch of lines for a format and the records expected
// from them, before the adapter's own keys are added.
func logsBatch(format string, doc map[string]any, s logsSamples) ([]string, []map[string]any, error) {
	var lines []string
	var wants []map[string]any
	switch format {
	case "regex+multiline":
		p, _ := manifest.Slice(doc, "parsers")[0].(map[string]any)
		if manifest.Str(p, "regex") != s.Multiline.Regex {
			return nil, nil, fmt.Errorf("no multi-line samples for the regex %s: add them to samples.json", manifest.Str(p, "regex"))
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(s.Multiline.Log, "\n"), "\n")...)
		for _, r := range s.Multiline.Records {
			wants = append(wants, logsAny(r))
		}
		return lines, wants, nil
	case "json", "logfmt":
		for _, c := range s.Native[format] {
			lines = append(lines, c.Line)
			wants = append(wants, c.Want)
		}
		if format == "json" {
			// The app's own timestamp, file and field names win.
			lines = append(lines, `{"timestamp":"`+logsAppTS+`","file":"handler.go:42","app":"the app's","pod":"the app's","msg":"the app's keys"}`)
			wants = append(wants, map[string]any{"timestamp": logsAppTS, "file": "handler.go:42", "app": "the app's", "pod": "the app's", "msg": "the app's keys"})
		}
	case "regex":
		for _, r := range s.Multiline.Records {
			first, _, _ := strings.Cut(r["message"], "\n")
			lines = append(lines, fmt.Sprintf("%s %-5s [%s] %s - %s", r["time"], r["level"], r["thread"], r["logger"], first))
			w := logsAny(r)
			w["message"] = first
			wants = append(wants, w)
		}
	default:
		for _, c := range s.Formats[format] {
			lines = append(lines, c.Line)
			wants = append(wants, logsAny(c.Want))
		}
	}
	if len(lines) == 0 {
		return nil, nil, fmt.Errorf("no sample lines for format %s", format)
	}
	for _, u := range s.Unparsed {
		lines = append(lines, "", u)
		wants = append(wants, map[string]any{"log": u})
	}
	return lines, wants, nil
}

func logsAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// logsFields are the fields the config's modify filter adds (add rules:
// two double-quoted words, \" and \\ escaped), ${VAR} taken from env.
func logsFields(doc map[string]any, env []string) map[string]any {
	vars := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		vars[k] = v
	}
	out := map[string]any{}
	for _, f := range manifest.Slice(doc, "pipeline", "filters") {
		m, _ := f.(map[string]any)
		if manifest.Str(m, "name") != "modify" {
			continue
		}
		adds, ok := m["add"].([]any)
		if !ok && m["add"] != nil {
			adds = []any{m["add"]}
		}
		for _, a := range adds {
			w := logsModifyWords(fmt.Sprint(a))
			if len(w) == 2 {
				out[w[0]] = os.Expand(w[1], func(k string) string { return vars[k] })
			}
		}
	}
	return out
}

func logsModifyWords(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		var w strings.Builder
		quoted := s[i] == '"'
		if quoted {
			i++
		}
		for ; i < len(s) && ((quoted && s[i] != '"') || (!quoted && s[i] != ' ')); i++ {
			if quoted && s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				i++
			}
			w.WriteByte(s[i])
		}
		if quoted {
			i++
		}
		out = append(out, w.String())
	}
	return out
}

// logsSorted is a record list as sorted canonical JSON (a multiset).
func logsSorted(recs []map[string]any) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		b, _ := json.Marshal(r)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// logsDiff lists the records missing from got and those extra in it.
func logsDiff(want, got []map[string]any) string {
	count := map[string]int{}
	for _, w := range logsSorted(want) {
		count[w]++
	}
	for _, g := range logsSorted(got) {
		count[g]--
	}
	var b strings.Builder
	for r, n := range count {
		switch {
		case n > 0:
			fmt.Fprintf(&b, "missing %d× %s\n", n, r)
		case n < 0:
			fmt.Fprintf(&b, "extra %d× %s\n", -n, r)
		}
	}
	return b.String()
}
