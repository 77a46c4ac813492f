package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

// The real-world-shaped package: an HTTP frontend (named targetPort, Ingress,
// HPA, ServiceAccount), a gRPC backend (numeric targetPort), a TCP cache
// (StatefulSet, headless Service, PodMonitor), a CronJob no rule selects.
const (
	pkgDir    = "e2e/testdata/krm/shop"
	pkgConfig = "e2e/testdata/krm/fn-config.yaml"
)

var (
	pkgOnce sync.Once
	pkgOut  []byte
	pkgErr  error
)

// packageOutput is `sidecarize -c fn-config.yaml shop/` (the CLI's answer).
func packageOutput(t *testing.T) []byte {
	t.Helper()
	pkgOnce.Do(func() {
		pkgOut, pkgErr = runSidecarize(t, nil, "-c", pkgConfig, pkgDir)
	})
	if pkgErr != nil {
		t.Fatal(pkgErr)
	}
	return pkgOut
}

// TestPackage runs every checker on the CLI's output for the package: it is
// how the grpc and tcp proxies are exercised on real output.
func TestPackage(t *testing.T) {
	out := packageOutput(t)
	t.Run("apply", func(t *testing.T) {
		c := kube(t)
		ctx := ctxFor(t, 2*time.Minute)
		if err := checkApply(ctx, c, out); err != nil {
			t.Error(err)
		}
		rs, err := checkRestricted(ctx, c, out)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			for _, v := range r.InjectedViolations {
				t.Errorf("%s: %s", r.Workload, v)
			}
		}
	})
	t.Run("podsim", func(t *testing.T) {
		pods, err := podsim.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		protos := map[string]bool{}
		for _, p := range pods {
			t.Run(p.Workload, func(t *testing.T) {
				eachHAProxy(t, func(t *testing.T, h env.HAProxy) {
					if err := simulate(t, p, h); err != nil {
						t.Error(err)
					}
				})
			})
			for _, c := range p.HAProxyContainers() {
				_ = c
			}
		}
		_ = protos
		if len(pods) != 3 {
			t.Errorf("want 3 workloads with an HAProxy sidecar (web, checkout, cache), got %d", len(pods))
		}
	})
	t.Run("promtool", func(t *testing.T) {
		objs, err := manifest.Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, o := range objs {
			if o.Kind() == "PrometheusRule" {
				n++
				if err := checkRuleSet(t, o); err != nil {
					t.Error(err)
				}
			}
		}
		if n == 0 {
			t.Error("no PrometheusRule for web (rules: true)")
		}
	})
}

// copyPackage copies the package files into dir and returns their names.
func copyPackage(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(env.RepoRoot(), pkgDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(env.RepoRoot(), pkgDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, e.Name())
	}
	return names
}

// fnConfigWithExec is the functionConfig annotated to run the binary under
// test as an exec function.
func fnConfigWithExec(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.RepoRoot(), pkgConfig))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "metadata:\n", fmt.Sprintf("metadata:\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: %s\n", sidecarizeBin(t)), 1)
	if s == string(data) {
		t.Fatal("fn-config.yaml has no metadata to annotate")
	}
	return []byte(s)
}

