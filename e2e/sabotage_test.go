package e2e

// Tests of the suite itself: each checker is fed a deliberately broken
// output and must report the failure. The broken outputs are made from the
// suite's sample and from a real golden output (when one with an HAProxy
// sidecar exists), so the checks are proven on what sidecarize generates.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

// sabotageBases: name -> YAML stream with a workload whose injected HAProxy
// container is the target of the sabotage.
func sabotageBases(t *testing.T) map[string][]byte {
	t.Helper()
	bases := map[string][]byte{}
	data, err := os.ReadFile(filepath.Join(env.RepoRoot(), "e2e/testdata/sample/monitor-http.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bases["sample"] = data
	files, err := outputFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(env.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		// A monitor output: its Service targets the proxy.
		objs, err := manifest.Parse(data)
		if err != nil {
			continue
		}
		if tg, err := findTarget(objs); err == nil && len(objs) > 0 {
			if st, _ := manifest.StatusOf(tg.workload); st != nil && len(st.Patterns) == 1 && st.Patterns[0] == "monitor" {
				if _, err := tg.proxyServicePort(); err == nil {
					bases[f] = data
					return bases
				}
			}
		}
	}
	return bases
}

// target is the first workload with an injected HAProxy container.
type target struct {
	objs      []manifest.Object
	workload  manifest.Object
	container map[string]any
	tmpl      map[string]any
}

func findTarget(objs []manifest.Object) (*target, error) {
	for _, o := range objs {
		tmpl := o.PodTemplate()
		if tmpl == nil {
			continue
		}
		st, err := manifest.StatusOf(o)
		if err != nil {
			return nil, err
		}
		for _, c := range manifest.Containers(tmpl) {
			if st.Injected(c.Name()) && podsim.IsHAProxy(c) {
				return &target{objs: objs, workload: o, container: c.M, tmpl: tmpl}, nil
			}
		}
	}
	return nil, fmt.Errorf("no workload with an injected HAProxy container")
}

// mutate parses base, applies f to the target and re-encodes the stream.
func mutate(t *testing.T, base []byte, f func(*target) error) []byte {
	t.Helper()
	objs, err := manifest.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := findTarget(objs)
	if err != nil {
		t.Fatal(err)
	}
	if err := f(tg); err != nil {
		t.Fatalf("sabotage not applicable: %v", err)
	}
	var b strings.Builder
	for _, o := range objs {
		out, err := yaml.Marshal(map[string]any(o))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	return []byte(b.String())
}

// configMapOf returns the data of the ConfigMap holding the target's
// haproxy .cfg files.
func (tg *target) haproxyConfig() (map[string]any, string, error) {
	vols := map[string]string{}
	for _, v := range manifest.Slice(tg.tmpl, "spec", "volumes") {
		m, _ := v.(map[string]any)
		if cm := manifest.Str(m, "configMap", "name"); cm != "" {
			vols[manifest.Str(m, "name")] = cm
		}
	}
	for _, vm := range manifest.Slice(tg.container, "volumeMounts") {
		cm := vols[manifest.Str(vm.(map[string]any), "name")]
		for _, o := range tg.objs {
			if o.Kind() != "ConfigMap" || o.Name() != cm || o.Namespace() != tg.workload.Namespace() {
				continue
			}
			for k := range manifest.Map(o, "data") {
				if strings.HasSuffix(k, ".cfg") {
					return manifest.Map(o, "data"), k, nil
				}
			}
		}
	}
	return nil, "", fmt.Errorf("no ConfigMap with a .cfg mounted in the injected container")
}

// proxyServicePort returns a Service port that targets the injected proxy
// (not its metrics port).
func (tg *target) proxyServicePort() (map[string]any, error) {
	objs := tg.objs
	var ps []*podsim.Pod
	var b strings.Builder
	for _, o := range objs {
		out, _ := yaml.Marshal(map[string]any(o))
		b.WriteString("---\n")
		b.Write(out)
	}
	ps, err := podsim.Load([]byte(b.String()))
	if err != nil || len(ps) == 0 {
		return nil, fmt.Errorf("no pod: %v", err)
	}
	p := ps[0]
	for _, svc := range p.Services {
		for _, sp := range manifest.Slice(svc, "spec", "ports") {
			m := sp.(map[string]any)
			cp, err := p.ResolveTargetPort(m)
			if err == nil && cp.Injected && cp.Name != "mon-metrics" {
				// find the live object (p.Services are copies of the re-parsed stream)
				for _, o := range objs {
					if o.Kind() == "Service" && o.Name() == svc.Name() {
						for _, lp := range manifest.Slice(o, "spec", "ports") {
							lm := lp.(map[string]any)
							if fmt.Sprint(lm["port"]) == fmt.Sprint(m["port"]) {
								return lm, nil
							}
						}
					}
				}
			}
		}
	}
	return nil, fmt.Errorf("no Service port targets the proxy")
}

func appPort(tg *target) (int, error) {
	st, _ := manifest.StatusOf(tg.workload)
	for _, c := range manifest.Containers(tg.tmpl) {
		if st.Injected(c.Name()) {
			continue
		}
		for _, p := range manifest.Slice(c.M, "ports") {
			if n, ok := p.(map[string]any)["containerPort"].(int); ok {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("no app port")
}

func TestSabotageApply(t *testing.T) {
	c := kube(t)
	for name, base := range sabotageBases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			if err := checkApply(ctx, c, base); err != nil {
				t.Fatalf("unsabotaged base must apply: %v", err)
			}
			broken := mutate(t, base, func(tg *target) error {
				tg.container["imagePullPolicyy"] = "Always"
				return nil
			})
			err := checkApply(ctx, c, broken)
			if err == nil || !strings.Contains(err.Error(), "unknown field") {
				t.Fatalf("unknown field in an injected container: want an unknown-field rejection, got %v", err)
			}
			t.Logf("rejected as expected: %v", err)

			dup := mutate(t, base, func(tg *target) error {
				env, _ := tg.container["env"].([]any)
				tg.container["env"] = append(env,
					map[string]any{"name": "SABOTAGE", "value": "1"},
					map[string]any{"name": "SABOTAGE", "value": "2"})
				return nil
			})
			err = checkApply(ctx, c, dup)
			if err == nil || !strings.Contains(err.Error(), "duplicate") {
				t.Fatalf("duplicate env var in an injected container: want a server-side apply rejection, got %v", err)
			}
			t.Logf("rejected as expected: %v", err)
		})
	}
}

func TestSabotageRestricted(t *testing.T) {
	c := kube(t)
	for name, base := range sabotageBases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			check := func(data []byte) []string {
				rs, err := checkRestricted(ctx, c, data)
				if err != nil {
					t.Fatal(err)
				}
				var v []string
				for _, r := range rs {
					v = append(v, r.InjectedViolations...)
				}
				return v
			}
			if v := check(base); len(v) != 0 {
				t.Fatalf("unsabotaged base must pass: %v", v)
			}
			var cname string
			broken := mutate(t, base, func(tg *target) error {
				cname = manifest.Str(tg.container, "name")
				sc := manifest.Map(tg.container, "securityContext")
				if sc == nil {
					sc = map[string]any{}
					tg.container["securityContext"] = sc
				}
				sc["runAsUser"] = 0
				sc["runAsNonRoot"] = false
				sc["allowPrivilegeEscalation"] = true
				return nil
			})
			v := check(broken)
			if len(v) == 0 {
				t.Fatal("injected container running as root: no violation attributed to it")
			}
			for _, x := range v {
				if !strings.Contains(x, "container "+cname) {
					t.Errorf("violation not attributed to %s: %s", cname, x)
				}
			}
			t.Logf("reported as expected: %v", v)
		})
	}
}

