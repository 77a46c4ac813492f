package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
)

// gitopsApp lays out an application directory the way the README's GitOps
// section has it: the KRM test package plus its config as sidecarize.yaml.
func gitopsApp(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyPackage(t, dir)
	cfg, err := os.ReadFile(filepath.Join(env.RepoRoot(), pkgConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sidecarize.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pathWithSidecarize is PATH with the binary under test first, as the
// image has it.
func pathWithSidecarize(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(sidecarizeBin(t), filepath.Join(dir, "sidecarize")); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

type cmpPlugin struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Discover struct {
			FileName string `yaml:"fileName"`
		} `yaml:"discover"`
		Generate struct {
			Command []string `yaml:"command"`
			Args    []string `yaml:"args"`
		} `yaml:"generate"`
	} `yaml:"spec"`
}

// TestArgoCDPlugin runs gitops/argocd/plugin.yaml's discover and generate as
// Argo CD's cmp-server does (the command in the application's directory,
// its stdout the manifests): the output is the CLI's, without the config,
// and applies. The ConfigMap in cmp-configmap.yaml holds the same plugin.
func TestArgoCDPlugin(t *testing.T) {
	root := filepath.Join(env.RepoRoot(), "gitops", "argocd")
	data, err := os.ReadFile(filepath.Join(root, "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p cmpPlugin
	if err := yaml.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != "argoproj.io/v1alpha1" || p.Kind != "ConfigManagementPlugin" || p.Metadata.Name == "" {
		t.Fatalf("plugin.yaml: not a ConfigManagementPlugin: %+v", p)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	cmData, err := os.ReadFile(filepath.Join(root, "cmp-configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(cmData, &cm); err != nil {
		t.Fatal(err)
	}
	var inCM cmpPlugin
	if err := yaml.Unmarshal([]byte(cm.Data["plugin.yaml"]), &inCM); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, inCM) {
		t.Errorf("cmp-configmap.yaml's plugin.yaml differs from plugin.yaml:\n%+v\n%+v", inCM, p)
	}

	app := filepath.Join(t.TempDir(), "shop")
	gitopsApp(t, app)
	if _, err := os.Stat(filepath.Join(app, p.Spec.Discover.FileName)); err != nil {
		t.Fatalf("discover.fileName %q does not find the application: %v", p.Spec.Discover.FileName, err)
	}
	argv := append(append([]string{}, p.Spec.Generate.Command...), p.Spec.Generate.Args...)
	// The command is looked up on the sidecar's PATH (the image's), here
	// the binary under test.
	pathEnv := pathWithSidecarize(t)
	bin := ""
	for _, d := range filepath.SplitList(strings.TrimPrefix(pathEnv, "PATH=")) {
		if _, err := os.Stat(filepath.Join(d, argv[0])); err == nil {
			bin = filepath.Join(d, argv[0])
			break
		}
	}
	if bin == "" {
		t.Fatalf("generate command %q not on PATH", argv[0])
	}
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Dir = app
	cmd.Env = append(os.Environ(), pathEnv, "ARGOCD_APP_NAME=shop", "ARGOCD_APP_NAMESPACE=shop")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("generate %v: %v", argv, err)
	}
	if strings.Contains(string(out), "kind: Sidecarize") {
		t.Error("the generated manifests contain the sidecarize.yaml config")
	}
	if err := sameObjects(packageOutput(t), out); err != nil {
		t.Errorf("the plugin's output differs from the CLI's: %v", err)
	}
	if err := checkApply(ctxFor(t, 2*time.Minute), kube(t), out); err != nil {
		t.Errorf("the plugin's output does not apply: %v", err)
	}
}

// TestFluxCommittedOutput: the Flux way. out/ is rendered and committed;
// gitops/flux/ci-check.sh passes while it is current and exits 3 once app/
// changes without re-rendering. out/ never holds the config.
func TestFluxCommittedOutput(t *testing.T) {
	repo := t.TempDir()
	gitopsApp(t, filepath.Join(repo, "app"))
	if err := os.Rename(filepath.Join(repo, "app", "sidecarize.yaml"), filepath.Join(repo, "sidecarize.yaml")); err != nil {
		t.Fatal(err)
	}
	pathEnv := pathWithSidecarize(t)
	script := filepath.Join(env.RepoRoot(), "gitops", "flux", "ci-check.sh")
	sh := func(args ...string) int {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), pathEnv)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return 0
	}
	if code := sh(sidecarizeBin(t), "-c", "sidecarize.yaml", "app/", "-o", "out/"); code != 0 {
		t.Fatalf("render: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(repo, "out", "web.yaml")); err != nil {
		t.Fatalf("out/ was not rendered: %v", err)
	}
	if code := sh("sh", script); code != 0 {
		t.Errorf("ci-check.sh on a current out/: exit %d, want 0", code)
	}
	web := filepath.Join(repo, "app", "web.yaml")
	data, err := os.ReadFile(web)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(data), "replicas: 3", "replicas: 4", 1)
	if changed == string(data) {
		t.Fatal("web.yaml has no `replicas: 3` to change")
	}
	if err := os.WriteFile(web, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := sh("sh", script); code != 3 {
		t.Errorf("ci-check.sh after app/ changed: exit %d, want 3", code)
	}
}

// TestArgoCDCMPServer runs gitops/argocd/plugin.yaml in Argo CD's own
// argocd-cmp-server (built from argo-cd v2.14.21, e2e/argocd), driven over
// its unix socket with Argo CD's client code as the repo-server drives it
// (e2e/argocd/cmd/cmpclient): discover matches an application with a
// sidecarize.yaml and not one without; generate gives the CLI's output.
func TestArgoCDCMPServer(t *testing.T) {
	server, err := env.Tool("ARGOCD_CMP_SERVER_BIN", "argocd-cmp-server", "ARGOCD_VERSION")
	if err != nil {
		t.Fatal(err)
	}
	client, err := env.Tool("ARGOCD_CMPCLIENT_BIN", "argocd-cmpclient", "ARGOCD_VERSION")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config, plugins, work := filepath.Join(dir, "config"), filepath.Join(dir, "plugins"), filepath.Join(dir, "work")
	for _, d := range []string{config, plugins, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	plugin, err := os.ReadFile(filepath.Join(env.RepoRoot(), "gitops", "argocd", "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(config, "plugin.yaml"), plugin, 0o644); err != nil {
		t.Fatal(err)
	}
	// As in the sidecar: the plugin's command on PATH, the config at
	// --config-dir-path, the socket in ARGOCD_PLUGINSOCKFILEPATH.
	srv := exec.Command(server, "--config-dir-path", config)
	srv.Env = append(os.Environ(), pathWithSidecarize(t), "ARGOCD_PLUGINSOCKFILEPATH="+plugins, "ARGOCD_CMP_WORKDIR="+work)
	var srvLog strings.Builder
	srv.Stdout, srv.Stderr = &srvLog, &srvLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("argocd-cmp-server log:\n%s", srvLog.String())
		}
	})
	socket := filepath.Join(plugins, "sidecarize.sock")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("argocd-cmp-server made no %s in a minute", socket)
		}
	}

	repo := t.TempDir()
	gitopsApp(t, filepath.Join(repo, "apps", "shop"))
	plain := filepath.Join(repo, "apps", "plain")
	if err := os.MkdirAll(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	copyPackage(t, plain)
	cmp := func(app string) ([]byte, int) {
		cmd := exec.Command(client, "-socket", socket, "-repo", repo, "-app", app)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			return []byte(stderr.String()), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out, 0
	}
	if msg, code := cmp(plain); code != 3 {
		t.Errorf("an application without sidecarize.yaml: exit %d, want 3 (discover does not match): %s", code, msg)
	}
	out, code := cmp(filepath.Join(repo, "apps", "shop"))
	if code != 0 {
		t.Fatalf("generate through argocd-cmp-server: exit %d: %s", code, out)
	}
	if strings.Contains(string(out), "kind: Sidecarize") {
		t.Error("the generated manifests contain the sidecarize.yaml config")
	}
	// The CLI's output, which TestArgoCDPlugin and TestPackage apply.
	if err := sameObjects(packageOutput(t), out); err != nil {
		t.Errorf("argocd-cmp-server's output differs from the CLI's: %v", err)
	}
}
