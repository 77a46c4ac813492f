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

	"gopkg.in/yaml.v3"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
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
// the same database. Every record must come out exactly once, in order per
// file, as expected: parsed, unparsed lines kept under "log", empty lines
// dropped, multi-line records joined and trimmed, the file name and fields
// added only where the app's record has no such key.
func TestLogsFluentBit(t *testing.T) {
	bin := logsFluentBitBin(t)
	if os.Geteuid() != 0 {
		t.Fatal("needs root (a mount namespace per adapter, and its user)")
	}
	samples := logsLoadSamples(t)
	regexFormats := logsRegexFormats(t)

	type source struct {
		names []string
		pod   *logsPod
	}
	var sources []*source
	byConfig := map[string]*source{}
	add := func(name string, p *logsPod) {
		key := p.config
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
		pods, err := logsPods(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range pods {
			golden++
			add(f+"/"+p.workload, p)
		}
	}
	if golden == 0 {
		t.Fatal("no fluent-bit adapter in the generated outputs")
	}
	// The formats no golden uses, generated here (clf is apache's config).
	covered := map[string]bool{}
	for _, s := range sources {
		covered[logsFormatOf(s.pod.doc, regexFormats)] = true
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
		pods, err := logsPods(logsManifest(t, opts))
		if err != nil || len(pods) != 1 {
			t.Fatalf("format %s: %d adapters, %v", f, len(pods), err)
		}
		add("format "+f, pods[0])
	}

	// Sabotage: each rule the configs rely on, broken on purpose, must make
	// the same scenario fail.
	byFormat := map[string]*logsPod{}
	for _, s := range sources {
		byFormat[logsFormatOf(s.pod.doc, regexFormats)] = s.pod
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
		pod      *logsPod
		sabotage bool
	}
	var runs []run
	for _, s := range sources {
		runs = append(runs, run{name: strings.Join(s.names, "+"), pod: s.pod})
	}
	for _, sb := range sabotages {
		p := byFormat[sb.format]
		if p == nil || !strings.Contains(p.config, sb.old) {
			t.Fatalf("sabotage %q: no %s config with %q", sb.name, sb.format, sb.old)
		}
		bad := *p
		bad.config = strings.Replace(p.config, sb.old, sb.new, 1)
		bad.doc = nil
		if err := yaml.Unmarshal([]byte(bad.config), &bad.doc); err != nil {
			t.Fatal(err)
		}
		bad.configMaps = logsReplaceConfig(p, bad.config)
		runs = append(runs, run{name: "sabotage/" + sb.name, pod: &bad, sabotage: true})
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

// logsReplaceConfig is p's ConfigMaps with the adapter's config replaced.
func logsReplaceConfig(p *logsPod, cfg string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, data := range p.configMaps {
		d := map[string]any{}
		for k, v := range data {
			if v == p.config {
				v = cfg
			}
			d[k] = v
		}
		out[name] = d
	}
	return out
}

// logsFluentBitTool is the binary's place beside the checkout.
const logsFluentBitTool = "shared/tools/fluent-bit-5.1.1/fluent-bit"

// logsFluentBitBin is $FLUENT_BIT_BIN, else ../shared/tools/fluent-bit-5.1.1/
// fluent-bit beside the checkout (beside its main worktree, for a linked
// worktree); missing, the test fails.
func logsFluentBitBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FLUENT_BIT_BIN"); p != "" {
		return logsFluentBitVersion(t, p)
	}
	root := env.RepoRoot()
	cands := []string{filepath.Join(root, "..", logsFluentBitTool)}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--path-format=absolute", "--git-common-dir").Output(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "..", logsFluentBitTool))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return logsFluentBitVersion(t, c)
		}
	}
	t.Fatalf("Fluent Bit 5.1.1 not found at %s: set FLUENT_BIT_BIN", cands[0])
	return ""
}

// logsFluentBitVersion checks the binary is a Fluent Bit 5.1 (the default
// image's minor).
func logsFluentBitVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Fluent Bit v5.1.") {
		t.Fatalf("%s --version: want Fluent Bit v5.1.x (%v):\n%s", bin, err, out)
	}
	return bin
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

// logsPod is a pod template with a fluent-bit adapter.
type logsPod struct {
	workload   string
	tmpl       map[string]any
	adapter    manifest.Container
	configMaps map[string]map[string]any // name → data
	config     string                    // the adapter's config file
	doc        map[string]any            // config, parsed
}

