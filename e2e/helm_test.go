package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// The Helm front ends, run by the real hosts: helm v3 (the post-renderer is
// an executable) and helm v4 (the post-renderer is a plugin, helm/sidecarize
// in the repository), both built from the Go module proxy
// (scripts/e2e/build-tools.sh helm). The charts: e2e/testdata/helm/shop (an
// app, its Service, a pre-install migration hook Job) and metrics-server's
// own chart from its Go module (sigs.k8s.io/metrics-server).
const helmTestdata = "e2e/testdata/helm"

// helmHost is one Helm binary with a private home (plugins, cache, config).
type helmHost struct {
	bin  string
	home string
	v4   bool
}

func newHelm(t *testing.T, v4 bool) *helmHost {
	t.Helper()
	key, envVar := "HELM3_VERSION", "HELM3_BIN"
	if v4 {
		key, envVar = "HELM4_VERSION", "HELM4_BIN"
	}
	bin, err := env.Tool(envVar, "helm", key)
	if err != nil {
		t.Fatal(err)
	}
	return &helmHost{bin: bin, home: t.TempDir(), v4: v4}
}

// run runs helm; extraEnv is added to the environment.
func (h *helmHost) run(t *testing.T, extraEnv []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(h.bin, args...)
	cmd.Dir = env.RepoRoot()
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_PLUGINS="+filepath.Join(h.home, "data", "plugins"), // where helm plugin install puts them
		"KUBECONFIG="+filepath.Join(h.home, "no-kubeconfig"),
		"SIDECARIZE_CONFIG=",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func (h *helmHost) must(t *testing.T, extraEnv []string, args ...string) string {
	t.Helper()
	out, errOut, err := h.run(t, extraEnv, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// installPlugin installs helm/sidecarize (its plugin.yaml as committed) with
// the binary under test where plugin.yaml's platformCommand looks for it.
func (h *helmHost) installPlugin(t *testing.T) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sidecarize")
	exe := "sidecarize"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	binDir := filepath.Join(dir, "bin", runtime.GOOS+"-"+runtime.GOARCH)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pluginYAML, err := os.ReadFile(filepath.Join(env.RepoRoot(), "helm", "sidecarize", "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.yaml"), pluginYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(sidecarizeBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(binDir, exe), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	h.must(t, nil, "plugin", "install", dir)
	if out := h.must(t, nil, "plugin", "list"); !strings.Contains(out, "sidecarize") || !strings.Contains(out, "postrenderer/v1") {
		t.Fatalf("helm plugin list does not show the postrenderer/v1 plugin:\n%s", out)
	}
}

// postRenderer is the --post-renderer value: the binary (Helm 3) or the
// plugin's name (Helm 4).
func (h *helmHost) postRenderer(t *testing.T) string {
	if h.v4 {
		return "sidecarize"
	}
	return sidecarizeBin(t)
}

// template runs `helm template` with sidecarize as the post-renderer and
// the config passed with --post-renderer-args.
func (h *helmHost) template(t *testing.T, chart, config string, extra ...string) (string, string, error) {
	t.Helper()
	args := []string{"template", "r1", chart, "--namespace", "shop", "--post-renderer", h.postRenderer(t),
		"--post-renderer-args", "-c", "--post-renderer-args", filepath.Join(env.RepoRoot(), helmTestdata, config)}
	return h.run(t, nil, append(args, extra...)...)
}

func objectsByKindName(t *testing.T, out string) map[string]manifest.Object {
	t.Helper()
	objs, err := manifest.Parse([]byte(out))
	if err != nil {
		t.Fatalf("parse helm output: %v\n%s", err, out)
	}
	m := map[string]manifest.Object{}
	for _, o := range objs {
		m[o.Kind()+"/"+o.Name()] = o
	}
	return m
}

func containerNames(o manifest.Object) []string {
	var names []string
	tmpl := o.PodTemplate()
	for _, list := range []string{"initContainers", "containers"} {
		for _, c := range manifest.Slice(tmpl, "spec", list) {
			if m, ok := c.(map[string]any); ok {
				names = append(names, manifest.Str(m, "name"))
			}
		}
	}
	return names
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkShopInjected: the app is injected, its ConfigMap is there, the
// Service reaches the proxy.
func checkShopInjected(t *testing.T, out string) map[string]manifest.Object {
	t.Helper()
	objs := objectsByKindName(t, out)
	dep, ok := objs["Deployment/r1-shop"]
	if !ok {
		t.Fatalf("no Deployment r1-shop in the output:\n%s", out)
	}
	if !has(containerNames(dep), "monitor-proxy") {
		t.Errorf("Deployment r1-shop has no monitor-proxy: %v", containerNames(dep))
	}
	if _, ok := objs["ConfigMap/r1-shop-monitor"]; !ok {
		t.Errorf("no generated ConfigMap r1-shop-monitor")
	}
	svc := objs["Service/r1-shop"]
	if tp := fmt.Sprint(manifest.Get(svc, "spec", "ports").([]any)[0].(map[string]any)["targetPort"]); tp != "mon-proxy" {
		t.Errorf("Service r1-shop targetPort = %s, want mon-proxy", tp)
	}
	return objs
}

func TestHelm3PostRenderer(t *testing.T) {
	h := newHelm(t, false)
	chart := filepath.Join(env.RepoRoot(), helmTestdata, "shop")

	t.Run("template", func(t *testing.T) {
		out, errOut, err := h.template(t, chart, "sidecarize.yaml")
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, errOut)
		}
		checkShopInjected(t, out)
		c := kube(t)
		if err := checkApply(ctxFor(t, 2*time.Minute), c, []byte(out)); err != nil {
			t.Errorf("the post-rendered chart does not apply: %v", err)
		}
	})
	t.Run("config from SIDECARIZE_CONFIG", func(t *testing.T) {
		out := h.must(t, []string{"SIDECARIZE_CONFIG=" + filepath.Join(env.RepoRoot(), helmTestdata, "sidecarize.yaml")},
			"template", "r1", chart, "--post-renderer", sidecarizeBin(t))
		checkShopInjected(t, out)
	})
	t.Run("install --dry-run=client", func(t *testing.T) {
		// Helm 3 asks the cluster for its version even on a client dry run:
		// the suite's kube-apiserver answers.
		kubeconfig := []string{"KUBECONFIG=" + kube(t).Kubeconfig}
		out := h.must(t, kubeconfig, "install", "r1", chart, "--namespace", "shop", "--dry-run=client", "--post-renderer", sidecarizeBin(t),
			"--post-renderer-args", "-c", "--post-renderer-args", filepath.Join(env.RepoRoot(), helmTestdata, "sidecarize.yaml"))
		if !strings.Contains(out, "name: monitor-proxy") {
			t.Errorf("install --dry-run=client: no monitor-proxy in the manifest:\n%s", out)
		}
	})
	t.Run("hooks are not post-rendered", func(t *testing.T) {
		// Helm 3 does not pass hooks to post-renderers: a rule selecting the
		// hook Job cannot reach it, and the Job comes out as the chart has it.
		out, errOut, err := h.template(t, chart, "sidecarize-hook.yaml")
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, errOut)
		}
		objs := checkShopInjected(t, out)
		job, ok := objs["Job/r1-shop-migrate"]
		if !ok {
			t.Fatal("no hook Job in the output")
		}
		if names := containerNames(job); has(names, "logs-adapter") {
			t.Errorf("Helm 3 post-rendered the hook Job: %v", names)
		}
		if _, ok := objs["ConfigMap/r1-shop-migrate-logs"]; ok {
			t.Error("a ConfigMap for the hook Job appeared under Helm 3")
		}
	})
	t.Run("error", func(t *testing.T) {
		out, errOut, err := h.template(t, chart, "sidecarize-bad.yaml")
		if err == nil {
			t.Fatalf("helm template succeeded with a bad config:\n%s", out)
		}
		// Helm 3 prints the post-renderer's stderr.
		for _, want := range []string{"Deployment r1-shop", `"grpc"`} {
			if !strings.Contains(errOut, want) {
				t.Errorf("Helm 3's error does not say %q:\n%s", want, errOut)
			}
		}
	})
	t.Run("metrics-server chart", func(t *testing.T) { helmMetricsServer(t, h) })
}

func TestHelm4PostRendererPlugin(t *testing.T) {
	h := newHelm(t, true)
	chart := filepath.Join(env.RepoRoot(), helmTestdata, "shop")

	// Without the plugin, Helm 4 refuses a path (the README's Helm 3
	// command): the failure the README warns about.
	if _, errOut, err := h.run(t, nil, "template", "r1", chart, "--post-renderer", sidecarizeBin(t)); err == nil || !strings.Contains(errOut, "not found") {
		t.Errorf("Helm 4 with a binary path: want a 'plugin … not found' error, got %v\n%s", err, errOut)
	}
	h.installPlugin(t)

	t.Run("template", func(t *testing.T) {
		out, errOut, err := h.template(t, chart, "sidecarize.yaml")
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, errOut)
		}
		checkShopInjected(t, out)
		if strings.Contains(out, "postrenderer.helm.sh/") {
			t.Error("Helm 4's filename annotations leaked into the output")
		}
		c := kube(t)
		if err := checkApply(ctxFor(t, 2*time.Minute), c, []byte(out)); err != nil {
			t.Errorf("the post-rendered chart does not apply: %v", err)
		}
	})
	t.Run("install --dry-run=client", func(t *testing.T) {
		out := h.must(t, nil, "install", "r1", chart, "--namespace", "shop", "--dry-run=client", "--post-renderer", "sidecarize",
			"--post-renderer-args", "-c", "--post-renderer-args", filepath.Join(env.RepoRoot(), helmTestdata, "sidecarize-hook.yaml"))
		hooks, manifests, ok := strings.Cut(out, "\nMANIFEST:\n")
		if !ok {
			t.Fatalf("no MANIFEST section:\n%s", out)
		}
		// Helm sorted the hook Job's generated ConfigMap into the hooks.
		if !strings.Contains(hooks, "name: r1-shop-migrate-logs") {
			t.Errorf("the hook Job's ConfigMap is not among Helm's hooks:\n%s", hooks)
		}
		if !strings.Contains(manifests, "name: monitor-proxy") || strings.Contains(manifests, "r1-shop-migrate") {
			t.Errorf("MANIFEST: want the injected app and no hook objects:\n%s", manifests)
		}
	})
	t.Run("hooks", func(t *testing.T) {
		// Helm 4 post-renders hooks: the selected hook Job is injected and
		// its generated ConfigMap is a hook of the same events, weight 4 (the
		// Job's 5 minus one), same delete policy.
		out, errOut, err := h.template(t, chart, "sidecarize-hook.yaml")
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, errOut)
		}
		objs := checkShopInjected(t, out)
		job := objs["Job/r1-shop-migrate"]
		if names := containerNames(job); !has(names, "logs-adapter") {
			t.Errorf("the hook Job is not injected: %v", names)
		}
		cm, ok := objs["ConfigMap/r1-shop-migrate-logs"]
		if !ok {
			t.Fatalf("no ConfigMap for the hook Job:\n%s", out)
		}
		anns := manifest.Map(cm, "metadata", "annotations")
		want := map[string]string{
			"helm.sh/hook":               "pre-install,pre-upgrade",
			"helm.sh/hook-weight":        "4",
			"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
		}
		for k, v := range want {
			if got, _ := anns[k].(string); got != v {
				t.Errorf("ConfigMap r1-shop-migrate-logs: %s = %q, want %q", k, got, v)
			}
		}
		// The app's generated objects are not hooks.
		if a := manifest.Map(objs["ConfigMap/r1-shop-monitor"], "metadata", "annotations"); a["helm.sh/hook"] != nil {
			t.Errorf("the app's ConfigMap became a hook: %v", a)
		}
		// The default config selects only Deployments: the hook Job stays
		// as the chart has it.
		out, errOut, err = h.template(t, chart, "sidecarize.yaml")
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, errOut)
		}
		if names := containerNames(objectsByKindName(t, out)["Job/r1-shop-migrate"]); has(names, "logs-adapter") {
			t.Errorf("the hook Job was injected without a rule selecting it: %v", names)
		}
	})
	t.Run("error", func(t *testing.T) {
		out, errOut, err := h.template(t, chart, "sidecarize-bad.yaml")
		if err == nil {
			t.Fatalf("helm template succeeded with a bad config:\n%s", out)
		}
		// Helm 4 drops the plugin's stderr; the message still reaches the
		// user through Helm's own error.
		for _, want := range []string{"sidecarize failed", "Deployment r1-shop", `"grpc"`} {
			if !strings.Contains(errOut, want) {
				t.Errorf("Helm 4's error does not say %q:\n%s", want, errOut)
			}
		}
		if strings.Contains(out, "kind: Deployment") {
			t.Errorf("Helm 4 printed manifests although the post-renderer failed:\n%s", out)
		}
	})
	t.Run("metrics-server chart", func(t *testing.T) { helmMetricsServer(t, h) })
	t.Run("release archive", func(t *testing.T) {
		// scripts/helm-plugin.sh archive, for the host's platform only, then
		// `helm plugin install --verify=false <archive>` in a fresh home.
		if testing.Short() {
			t.Skip("builds sidecarize")
		}
		archive := filepath.Join(t.TempDir(), "helm-sidecarize-0.0.1.tgz")
		cmd := exec.Command(filepath.Join(env.RepoRoot(), "scripts", "helm-plugin.sh"), "archive")
		cmd.Dir = env.RepoRoot()
		cmd.Env = append(os.Environ(), "VERSION=v0.0.1", "PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH, "OUT="+archive)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm-plugin.sh archive: %v\n%s", err, out)
		}
		h2 := &helmHost{bin: h.bin, home: t.TempDir(), v4: true}
		h2.must(t, nil, "plugin", "install", "--verify=false", archive)
		if out := h2.must(t, nil, "plugin", "list"); !strings.Contains(out, "0.0.1") {
			t.Errorf("plugin list does not show version 0.0.1 from the archive:\n%s", out)
		}
		out, errOut, err := h2.template(t, chart, "sidecarize.yaml")
		if err != nil {
			t.Fatalf("helm template with the archive's plugin: %v\n%s", err, errOut)
		}
		checkShopInjected(t, out)
	})
}