func run(t *testing.T, dir string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestKustomizeExecTransformer: kustomize (pinned, built from the module
// proxy) runs sidecarize as an exec KRM transformer; the result equals the
// CLI's.
func TestKustomizeExecTransformer(t *testing.T) {
	kustomize, err := env.Tool("KUSTOMIZE_BIN", "kustomize", "KUSTOMIZE_VERSION")
	if err != nil {
		t.Fatal(err)
	}
	want := packageOutput(t)
	dir := t.TempDir()
	names := copyPackage(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "sidecarize.yaml"), fnConfigWithExec(t), 0o644); err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, n := range names {
		k += "- " + n + "\n"
	}
	k += "transformers:\n- sidecarize.yaml\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	got := run(t, dir, kustomize, "build", "--enable-alpha-plugins", "--enable-exec", ".")
	if err := sameObjects(want, got); err != nil {
		t.Errorf("kustomize build differs from the CLI: %v", err)
	}
}

// TestKptFnEvalExec: `kpt fn eval --exec` gives the CLI's result.
func TestKptFnEvalExec(t *testing.T) {
	kpt, err := env.Tool("KPT_BIN", "kpt", "")
	if err != nil {
		t.Fatal(err)
	}
	want := packageOutput(t)
	dir := t.TempDir()
	pkg := filepath.Join(dir, "shop")
	if err := os.Mkdir(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	copyPackage(t, pkg)
	cfg := filepath.Join(dir, "fn-config.yaml")
	data, err := os.ReadFile(filepath.Join(env.RepoRoot(), pkgConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got := run(t, dir, kpt, "fn", "eval", pkg, "--exec", sidecarizeBin(t), "--fn-config", cfg, "-o", "unwrap")
	if err := sameObjects(want, got); err != nil {
		t.Errorf("kpt fn eval differs from the CLI: %v", err)
	}
}

// bookkeeping reports annotations KRM hosts add or use internally.
func bookkeeping(k string) bool {
	return strings.HasPrefix(k, "internal.config.kubernetes.io/") ||
		strings.HasPrefix(k, "config.kubernetes.io/") ||
		strings.HasPrefix(k, "kustomize.config.k8s.io/") ||
		k == "config.k8s.io/id"
}

// normalize decodes a stream into id -> object (JSON round trip, KRM
// bookkeeping annotations dropped).
func normalize(data []byte) (map[string]any, error) {
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, o := range objs {
		if ann := manifest.Map(o, "metadata", "annotations"); ann != nil {
			for k := range ann {
				if bookkeeping(k) {
					delete(ann, k)
				}
			}
			if len(ann) == 0 {
				delete(manifest.Map(o, "metadata"), "annotations")
			}
		}
		var v any
		if err := json.Unmarshal(o.JSON(), &v); err != nil {
			return nil, err
		}
		id := fmt.Sprintf("%s %s %s/%s", o.APIVersion(), o.Kind(), o.Namespace(), o.Name())
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("duplicate object %s", id)
		}
		out[id] = v
	}
	return out, nil
}

// sameObjects compares two streams as sets of objects.
func sameObjects(want, got []byte) error {
	w, err := normalize(want)
	if err != nil {
		return fmt.Errorf("want: %w", err)
	}
	g, err := normalize(got)
	if err != nil {
		return fmt.Errorf("got: %w", err)
	}
	var diffs []string
	for id, wv := range w {
		gv, ok := g[id]
		if !ok {
			diffs = append(diffs, "missing "+id)
			continue
		}
		if !reflect.DeepEqual(wv, gv) {
			wj, _ := json.MarshalIndent(wv, "", "  ")
			gj, _ := json.MarshalIndent(gv, "", "  ")
			diffs = append(diffs, fmt.Sprintf("%s differs:\n--- want\n%s\n--- got\n%s", id, wj, gj))
		}
	}
	for id := range g {
		if _, ok := w[id]; !ok {
			diffs = append(diffs, "unexpected "+id)
		}
	}
	if len(w) == 0 {
		diffs = append(diffs, "empty stream")
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		return fmt.Errorf("%d difference(s):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	return nil
}

// TestSabotageKRMCompare: the comparison notices a changed field, a missing
// object and an extra object, and ignores the hosts' bookkeeping.
func TestSabotageKRMCompare(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(env.RepoRoot(), "e2e/testdata/sample/monitor-http.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	withBookkeeping := strings.Replace(string(base), "  name: web-monitor\n  namespace: shop\n  labels: {app.kubernetes.io/managed-by: sidecarize}\ndata:",
		"  name: web-monitor\n  namespace: shop\n  labels: {app.kubernetes.io/managed-by: sidecarize}\n  annotations:\n    config.kubernetes.io/index: '3'\n    internal.config.kubernetes.io/path: x.yaml\ndata:", 1)
	if withBookkeeping == string(base) {
		t.Fatal("sabotage not applicable")
	}
	if err := sameObjects(base, []byte(withBookkeeping)); err != nil {
		t.Errorf("bookkeeping annotations must be ignored: %v", err)
	}
	for name, broken := range map[string]string{
		"changed": strings.Replace(string(base), "bind :9080", "bind :9081", 1),
		"missing": string(base[:bytes.LastIndex(base, []byte("\n---\n"))]),
		"extra":   string(base) + "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n",
	} {
		if broken == string(base) {
			t.Fatalf("%s: sabotage not applicable", name)
		}
		if err := sameObjects(base, []byte(broken)); err == nil {
			t.Errorf("%s: the comparison found no difference", name)
		}
	}
}

// TestKptConfigMapArgs: `kpt fn eval --exec sidecarize -- key=value …`
// sends a ConfigMap functionConfig; its keys are the CLI's flags.
func TestKptConfigMapArgs(t *testing.T) {
	kpt, err := env.Tool("KPT_BIN", "kpt", "")
	if err != nil {
		t.Fatal(err)
	}
	want, err := runSidecarize(t, nil, "-p", "monitor", "--name", "web,checkout", "--set", "monitor.rules=true", "--api-versions", "monitoring.coreos.com/v1", pkgDir)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pkg := filepath.Join(dir, "shop")
	if err := os.Mkdir(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	copyPackage(t, pkg)
	got := run(t, dir, kpt, "fn", "eval", pkg, "--exec", sidecarizeBin(t), "-o", "unwrap", "--",
		"patterns=monitor", "names=web,checkout", "monitor.rules=true", "apiVersions=monitoring.coreos.com/v1")
	if err := sameObjects(want, got); err != nil {
		t.Errorf("kpt fn eval -- key=value differs from the CLI's flags: %v", err)
	}
	// An unknown key is an error naming it, and kpt fails.
	cmd := exec.Command(kpt, "fn", "eval", pkg, "--exec", sidecarizeBin(t), "-o", "unwrap", "--", "patterns=monitor", "nmes=web")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "data.nmes: unknown key") {
		t.Errorf("kpt with an unknown key: want a failure naming data.nmes, got %v\n%s", err, out)
	}
}

// TestKustomizeWithoutExec records the hosts' behaviour the README warns
// about: without --enable-alpha-plugins kustomize refuses the transformer
// (loud); with it but without --enable-exec kustomize skips sidecarize and
// prints the input unchanged (silent: sidecarize never runs, so it cannot
// tell). The README's guard — the built output must carry
// sidecarize.dev/status — tells the two builds apart.
func TestKustomizeWithoutExec(t *testing.T) {
	kustomize, err := env.Tool("KUSTOMIZE_BIN", "kustomize", "KUSTOMIZE_VERSION")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := copyPackage(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "sidecarize.yaml"), fnConfigWithExec(t), 0o644); err != nil {
		t.Fatal(err)
	}
	k := "resources:\n"
	for _, n := range names {
		k += "- " + n + "\n"
	}
	k += "transformers:\n- sidecarize.yaml\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kustomize, "build", ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "external plugins disabled") {
		t.Errorf("kustomize build without flags: want 'external plugins disabled', got %v\n%s", err, out)
	}
	guard := []byte("sidecarize.dev/status")
	noop := run(t, dir, kustomize, "build", "--enable-alpha-plugins", ".")
	if bytes.Contains(noop, guard) || bytes.Contains(noop, []byte("monitor-proxy")) {
		t.Error("kustomize ran the exec function without --enable-exec: update the README")
	}
	real := run(t, dir, kustomize, "build", "--enable-alpha-plugins", "--enable-exec", ".")
	if !bytes.Contains(real, guard) {
		t.Error("the real build has no sidecarize.dev/status: the README's guard would fail it")
	}
}

// TestKustomizeOverlay: a base with a sidecarize transformer, an overlay
// with namePrefix, namespace and a second sidecarize transformer (other
// options, one more pattern). The overlay's run finds the base's generated
// objects (renamed and moved by kustomize) by their label and owner
// annotation and replaces them instead of duplicating them, and the result
// applies. The cases: a plain prefix; a prefix that holds the workload's
// name and a suffix (web → webshop-web-v2); and an overlay whose
// transformer is `sidecarize uninject`, which gives back what the overlay
// builds from the base without any sidecarize transformer.
func TestKustomizeOverlay(t *testing.T) {
	kustomize, err := env.Tool("KUSTOMIZE_BIN", "kustomize", "KUSTOMIZE_VERSION")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, prefix, suffix, ns string
		uninject                 bool
	}{
		{name: "prefix", prefix: "dev-", ns: "dev"},
		{name: "prefix-holding-the-name", prefix: "webshop-", suffix: "-v2", ns: "shop"},
		{name: "uninject", prefix: "webshop-", suffix: "-v2", ns: "shop", uninject: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kustomizeOverlay(t, kustomize, tc.prefix, tc.suffix, tc.ns, tc.uninject)
		})
	}
}

func kustomizeOverlay(t *testing.T, kustomize, prefix, suffix, ns string, uninject bool) {
	dir := t.TempDir()
	base, overlay, plain := filepath.Join(dir, "base"), filepath.Join(dir, "overlay"), filepath.Join(dir, "plain")
	for _, d := range []string{base, overlay, plain} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	names := copyPackage(t, base)
	fn := func(name, args, rules string) []byte {
		return []byte(fmt.Sprintf(`apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata:
  name: %s
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: %s%s
spec:
  apiVersions: [monitoring.coreos.com/v1]
  rules:
%s`, name, sidecarizeBin(t), args, rules))
	}
	write := func(p string, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(base, "sidecarize.yaml"), fn("base", "", "  - select: {names: [web]}\n    monitor: {timeout: 60s}\n"))
	k := "resources:\n"
	for _, n := range names {
		k += "- " + n + "\n"
	}
	write(filepath.Join(base, "kustomization.yaml"), []byte(k+"transformers:\n- sidecarize.yaml\n"))
	web := prefix + "web" + suffix
	args := ""
	if uninject {
		args = "\n        args: [uninject]"
	}
	write(filepath.Join(overlay, "sidecarize.yaml"), fn("overlay", args, "  - select: {names: ["+web+"]}\n    monitor: {timeout: 15s}\n    logs: {files: [/var/log/web/access.log]}\n"))
	rename := "namePrefix: " + prefix + "\nnamespace: " + ns + "\n"
	if suffix != "" {
		rename += "nameSuffix: " + suffix + "\n"
	}
	write(filepath.Join(overlay, "kustomization.yaml"), []byte("resources:\n- ../base\n"+rename+"transformers:\n- sidecarize.yaml\n"))

	out := run(t, dir, kustomize, "build", "--enable-alpha-plugins", "--enable-exec", "overlay")
	if uninject {
		// The same overlay over the base without transformers.
		for _, n := range names {
			data, err := os.ReadFile(filepath.Join(base, n))
			if err != nil {
				t.Fatal(err)
			}
			write(filepath.Join(plain, n), data)
		}
		write(filepath.Join(plain, "kustomization.yaml"), []byte(k+rename))
		want := run(t, dir, kustomize, "build", "plain")
		if err := sameObjects(want, out); err != nil {
			t.Errorf("uninject through the overlay is not the overlay of the plain base: %v", err)
		}
		if bytes.Contains(out, []byte("sidecarize")) {
			t.Errorf("uninject through the overlay left sidecarize's traces:\n%s", out)
		}
		return
	}
	objs, err := manifest.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var monitorCfg string
	for _, o := range objs {
		seen[o.Kind()+" "+o.Namespace()+"/"+o.Name()]++
		if o.Kind() == "ConfigMap" && o.Name() == web+"-monitor" {
			monitorCfg = manifest.Str(o, "data", "haproxy.cfg")
		}
		if o.Namespace() != ns && o.Namespace() != "" {
			t.Errorf("%s %s/%s: not moved to the overlay's namespace", o.Kind(), o.Namespace(), o.Name())
		}
		if o.Kind() == "ConfigMap" && manifest.Str(o, "metadata", "annotations", "sidecarize.dev/owner") == "Deployment/web" {
			t.Errorf("ConfigMap %s: the base's, left beside the overlay's", o.Name())
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s appears %d times", id, n)
		}
	}
	for _, want := range []string{"ConfigMap " + ns + "/" + web + "-monitor", "ConfigMap " + ns + "/" + web + "-logs", "Deployment " + ns + "/" + web} {
		if seen[want] == 0 {
			t.Errorf("missing %s (have %v)", want, seen)
		}
	}
	if old := prefix + "web-monitor" + suffix; old != web+"-monitor" && seen["ConfigMap "+ns+"/"+old] > 0 {
		t.Errorf("the base's ConfigMap survived as %s", old)
	}
	if !strings.Contains(monitorCfg, "timeout client 15s") {
		t.Errorf("the web's monitor config is not the overlay's (timeout 15s):\n%s", monitorCfg)
	}
	// Every ConfigMap a pod mounts exists.
	for _, o := range objs {
		tmpl := o.PodTemplate()
		if tmpl == nil {
			continue
		}
		for _, v := range manifest.Slice(tmpl, "spec", "volumes") {
			if cm := manifest.Str(v.(map[string]any), "configMap", "name"); cm != "" && seen["ConfigMap "+o.Namespace()+"/"+cm] == 0 {
				t.Errorf("%s %s mounts ConfigMap %s, which is not in the output", o.Kind(), o.Name(), cm)
			}
		}
	}
	c := kube(t)
	if err := checkApply(ctxFor(t, 2*time.Minute), c, out); err != nil {
		t.Errorf("the overlay's output does not apply: %v", err)
	}
}
