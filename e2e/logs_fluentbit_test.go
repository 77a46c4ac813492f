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
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("FLUENT_BIT_BIN: %v", err)
		}
		return p
	}
	root := env.RepoRoot()
	cands := []string{filepath.Join(root, "..", logsFluentBitTool)}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--path-format=absolute", "--git-common-dir").Output(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "..", logsFluentBitTool))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	t.Fatalf("Fluent Bit 5.1.1 not found at %s: set FLUENT_BIT_BIN", cands[0])
	return ""
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

// logsAdapterProc is one run of the adapter.
type logsAdapterProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
}

// logsRunAdapter is the scenario of TestLogsFluentBit for one adapter.
func logsRunAdapter(bin string, p *logsPod, samples logsSamples, regexFormats map[string]string) *logsReport {
	r := &logsReport{}
	root, err := os.MkdirTemp("", "logs-fluentbit-")
	if err != nil {
		r.errorf("%v", err)
		return r
	}
	defer os.RemoveAll(root)
	if err := os.Chmod(root, 0o755); err != nil {
		r.errorf("%v", err)
		return r
	}
	sandbox := filepath.Join(root, "root")
	if err := os.Mkdir(sandbox, 0o755); err != nil {
		r.errorf("%v", err)
		return r
	}
	mounts, err := logsLayout(root, p, p.adapter)
	if err != nil {
		r.errorf("%v", err)
		return r
	}
	mounts = append(mounts, logsMount{host: bin, at: "/fluent-bit/bin/fluent-bit", ro: true})
	sort.SliceStable(mounts, func(i, j int) bool { return len(mounts[i].at) < len(mounts[j].at) })

	uid, gid := logsInt(manifest.Get(p.adapter.M, "securityContext", "runAsUser")), logsInt(manifest.Get(p.adapter.M, "securityContext", "runAsGroup"))
	if uid == 0 {
		uid, gid = logsInt(manifest.Get(p.tmpl, "spec", "securityContext", "runAsUser")), logsInt(manifest.Get(p.tmpl, "spec", "securityContext", "runAsGroup"))
	}
	if uid <= 0 || gid <= 0 {
		r.errorf("the adapter declares no non-root runAsUser/runAsGroup")
		return r
	}
	envv := []string{}
	for _, e := range manifest.Slice(p.adapter.M, "env") {
		m, _ := e.(map[string]any)
		v := manifest.Str(m, "value")
		if fp := manifest.Str(m, "valueFrom", "fieldRef", "fieldPath"); fp != "" {
			var ok bool
			if v, ok = logsFieldValues[fp]; !ok {
				v = "value of " + fp
			}
		}
		envv = append(envv, manifest.Str(m, "name")+"="+v)
	}
	sandboxCmd := func(argv ...string) *exec.Cmd {
		args := []string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", logsSandbox, "sandbox",
			sandbox, fmt.Sprint(uid), fmt.Sprint(gid), fmt.Sprint(len(mounts))}
		for _, m := range mounts {
			mode := "rw"
			if m.ro {
				mode = "ro"
			}
			args = append(args, m.host, m.at, mode)
		}
		cmd := exec.Command("unshare", append(args, argv...)...)
		cmd.Env = envv
		cmd.Dir = "/"
		return cmd
	}

	// The sandbox itself: the user, a read-only root, only the mounts not
	// marked readOnly writable.
	probe := []string{"/usr/bin/sh", "-c", `id -u; id -g; id -G; for p in "$@"; do if touch "$p/.probe" 2>/dev/null; then echo "$p rw"; rm -f "$p/.probe"; else echo "$p ro"; fi; done`, "probe", "/", "/tmp"}
	want := []string{fmt.Sprint(uid), fmt.Sprint(gid), fmt.Sprint(gid), "/ ro", "/tmp ro"}
	for _, m := range mounts {
		if st, err := os.Stat(m.host); err == nil && st.IsDir() {
			probe = append(probe, m.at)
			mode := "rw"
			if m.ro {
				mode = "ro"
			}
			want = append(want, m.at+" "+mode)
		}
	}
	out, err := sandboxCmd(probe...).CombinedOutput()
	if got := strings.Fields(strings.ReplaceAll(string(out), " ", "_")); err != nil || strings.Join(got, "\n") != strings.ReplaceAll(strings.Join(want, "\n"), " ", "_") {
		r.errorf("the sandbox is not the container's view (%v): got\n%s\nwant\n%s", err, out, strings.Join(want, "\n"))
		return r
	}

	// What the app writes, and what must come out.
	format := logsFormatOf(p.doc, regexFormats)
	lines, wants, err := logsBatch(format, p.doc, samples)
	if err != nil {
		r.errorf("%v", err)
		return r
	}
	ours := logsFields(p.doc, envv)
	pathKey := manifest.Str(manifest.Slice(p.doc, "pipeline", "inputs")[0].(map[string]any), "path_key") != ""
	// The files: every path of the tail input, a glob given a name it
	// matches, on the host through the app container's mounts.
	type logFile struct{ at, host string }
	var files []logFile
	paths := strings.Split(manifest.Str(manifest.Slice(p.doc, "pipeline", "inputs")[0].(map[string]any), "path"), ",")
	for _, pat := range paths {
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
				r.errorf("no file name for the glob %s", pat)
				return r
			}
		}
		host := ""
		for _, c := range manifest.Containers(p.tmpl) {
			if c.Name() == p.adapter.Name() {
				continue
			}
			ms, err := logsLayout(root, p, c)
			if err != nil {
				r.errorf("%v", err)
				return r
			}
			if h, ok := logsHostPath(ms, at); ok {
				host = h
				break
			}
		}
		if host == "" {
			r.errorf("no app container writes %s on a volume", at)
			return r
		}
		if h, ok := logsHostPath(mounts, at); !ok || h != host {
			r.errorf("the adapter does not see %s where the app writes it (%s, %s)", at, h, host)
			return r
		}
		if err := os.MkdirAll(filepath.Dir(host), 0o777); err != nil {
			r.errorf("%v", err)
			return r
		}
		files = append(files, logFile{at, host})
	}
	r.logf("format %s, %d files, as %d:%d, %d lines per batch", format, len(files), uid, gid, len(lines))

	// expected is a batch's records for a file, the app's keys winning.
	expected := func(file string) []map[string]any {
		var out []map[string]any
		for _, w := range wants {
			rec := map[string]any{}
			for k, v := range w {
				rec[k] = v
			}
			add := map[string]any{}
			for k, v := range ours {
				add[k] = v
			}
			if pathKey {
				add["file"] = file
			}
			for k, v := range add {
				if _, ok := rec[k]; !ok {
					rec[k] = v
				}
			}
			out = append(out, rec)
		}
		return out
	}
	var wantAll []map[string]any // in the order written
	write := func(host, at string) {
		f, err := os.OpenFile(host, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			r.errorf("%v", err)
			return
		}
		defer f.Close()
		if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
			r.errorf("%v", err)
		}
		wantAll = append(wantAll, expected(at)...)
	}
	total := func() int { return len(wantAll) }

	var mu sync.Mutex
	var got []string
	var procs []*logsAdapterProc
	start := func() *logsAdapterProc {
		argv := append(logsStrings(manifest.Get(p.adapter.M, "command")), logsStrings(manifest.Get(p.adapter.M, "args"))...)
		a := &logsAdapterProc{cmd: sandboxCmd(argv...), done: make(chan struct{})}
		a.cmd.Stderr = &a.stderr
		stdout, err := a.cmd.StdoutPipe()
		if err != nil {
			r.errorf("%v", err)
			return nil
		}
		if err := a.cmd.Start(); err != nil {
			r.errorf("%v", err)
			return nil
		}
		procs = append(procs, a)
		go func() {
			defer close(a.done)
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				mu.Lock()
				got = append(got, sc.Text())
				mu.Unlock()
			}
			a.cmd.Wait()
		}()
		return a
	}
	stop := func(a *logsAdapterProc) {
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(15 * time.Second):
			r.errorf("fluent-bit did not stop within 15s of SIGTERM")
			a.cmd.Process.Kill()
			<-a.done
		}
	}
	defer func() {
		for _, a := range procs {
			a.cmd.Process.Kill()
			<-a.done
		}
	}()
	until := func(what string, n int) bool {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			k := len(got)
			mu.Unlock()
			if k >= n {
				return true
			}
			time.Sleep(100 * time.Millisecond)
		}
		mu.Lock()
		r.errorf("%s: %d records on stdout after 30s, want %d", what, len(got), n)
		mu.Unlock()
		return false
	}
	began := time.Now().UTC().Truncate(time.Second)
	for _, f := range files {
		write(f.host, f.at) // before the adapter starts: read from the head
	}
	a := start()
	if a == nil || !until("lines written before the start", total()) {
		return logsFinish(r, procs)
	}
	for _, f := range files {
		write(f.host, f.at)
	}
	if !until("lines appended", total()) {
		return logsFinish(r, procs)
	}
	// Rotation: renamed, the app finishing a write on the renamed file,
	// then a new file.
	for _, f := range files {
		if err := os.Rename(f.host, f.host+".1"); err != nil {
			r.errorf("%v", err)
			return logsFinish(r, procs)
		}
		write(f.host+".1", f.at)
		write(f.host, f.at)
	}
	if !until("lines around a rotation", total()) {
		return logsFinish(r, procs)
	}
	// A restart on the same database, lines written while it was down.
	stop(a)
	for _, f := range files {
		write(f.host, f.at)
	}
	if a = start(); a == nil || !until("lines written while the adapter was down", total()) {
		return logsFinish(r, procs)
	}
	time.Sleep(2500 * time.Millisecond) // a duplicate would show now
	stop(a)

	// Compare, per file (the files are read concurrently); the records
	// whose "file" is the app's own compare in order among themselves.
	mu.Lock()
	defer mu.Unlock()
	ourFiles := map[string]bool{}
	for _, f := range files {
		ourFiles[f.at] = true
	}
	group := func(recs []map[string]any) map[string][]map[string]any {
		m := map[string][]map[string]any{}
		for _, rec := range recs {
			k := ""
			if f, ok := rec["file"].(string); ok && pathKey && ourFiles[f] {
				k = f
			}
			m[k] = append(m[k], rec)
		}
		return m
	}
	var recs []map[string]any
	for _, l := range got {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			r.errorf("stdout line is not a JSON object: %v\n%s", err, l)
			continue
		}
		switch ts, _ := rec["timestamp"].(string); {
		case ts == logsAppTS: // the app's own, kept
		case !logsISOTime.MatchString(ts):
			r.errorf("record without an ISO 8601 timestamp: %s", l)
		default:
			if tt, _ := time.Parse(time.RFC3339Nano, ts); format != "nginx" && format != "apache" && format != "syslog" && tt.Before(began) {
				r.errorf("timestamp %s is before the run began (%s): not the time the line was read", ts, began)
			}
			delete(rec, "timestamp")
		}
		// A line read after the rotation may name the renamed file.
		if f, ok := rec["file"].(string); ok && pathKey && ourFiles[strings.TrimSuffix(f, ".1")] {
			rec["file"] = strings.TrimSuffix(f, ".1")
		}
		recs = append(recs, rec)
	}
	wantBy, gotBy := group(wantAll), group(recs)
	for k, w := range wantBy {
		// As multisets: the renamed file's last lines and the new file's
		// first are read concurrently (a multi-line record of the renamed
		// file waits its flush_timeout), so their order is not defined.
		if g := gotBy[k]; !reflect.DeepEqual(logsSorted(w), logsSorted(g)) {
			r.errorf("file %q: %d records, want %d, each exactly once:\n%s", k, len(g), len(w), logsDiff(w, g))
		}
	}
	for k, g := range gotBy {
		if _, ok := wantBy[k]; !ok {
			r.errorf("%d records of a file nobody wrote: %q", len(g), k)
		}
	}
	if len(r.errs) == 0 {
		r.logf("%d records, each exactly once, across a rotation and a restart", len(got))
	}
	for i, a := range procs {
		if s := strings.TrimSpace(a.stderr.String()); s != "" && len(r.errs) > 0 {
			r.logf("fluent-bit run %d stderr:\n%s", i+1, s)
		}
	}
	return r
}

func logsFinish(r *logsReport, procs []*logsAdapterProc) *logsReport {
	for i, a := range procs {
		a.cmd.Process.Kill()
		<-a.done
		r.logf("fluent-bit run %d stderr:\n%s", i+1, a.stderr.String())
	}
	return r
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