func TestSabotagePodSim(t *testing.T) {
	cases := []struct {
		name   string
		f      func(tg *target) error
		wantIn string // in the Start error or a failed check
	}{
		{"targetPort-unbound", func(tg *target) error {
			sp, err := tg.proxyServicePort()
			if err != nil {
				return err
			}
			sp["targetPort"] = 9999
			return nil
		}, "connection refused"},
		{"targetPort-metrics", func(tg *target) error {
			sp, err := tg.proxyServicePort()
			if err != nil {
				return err
			}
			sp["targetPort"] = "mon-metrics"
			return nil
		}, "none of its ports reaches the app through one"},
		{"targetPort-bypass", func(tg *target) error {
			sp, err := tg.proxyServicePort()
			if err != nil {
				return err
			}
			n, err := appPort(tg)
			sp["targetPort"] = n
			return err
		}, "bypassing the proxy"},
		{"config-rejected", func(tg *target) error {
			data, key, err := tg.haproxyConfig()
			if err != nil {
				return err
			}
			data[key] = fmt.Sprint(data[key]) + "\nbackend sabotage\n    no-such-keyword on\n"
			return nil
		}, "haproxy -c rejects"},
		{"backend-wrong-port", func(tg *target) error {
			data, key, err := tg.haproxyConfig()
			if err != nil {
				return err
			}
			re := regexp.MustCompile(`(server\s+\S+\s+127\.0\.0\.1:)\d+`)
			if !re.MatchString(fmt.Sprint(data[key])) {
				return fmt.Errorf("no server line")
			}
			data[key] = re.ReplaceAllString(fmt.Sprint(data[key]), "${1}1")
			return nil
		}, "503"},
		{"proxy-port-not-in-config", func(tg *target) error {
			for _, p := range manifest.Slice(tg.container, "ports") {
				m := p.(map[string]any)
				if manifest.Str(m, "name") != "mon-metrics" {
					m["containerPort"] = 9999
					return nil
				}
			}
			return fmt.Errorf("no proxy port")
		}, "no HAProxy frontend"},
	}
	for name, base := range sabotageBases(t) {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				pods, err := podsim.Load(mutate(t, base, tc.f))
				if err != nil {
					t.Fatal(err)
				}
				var got error
				for _, p := range pods {
					if err := simulate(t, p, newestHAProxy(t)); err != nil {
						got = err
					}
				}
				if got == nil {
					t.Fatalf("sabotage %s: the pod simulator reported no failure", tc.name)
				}
				if !strings.Contains(got.Error(), tc.wantIn) {
					t.Fatalf("sabotage %s: failure does not mention %q:\n%v", tc.name, tc.wantIn, got)
				}
				t.Logf("reported as expected: %.300s", got)
			})
		}
	}
}

