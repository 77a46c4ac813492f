package logs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The real-run layer: the generated configs under a real Fluent Bit, fed
// the sample lines, their stdout compared with the expected records. The
// e2e suite (e2e/logs_fluentbit_test.go) runs every generated config of the
// goldens and the demo the way the adapter runs (the pod's mounts, a
// non-root user, a read-only root, rotation, a restart on the same
// database); these are the fast cases of `make test`.

// fluentBitTool is the binary's place beside the checkout.
const fluentBitTool = "shared/tools/fluent-bit-5.1.1/fluent-bit"

// fluentBitBin is $FLUENT_BIT_BIN, else ../shared/tools/fluent-bit-5.1.1/
// fluent-bit beside the repository (beside its main worktree, for a linked
// worktree); it must be a Fluent Bit 5.1 (the default image's minor).
// Missing, it fails the test in CI (CI=true) and skips it elsewhere.
func fluentBitBin(t *testing.T) string {
	t.Helper()
	fluentBitOnce.Do(func() { fluentBitPath, fluentBitMissing, fluentBitErr = findFluentBit() })
	switch {
	case fluentBitMissing && os.Getenv("CI") != "true":
		t.Skip(fluentBitErr)
	case fluentBitErr != nil:
		t.Fatal(fluentBitErr)
	}
	return fluentBitPath
}

var (
	fluentBitOnce    sync.Once
	fluentBitPath    string
	fluentBitErr     error
	fluentBitMissing bool
)

func findFluentBit() (bin string, missing bool, err error) {
	bin = os.Getenv("FLUENT_BIT_BIN")
	if bin == "" {
		root, _ := filepath.Abs(filepath.Join("..", ".."))
		cands := []string{filepath.Join(root, "..", fluentBitTool)}
		if out, err := exec.Command("git", "-C", root, "rev-parse", "--path-format=absolute", "--git-common-dir").Output(); err == nil {
			main := filepath.Dir(strings.TrimSpace(string(out)))
			cands = append(cands, filepath.Join(main, "..", fluentBitTool))
		}
		for _, c := range cands {
			if _, err := os.Stat(c); err == nil {
				bin = c
				break
			}
		}
		if bin == "" {
			return "", true, fmt.Errorf("Fluent Bit not found at %s: set FLUENT_BIT_BIN", cands[0])
		}
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Fluent Bit v5.1.") {
		return "", false, fmt.Errorf("%s --version: want Fluent Bit v5.1.x (%v):\n%s", bin, err, out)
	}
	return bin, false, nil
}

// fbResult is what one run wrote to stdout.
type fbResult struct {
	Records []map[string]any
	Start   time.Time
}