// logsPods finds the fluent-bit adapters (containers running
// /fluent-bit/bin/fluent-bit) of a manifest stream and their configs.
func logsPods(data []byte) ([]*logsPod, error) {
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	cms := map[string]map[string]any{}
	for _, o := range objs {
		if o.Kind() == "ConfigMap" {
			cms[o.Name()] = manifest.Map(o, "data")
		}
	}
	var out []*logsPod
	for _, o := range objs {
		tmpl := o.PodTemplate()
		if tmpl == nil {
			continue
		}
		for _, c := range manifest.Containers(tmpl) {
			argv := append(logsStrings(manifest.Get(c.M, "command")), logsStrings(manifest.Get(c.M, "args"))...)
			if len(argv) == 0 || argv[0] != "/fluent-bit/bin/fluent-bit" {
				continue
			}
			p := &logsPod{workload: o.Kind() + "/" + o.Name(), tmpl: tmpl, adapter: c, configMaps: cms}
			cfgPath := ""
			for i := 1; i+1 < len(argv); i++ {
				if argv[i] == "-c" {
					cfgPath = argv[i+1]
				}
			}
			// The config is the file of a ConfigMap volume at that path.
			for _, vm := range manifest.Slice(c.M, "volumeMounts") {
				m, _ := vm.(map[string]any)
				vol := logsVolume(tmpl, manifest.Str(m, "name"))
				cm := manifest.Str(vol, "configMap", "name")
				if cm == "" || path.Dir(cfgPath) != path.Clean(manifest.Str(m, "mountPath")) {
					continue
				}
				p.config, _ = cms[cm][path.Base(cfgPath)].(string)
			}
			if p.config == "" {
				return nil, fmt.Errorf("%s: the adapter's config %q is not in a mounted ConfigMap", p.workload, cfgPath)
			}
			if err := yaml.Unmarshal([]byte(p.config), &p.doc); err != nil {
				return nil, fmt.Errorf("%s: config: %v", p.workload, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func logsVolume(tmpl map[string]any, name string) map[string]any {
	for _, v := range manifest.Slice(tmpl, "spec", "volumes") {
		if m, _ := v.(map[string]any); manifest.Str(m, "name") == name {
			return m
		}
	}
	return nil // a volumeClaimTemplate's: a directory of its own here
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

// logsSandbox runs argv in a mount namespace of its own, chrooted into an
// empty read-only tmpfs that holds the host's /usr and /etc (read-only),
// /dev and /proc, and the container's mounts (host path, path, ro|rw
// triples), as uid:gid without supplementary groups.
const logsSandbox = `set -eu
root=$1 uid=$2 gid=$3 n=$4; shift 4
mount -t tmpfs -o mode=0755,size=8m sidecarize-adapter-root "$root"
for d in usr etc; do
  mkdir "$root/$d"; mount --bind "/$d" "$root/$d"; mount -o remount,bind,ro "$root/$d"
done
for d in dev proc; do mkdir "$root/$d"; mount --rbind "/$d" "$root/$d"; done
for d in bin sbin lib lib64; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"
  elif [ -d "/$d" ]; then mkdir "$root/$d"; mount --bind "/$d" "$root/$d"; mount -o remount,bind,ro "$root/$d"
  fi
done
while [ "$n" -gt 0 ]; do
  host=$1 at=$2 mode=$3; shift 3; n=$((n-1))
  if [ -d "$host" ]; then mkdir -p "$root$at"; else mkdir -p "$(dirname "$root$at")"; : >"$root$at"; fi
  mount --bind "$host" "$root$at"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$root$at"; fi
done
mount -o remount,ro "$root"
exec chroot "$root" /usr/bin/setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
`

// logsMount is one of the adapter's mounts, on the host.
type logsMount struct {
	host, at string
	ro       bool
}

// logsLayout lays out the pod's volumes under root and returns the mounts
// of a container: each volume is a directory (a ConfigMap's holds its
// files), subPaths are created in it as the kubelet does.
func logsLayout(root string, p *logsPod, c manifest.Container) ([]logsMount, error) {
	var out []logsMount
	for _, vm := range manifest.Slice(c.M, "volumeMounts") {
		m, _ := vm.(map[string]any)
		name := manifest.Str(m, "name")
		dir := filepath.Join(root, "volumes", name)
		if _, err := os.Stat(dir); err != nil {
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return nil, err
			}
			vol := logsVolume(p.tmpl, name)
			if cm := manifest.Str(vol, "configMap", "name"); cm != "" {
				if err := os.Chmod(dir, 0o755); err != nil {
					return nil, err
				}
				for k, v := range p.configMaps[cm] {
					if err := os.WriteFile(filepath.Join(dir, k), []byte(fmt.Sprint(v)), 0o644); err != nil {
						return nil, err
					}
				}
			} else if err := os.Chmod(dir, 0o777); err != nil { // emptyDir's mode
				return nil, err
			}
		}
		if sp := manifest.Str(m, "subPath"); sp != "" {
			dir = filepath.Join(dir, sp)
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return nil, err
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				return nil, err
			}
		}
		out = append(out, logsMount{host: dir, at: path.Clean(manifest.Str(m, "mountPath")), ro: m["readOnly"] == true})
	}
	return out, nil
}

// logsHostPath maps a container path to the host through its mounts.
func logsHostPath(mounts []logsMount, p string) (string, bool) {
	best := -1
	for i, m := range mounts {
		if (p == m.at || strings.HasPrefix(p, m.at+"/")) && (best < 0 || len(m.at) > len(mounts[best].at)) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return filepath.Join(mounts[best].host, strings.TrimPrefix(p, mounts[best].at)), true
}

// logsFieldValues stands in for the downward API.
var logsFieldValues = map[string]string{
	"metadata.name": "web-7d9f-x2", "metadata.namespace": "shop", "metadata.uid": "0b6e4c1a-5f7e-4c3e-9d51-2a1f1c3e9b10",
	"spec.nodeName": "node-1", "spec.serviceAccountName": "default", "status.podIP": "10.244.1.7", "status.hostIP": "192.168.0.11",
}

// logsScenario is one adapter's run in TestLogsFluentBit.
type logsScenario struct {
	*logsReport
	p        *logsPod
	root     string      // the pod's volumes; root/root is the sandbox's
	mounts   []logsMount // the adapter's, parents first
	uid, gid int
	env      []string
	format   string
	lines    []string         // one batch the app writes to each file
	wants    []map[string]any // its records, before the adapter's keys
	ours     map[string]any   // the fields the adapter adds
	pathKey  bool             // records name their file
	files    []logsFile
	wantAll  []map[string]any // the records expected, in the order written
	began    time.Time

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
func logsRunAdapter(bin string, p *logsPod, samples logsSamples, regexFormats map[string]string) *logsReport {
	s := &logsScenario{logsReport: &logsReport{}, p: p}
	root, err := os.MkdirTemp("", "logs-fluentbit-")
	if err != nil {
		s.errorf("%v", err)
		return s.logsReport
	}
	s.root = root
	defer os.RemoveAll(root)
	defer s.kill()
	for _, step := range []func() error{
		func() error { return s.setup(bin) },
		s.probe,
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

// setup lays out the pod's volumes and reads the adapter's user and env.
func (s *logsScenario) setup(bin string) error {
	if err := os.Chmod(s.root, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(s.root, "root"), 0o755); err != nil {
		return err
	}
	mounts, err := logsLayout(s.root, s.p, s.p.adapter)
	if err != nil {
		return err
	}
	s.mounts = append(mounts, logsMount{host: bin, at: "/fluent-bit/bin/fluent-bit", ro: true})
	sort.SliceStable(s.mounts, func(i, j int) bool { return len(s.mounts[i].at) < len(s.mounts[j].at) })
	a, tmpl := s.p.adapter.M, s.p.tmpl
	s.uid, s.gid = logsInt(manifest.Get(a, "securityContext", "runAsUser")), logsInt(manifest.Get(a, "securityContext", "runAsGroup"))
	if s.uid == 0 {
		s.uid, s.gid = logsInt(manifest.Get(tmpl, "spec", "securityContext", "runAsUser")), logsInt(manifest.Get(tmpl, "spec", "securityContext", "runAsGroup"))
	}
	if s.uid <= 0 || s.gid <= 0 {
		return fmt.Errorf("the adapter declares no non-root runAsUser/runAsGroup")
	}
	for _, e := range manifest.Slice(a, "env") {
		m, _ := e.(map[string]any)
		v := manifest.Str(m, "value")
		if fp := manifest.Str(m, "valueFrom", "fieldRef", "fieldPath"); fp != "" {
			var ok bool
			if v, ok = logsFieldValues[fp]; !ok {
				v = "value of " + fp
			}
		}
		s.env = append(s.env, manifest.Str(m, "name")+"="+v)
	}
	return nil
}

// command runs argv in the adapter's sandbox.
func (s *logsScenario) command(argv ...string) *exec.Cmd {
	args := []string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", logsSandbox, "sandbox",
		filepath.Join(s.root, "root"), fmt.Sprint(s.uid), fmt.Sprint(s.gid), fmt.Sprint(len(s.mounts))}
	for _, m := range s.mounts {
		args = append(args, m.host, m.at, m.mode())
	}
	cmd := exec.Command("unshare", append(args, argv...)...)
	cmd.Env = s.env
	cmd.Dir = "/"
	return cmd
}

func (m logsMount) mode() string {
	if m.ro {
		return "ro"
	}
	return "rw"
}

// probe checks the sandbox itself: the user without supplementary groups,
// a read-only root, only the mounts not marked readOnly writable.
func (s *logsScenario) probe() error {
	argv := []string{"/usr/bin/sh", "-c", `id -u; id -g; id -G; for p in "$@"; do if touch "$p/.probe" 2>/dev/null; then echo "$p:rw"; rm -f "$p/.probe"; else echo "$p:ro"; fi; done`, "probe", "/", "/tmp"}
	want := []string{fmt.Sprint(s.uid), fmt.Sprint(s.gid), fmt.Sprint(s.gid), "/:ro", "/tmp:ro"}
	for _, m := range s.mounts {
		if st, err := os.Stat(m.host); err == nil && st.IsDir() {
			argv = append(argv, m.at)
			want = append(want, m.at+":"+m.mode())
		}
	}
	out, err := s.command(argv...).CombinedOutput()
	if got := strings.Fields(string(out)); err != nil || !reflect.DeepEqual(got, want) {
		return fmt.Errorf("the sandbox is not the container's view (%v): got\n%s\nwant\n%s", err, out, strings.Join(want, "\n"))
	}
	return nil
}

// prepare picks the sample lines for the config's format, the records
// expected from them and the files the config follows.
func (s *logsScenario) prepare(samples logsSamples, regexFormats map[string]string) error {
	s.format = logsFormatOf(s.p.doc, regexFormats)
	var err error
	if s.lines, s.wants, err = logsBatch(s.format, s.p.doc, samples); err != nil {
		return err
	}
	s.ours = logsFields(s.p.doc, s.env)
	in, _ := manifest.Slice(s.p.doc, "pipeline", "inputs")[0].(map[string]any)
	s.pathKey = manifest.Str(in, "path_key") != ""
	for _, pat := range strings.Split(manifest.Str(in, "path"), ",") {
		f, err := s.appFile(pat)
		if err != nil {
			return err
		}
		s.files = append(s.files, f)
	}
	s.logf("format %s, %d files, as %d:%d, %d lines per batch", s.format, len(s.files), s.uid, s.gid, len(s.lines))
	return nil
}

// appFile is a path of the tail input (a glob gets a name it matches) on
// the host, through the mounts of the app container that writes it; the
// adapter must see the same host file at that path.
func (s *logsScenario) appFile(pat string) (logsFile, error) {
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
			return logsFile{}, fmt.Errorf("no file name for the glob %s", pat)
		}
	}
	for _, c := range manifest.Containers(s.p.tmpl) {
		if c.Name() == s.p.adapter.Name() {
			continue
		}
		ms, err := logsLayout(s.root, s.p, c)
		if err != nil {
			return logsFile{}, err
		}
		host, ok := logsHostPath(ms, at)
		if !ok {
			continue
		}
		if h, ok := logsHostPath(s.mounts, at); !ok || h != host {
			return logsFile{}, fmt.Errorf("the adapter does not see %s where container %s writes it (%s, %s)", at, c.Name(), h, host)
		}
		return logsFile{at, host}, os.MkdirAll(filepath.Dir(host), 0o777)
	}
	return logsFile{}, fmt.Errorf("no app container writes %s on a volume", at)
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
	argv := append(logsStrings(manifest.Get(s.p.adapter.M, "command")), logsStrings(manifest.Get(s.p.adapter.M, "args"))...)
	a := &logsAdapterProc{cmd: s.command(argv...), done: make(chan struct{})}
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