func TestSabotagePromtool(t *testing.T) {
	cases := []struct{ name, from, to, wantIn string }{
		{"bad-promql", "[5m]", "[5m", "promtool check rules"},
		// Counting 2xx as errors makes the ratio 1 whatever the traffic: the
		// alert then fires below its threshold too.
		{"always-firing", `code="5xx"`, `code=~"5xx|2xx"`, "promtool test rules"},
	}
	// Only the bases that carry a PrometheusRule can be sabotaged this way;
	// at least one must, or this test would check nothing.
	withRules := 0
	for name, base := range sabotageBases(t) {
		objs, err := manifest.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		var found manifest.Object
		for _, o := range objs {
			if o.Kind() == "PrometheusRule" {
				found = o
			}
		}
		if found == nil {
			continue
		}
		withRules++
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				objs, err := manifest.Parse(base)
				if err != nil {
					t.Fatal(err)
				}
				var rule manifest.Object
				for _, o := range objs {
					if o.Kind() == "PrometheusRule" {
						rule = o
					}
				}
				spec, _ := yaml.Marshal(manifest.Map(rule, "spec"))
				s := string(spec)
				if !strings.Contains(s, tc.from) {
					t.Fatalf("sabotage not applicable: %q not in rules:\n%s", tc.from, s)
				}
				s = strings.Replace(s, tc.from, tc.to, 1)
				var m map[string]any
				if err := yaml.Unmarshal([]byte(s), &m); err != nil {
					t.Fatal(err)
				}
				rule["spec"] = m
				err = checkRuleSet(t, rule)
				if err == nil {
					t.Fatalf("sabotage %s: promtool checks passed", tc.name)
				}
				if !strings.Contains(err.Error(), tc.wantIn) {
					t.Fatalf("sabotage %s: %v", tc.name, err)
				}
				t.Logf("reported as expected: %.300s", err)
			})
		}
	}
	if withRules == 0 {
		t.Fatal("no sabotage base has a PrometheusRule: the promtool checks were not sabotaged")
	}
}