// runFluentBit runs the generated config with its database moved into dir
// and env (NAME=value) added, until want records are on stdout and one
// more flush interval passed with none extra, and returns the records.
func runFluentBit(t *testing.T, dir, cfg string, env []string, want int) fbResult {
	t.Helper()
	bin := fluentBitBin(t)
	if !strings.Contains(cfg, DBDir+"/tail.db") {
		t.Fatalf("no database %s/tail.db in the config", DBDir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg = strings.ReplaceAll(cfg, DBDir+"/tail.db", filepath.Join(dir, "db", "tail.db"))
	cfgFile := filepath.Join(dir, ConfigFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cfgFile)
	// The image's time zone is UTC (times without one are read in it).
	cmd.Env = append([]string{"TZ=UTC", "PATH=/usr/bin:/bin"}, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	res := fbResult{Start: time.Now().UTC().Truncate(time.Second)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(lines) }
	deadline := time.Now().Add(20 * time.Second)
	for count() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // flush is 1s: anything extra shows
	_ = cmd.Process.Kill()
	<-done
	_ = cmd.Wait()
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("stdout line is not a JSON object: %v\n%s", err, l)
			continue
		}
		res.Records = append(res.Records, rec)
	}
	if len(res.Records) != want {
		t.Errorf("%d records on stdout, want %d; stderr:\n%s", len(res.Records), want, stderr.String())
	}
	return res
}

var isoTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$`)

// readTime checks a timestamp the adapter set from the time it read the
// line: ISO 8601 UTC, not before the run started.
func readTime(t *testing.T, res fbResult, v any) {
	t.Helper()
	s, _ := v.(string)
	if !isoTime.MatchString(s) {
		t.Errorf("timestamp %v is not ISO 8601 UTC with microseconds", v)
		return
	}
	ts, _ := time.Parse(time.RFC3339Nano, s)
	if ts.Before(res.Start) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("timestamp %s is not the time the line was read (run started %s)", s, res.Start)
	}
}

func writeLog(t *testing.T, file string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Every format under the real Fluent Bit: each sample line becomes its
// record; the record's time is the line's own for the formats that carry
// one (nginx, apache, clf, syslog; the image's UTC for syslog's), else the
// time it was read. A line the format cannot read is kept whole under
// "log" (never split into one key per word, as logfmt would without
// logfmt_no_bare_keys); empty lines are dropped.
func TestFluentBitFormats(t *testing.T) {
	t.Parallel()
	fluentBitBin(t)
	s := loadSamples(t)
	type sample struct {
		line string
		want map[string]any
	}
	cases := map[string][]sample{}
	for f, list := range s.Formats {
		for _, c := range list {
			cases[f] = append(cases[f], sample{c.Line, toAny(c.Want)})
		}
	}
	for f, list := range s.Native {
		for _, c := range list {
			cases[f] = append(cases[f], sample{c.Line, c.Want})
		}
	}
	// format regex: the multiline sample's pattern on single-line records.
	for _, r := range s.Multiline.Records {
		first, _, _ := strings.Cut(r["message"], "\n")
		line := fmt.Sprintf("%s %-5s [%s] %s - %s", r["time"], r["level"], r["thread"], r["logger"], first)
		want := toAny(r)
		want["message"] = first
		cases["regex"] = append(cases["regex"], sample{line, want})
	}
	for _, f := range []string{"json", "logfmt", "nginx", "apache", "clf", "syslog", "regex"} {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			if len(cases[f]) < 2 {
				t.Fatalf("want at least two sample lines for %s in testdata/samples.json", f)
			}
			dir := t.TempDir()
			o := Default()
			o.Files, o.Format = []string{filepath.Join(dir, "logs", "app.log")}, f
			if f == "regex" {
				o.Regex = s.Multiline.Regex
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			cfg, err := FluentBitConfig("Deployment web", o, nil)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			var want []map[string]any
			for i, c := range cases[f] {
				lines = append(lines, c.line)
				want = append(want, c.want)
				if i == 0 {
					lines = append(lines, "") // dropped
				}
			}
			for _, u := range s.Unparsed {
				lines = append(lines, u, "")
				want = append(want, map[string]any{"log": u})
			}
			writeLog(t, o.Files[0], lines...)
			res := runFluentBit(t, dir, cfg, nil, len(want))
			for i, rec := range res.Records {
				ts := rec["timestamp"]
				delete(rec, "timestamp")
				if i >= len(want) {
					continue
				}
				wantTS := lineTime(t, f, want[i])
				if wantTS == "" {
					readTime(t, res, ts)
				} else if ts != wantTS {
					t.Errorf("record %d: timestamp %v, want the line's time %s", i, ts, wantTS)
				}
			}
			if d := cmp.Diff(want, res.Records); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
		})
	}
}

// lineTime is the timestamp Fluent Bit should write for a record of a
// format with a time field ("" when it writes the read time).
func lineTime(t *testing.T, format string, rec map[string]any) string {
	t.Helper()
	s, _ := rec["time"].(string)
	layout := map[string]string{"nginx": "02/Jan/2006:15:04:05 -0700", "apache": "02/Jan/2006:15:04:05 -0700", "clf": "02/Jan/2006:15:04:05 -0700", "syslog": "Jan _2 15:04:05"}[format]
	if layout == "" || s == "" {
		return ""
	}
	ts, err := time.Parse(layout, s)
	if err != nil {
		t.Fatalf("sample time %q: %v", s, err)
	}
	if format == "syslog" {
		// No year in the line: Fluent Bit takes the current one.
		ts = ts.AddDate(time.Now().UTC().Year(), 0, 0)
	}
	return ts.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// Multi-line records: a stack trace is one record whose message keeps its
// inner newlines (blank lines included) but not the newline of its last
// line; a line before any start of record is a record of its own, kept
// under "log"; with more than one file each record names its file.
func TestFluentBitMultiline(t *testing.T) {
	t.Parallel()
	fluentBitBin(t)
	s := loadSamples(t).Multiline
	dir := t.TempDir()
	app, audit := filepath.Join(dir, "logs", "app.log"), filepath.Join(dir, "audit", "x.log")
	o := Default()
	o.Files = []string{app, filepath.Join(dir, "audit", "*.log")}
	o.Format, o.Regex, o.Multiline = "regex", s.Regex, s.Start
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := FluentBitConfig("Deployment web", o, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeLog(t, app, strings.TrimSuffix(s.Log, "\n"))
	// A blank line inside a trace is part of it; the blank lines after the
	// last record are not.
	withBlank := strings.Replace(s.Log, "Caused by:", "\nCaused by:", 1)
	writeLog(t, audit, "continued from a rotated file", strings.TrimSuffix(withBlank, "\n"), "", "")
	var want []map[string]any
	for _, r := range s.Records {
		w := toAny(r)
		w["file"] = app
		want = append(want, w)
	}
	want = append(want, map[string]any{"log": "continued from a rotated file", "file": audit})
	for _, r := range s.Records {
		w := toAny(r)
		w["file"] = audit
		w["message"] = strings.Replace(r["message"], "Caused by:", "\nCaused by:", 1)
		want = append(want, w)
	}
	res := runFluentBit(t, dir, cfg, nil, len(want))
	for _, rec := range res.Records {
		readTime(t, res, rec["timestamp"])
		delete(rec, "timestamp")
	}
	// The two files are read concurrently: compare each file's records.
	byFile := func(recs []map[string]any) map[any][]map[string]any {
		m := map[any][]map[string]any{}
		for _, r := range recs {
			m[r["file"]] = append(m[r["file"]], r)
		}
		return m
	}
	if d := cmp.Diff(byFile(want), byFile(res.Records)); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

// The app's keys win: a record that has a "timestamp", a "file" or a key
// named like one of the fields keeps the app's value; the others get ours.
// Field values are written as given (spaces, quotes, backslashes), and
// fieldRef values come from the environment.
func TestFluentBitAppKeysWin(t *testing.T) {
	t.Parallel()
	fluentBitBin(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "logs", "app.log")
	o := Default()
	o.Files = []string{app, filepath.Join(dir, "logs", "audit-*.log")}
	o.Fields = map[string]string{"app": "fallback app", "team": `platform "core" \ ops \n`, "pod": "fieldRef:metadata.name"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := FluentBitConfig("Deployment web", o, map[string]string{"pod": "SIDECARIZE_FIELD_1"})
	if err != nil {
		t.Fatal(err)
	}
	writeLog(t, app,
		`{"timestamp":"2026-11-22T02:39:56Z","app":"web","file":"handler.go:42","pod":"self","msg":"the app's keys"}`,
		`{"msg":"ours"}`,
		`not json`)
	ours := map[string]any{"app": "fallback app", "team": `platform "core" \ ops \n`, "pod": "web-7d9f-x2", "file": app}
	want := []map[string]any{
		{"timestamp": "2026-11-22T02:39:56Z", "app": "web", "file": "handler.go:42", "pod": "self", "msg": "the app's keys", "team": ours["team"]},
		{"msg": "ours"},
		{"log": "not json"},
	}
	for _, w := range want[1:] {
		for k, v := range ours {
			w[k] = v
		}
	}
	res := runFluentBit(t, dir, cfg, []string{"SIDECARIZE_FIELD_1=web-7d9f-x2"}, len(want))
	for i, rec := range res.Records {
		if i > 0 {
			readTime(t, res, rec["timestamp"])
			delete(rec, "timestamp")
		}
	}
	if d := cmp.Diff(want, res.Records); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}