// helmMetricsServer: a real chart (metrics-server's, from its Go module),
// its Deployment behind a TCP monitor proxy (the port speaks HTTPS); the
// result applies to the real kube-apiserver.
func helmMetricsServer(t *testing.T, h *helmHost) {
	ver, err := env.Version("METRICS_SERVER_VERSION")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "mod", "download", "-json", "sigs.k8s.io/metrics-server@"+ver)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download sigs.k8s.io/metrics-server@%s: %v", ver, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(data, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: no Dir in %s", data)
	}
	chart := filepath.Join(mod.Dir, "charts", "metrics-server")
	cfg := filepath.Join(t.TempDir(), "sidecarize.yaml")
	if err := os.WriteFile(cfg, []byte(`apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: metrics-server}
spec:
  apiVersions: [monitoring.coreos.com/v1]
  rules:
    - select: {kinds: [Deployment]}
      monitor: {protocol: tcp, port: https}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := h.must(t, nil, "template", "ms", chart, "--namespace", "kube-system", "--post-renderer", h.postRenderer(t),
		"--post-renderer-args", "-c", "--post-renderer-args", cfg)
	objs := objectsByKindName(t, out)
	dep, ok := objs["Deployment/ms-metrics-server"]
	if !ok {
		t.Fatalf("no Deployment ms-metrics-server:\n%s", out)
	}
	if !has(containerNames(dep), "monitor-proxy") {
		t.Errorf("metrics-server is not injected: %v", containerNames(dep))
	}
	if _, ok := objs["ServiceMonitor/ms-metrics-server-monitor"]; !ok {
		t.Errorf("no ServiceMonitor (apiVersions lists monitoring.coreos.com/v1)")
	}
	if _, ok := objs["APIService/v1beta1.metrics.k8s.io"]; !ok {
		t.Errorf("the chart's APIService is missing from the output")
	}
	c := kube(t)
	if err := checkApply(ctxFor(t, 2*time.Minute), c, []byte(out)); err != nil {
		t.Errorf("the post-rendered metrics-server chart does not apply: %v", err)
	}
}
