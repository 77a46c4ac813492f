package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The CI integrations (.pre-commit-hooks.yaml, action.yml) are tested by
// running their commands as pre-commit and the GitHub runner would, on a
// repository with app/ → out/: 0 when out/ is current, 3 when it is stale.

const ciDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - {name: api, image: "nginx:1.27", ports: [{name: http, containerPort: PORT}]}
`

const ciConfig = `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: ci}
spec:
  rules:
    - monitor: {}
`

// ciRepo makes a user repository with app/, sidecarize.yaml and out/
// rendered by bin.
func ciRepo(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "app"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "app", "api.yaml"), []byte(strings.ReplaceAll(ciDeployment, "PORT", "8080")), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "sidecarize.yaml"), []byte(ciConfig), 0o644))
	cmd := exec.Command(bin, "-c", "sidecarize.yaml", "app/", "-o", "out/")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rendering out/: %v\n%s", err, out)
	}
	return dir
}

// makeStale changes app/ without re-rendering out/.
func makeStale(t *testing.T, repo string) {
	must(t, os.WriteFile(filepath.Join(repo, "app", "api.yaml"), []byte(strings.ReplaceAll(ciDeployment, "PORT", "8081")), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func TestPreCommitHook(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the repository")
	}
	root, err := filepath.Abs("..")
	must(t, err)
	b, err := os.ReadFile(filepath.Join(root, ".pre-commit-hooks.yaml"))
	must(t, err)
	var hooks []struct {
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		Description   string   `json:"description"`
		Entry         string   `json:"entry"`
		Args          []string `json:"args"`
		Language      string   `json:"language"`
		PassFilenames *bool    `json:"pass_filenames"`
		Files         string   `json:"files"`
	}
	must(t, yaml.UnmarshalStrict(b, &hooks))
	if len(hooks) == 0 {
		t.Fatal("no hooks")
	}
	// pre-commit's golang language: `go install ./...` in the hook's
	// repository, the binaries on PATH.
	gobin := t.TempDir()
	install := exec.Command("go", "install", "./...")
	install.Dir = root
	install.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install ./...: %v\n%s", err, out)
	}
	for _, h := range hooks {
		t.Run(h.ID, func(t *testing.T) {
			if h.Language != "golang" {
				t.Fatalf("language %q: this test runs golang hooks", h.Language)
			}
			if h.PassFilenames == nil || *h.PassFilenames {
				t.Fatal("pass_filenames must be false: the hook checks the whole app/ → out/ tree")
			}
			if _, err := regexp.Compile(h.Files); err != nil {
				t.Fatalf("files: %v", err)
			}
			argv := append(strings.Fields(h.Entry), h.Args...)
			bin := filepath.Join(gobin, argv[0])
			repo := ciRepo(t, bin)
			run := func() (int, string) {
				cmd := exec.Command(bin, argv[1:]...)
				cmd.Dir = repo
				out, err := cmd.CombinedOutput()
				return exitCode(err), string(out)
			}
			if code, out := run(); code != 0 || !strings.Contains(out, "unchanged") {
				t.Fatalf("fresh out/: exit %d, want 0 and unchanged:\n%s", code, out)
			}
			makeStale(t, repo)
			if code, out := run(); code != 3 || !strings.Contains(out, "out/api.yaml would change") {
				t.Fatalf("stale out/: exit %d, want 3 and out/api.yaml would change:\n%s", code, out)
			}
		})
	}
}

// action is the part of action.yml the runner reads.
type action struct {
	Inputs map[string]struct {
		Default string `json:"default"`
	} `json:"inputs"`
	Runs struct {
		Using string `json:"using"`
		Steps []struct {
			Name             string            `json:"name"`
			Uses             string            `json:"uses"`
			With             map[string]string `json:"with"`
			Shell            string            `json:"shell"`
			Run              string            `json:"run"`
			Env              map[string]string `json:"env"`
			WorkingDirectory string            `json:"working-directory"`
		} `json:"steps"`
	} `json:"runs"`
}

var expr = regexp.MustCompile(`\$\{\{\s*([a-z_.-]+)\s*\}\}`)

// TestAction runs action.yml's `run:` steps as the GitHub runner does for a
// composite action (bash --noprofile --norc -eo pipefail, ${{ inputs.* }}
// and ${{ github.action_path }} substituted, GITHUB_PATH honoured). The
// `uses: actions/setup-go` step cannot run here; the Go on PATH stands in
// for it, and its go-version-file is checked to exist.
func TestAction(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the repository")
	}
	root, err := filepath.Abs("..")
	must(t, err)
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	must(t, err)
	var a action
	must(t, yaml.Unmarshal(b, &a))
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using %q, want composite", a.Runs.Using)
	}
	tmp := t.TempDir()
	runAction := func(repo string, inputs map[string]string) (int, string) {
		subst := func(s string) string {
			return expr.ReplaceAllStringFunc(s, func(m string) string {
				key := expr.FindStringSubmatch(m)[1]
				switch {
				case key == "github.action_path":
					return root
				case strings.HasPrefix(key, "inputs."):
					name := strings.TrimPrefix(key, "inputs.")
					in, ok := a.Inputs[name]
					if !ok {
						t.Fatalf("action.yml uses undeclared input %q", name)
					}
					if v, ok := inputs[name]; ok {
						return v
					}
					return in.Default
				}
				t.Fatalf("action.yml uses %s, which this test does not provide", m)
				return ""
			})
		}
		ghPath := filepath.Join(tmp, "github_path")
		must(t, os.WriteFile(ghPath, nil, 0o644))
		var log bytes.Buffer
		for _, s := range a.Runs.Steps {
			if s.Uses != "" {
				if !strings.HasPrefix(s.Uses, "actions/setup-go@") {
					t.Fatalf("step %q uses %s: only actions/setup-go is stood in for", s.Name, s.Uses)
				}
				if f := subst(s.With["go-version-file"]); f != "" {
					if _, err := os.Stat(f); err != nil {
						t.Fatalf("setup-go go-version-file: %v", err)
					}
				}
				continue
			}
			if s.Shell != "bash" {
				t.Fatalf("step %q: shell %q; composite steps need shell: bash", s.Name, s.Shell)
			}
			script := filepath.Join(tmp, "step.sh")
			must(t, os.WriteFile(script, []byte(subst(s.Run)), 0o644))
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
			cmd.Dir = repo
			if wd := subst(s.WorkingDirectory); wd != "" {
				cmd.Dir = filepath.Join(repo, wd)
			}
			paths, err := os.ReadFile(ghPath)
			must(t, err)
			path := os.Getenv("PATH")
			for _, p := range strings.Fields(string(paths)) {
				path = p + string(os.PathListSeparator) + path
			}
			cmd.Env = append(os.Environ(), "GITHUB_PATH="+ghPath, "RUNNER_TEMP="+tmp, "PATH="+path)
			for k, v := range s.Env {
				cmd.Env = append(cmd.Env, k+"="+subst(v))
			}
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Run(); err != nil {
				return exitCode(err), log.String()
			}
		}
		return 0, log.String()
	}

	// out/ is rendered by the binary the action builds.
	code, out := runAction(t.TempDir(), map[string]string{"args": "version"})
	if code != 0 {
		t.Fatalf("action with args=version: exit %d\n%s", code, out)
	}
	bin := filepath.Join(tmp, "sidecarize-action-bin", "sidecarize")
	repo := ciRepo(t, bin)
	if code, out := runAction(repo, nil); code != 0 || !strings.Contains(out, "unchanged") {
		t.Fatalf("fresh out/ with the default args: exit %d, want 0 and unchanged:\n%s", code, out)
	}
	makeStale(t, repo)
	code, out = runAction(repo, nil)
	for _, want := range []string{"out/api.yaml would change", "--- a/out/api.yaml", "::error title=sidecarize::"} {
		if !strings.Contains(out, want) {
			t.Errorf("stale out/: output lacks %q", want)
		}
	}
	if code != 3 {
		t.Errorf("stale out/: exit %d, want 3\n%s", code, out)
	}
}
