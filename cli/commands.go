package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sidecarize/sidecarize/internal/schema"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// Commit and Date are set at build time by the release build (goreleaser:
// -X …/cli.Commit={{.Commit}} -X …/cli.Date={{.Date}}); otherwise they come
// from the Go build info (vcs.revision, vcs.time) when the binary was built
// from a git checkout with VCS stamping on.
var (
	Commit = ""
	Date   = ""
)

// buildInfo is what `sidecarize version` prints.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Date     string `json:"date,omitempty"`
	Module   string `json:"module,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// readBuildInfo combines the link-time variables with debug.ReadBuildInfo:
// `go install github.com/sidecarize/sidecarize/cmd/sidecarize@v1.2.3`
// stamps the module version, a git checkout build stamps the commit.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: Version, Commit: Commit, Date: Date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Module = bi.Main.Path
	if Version == defaultVersion && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.time":
			if b.Date == "" {
				b.Date = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && Commit == "" && b.Commit != "" {
		b.Commit += "-dirty"
	}
	return b
}

// version is the version recorded in the status annotation and printed by
// `version`.
func version() string { return readBuildInfo().Version }

func runVersion(c *cli.Context) error {
	b := readBuildInfo()
	switch c.String("output") {
	case "json":
		out, err := json.MarshalIndent(b, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.App.Writer, "%s\n", out)
		return err
	case "", "text":
		var extra []string
		for _, kv := range [][2]string{{"commit", b.Commit}, {"built", b.Date}} {
			if kv[1] != "" {
				extra = append(extra, kv[0]+" "+kv[1])
			}
		}
		extra = append(extra, b.Go, b.Platform)
		_, err := fmt.Fprintf(c.App.Writer, "%s (%s)\n", b.Version, strings.Join(extra, ", "))
		return err
	}
	return usageErr("version -o %q: must be text or json", c.String("output"))
}

// runCompletion prints a shell completion script. bash and zsh ask the
// binary for candidates (urfave/cli's --generate-bash-completion); fish
// gets urfave/cli's generated static script.
func runCompletion(c *cli.Context) error {
	shell := c.Args().First()
	if c.NArg() != 1 {
		return usageErr("completion: give one shell: bash, zsh or fish")
	}
	prog := progName()
	var script string
	switch shell {
	case "bash":
		script = strings.ReplaceAll(bashCompletion, "PROG", prog)
	case "zsh":
		script = strings.ReplaceAll(zshCompletion, "PROG", prog)
	case "fish":
		s, err := c.App.ToFishCompletion()
		if err != nil {
			return err
		}
		script = s
	default:
		return usageErr("completion %q: unknown shell (bash, zsh or fish)", shell)
	}
	_, err := io.WriteString(c.App.Writer, script)
	return err
}

// progName is how the binary was called: sidecarize, or kubectl-sidecarize
// as a kubectl plugin.
func progName() string {
	if len(os.Args) > 0 {
		if b := baseName(os.Args[0]); strings.Contains(b, "sidecarize") {
			return b
		}
	}
	return "sidecarize"
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	return strings.TrimSuffix(p, ".exe")
}

const bashCompletion = `# bash completion for PROG: source <(PROG completion bash)
_PROG_complete() {
  local cur prev opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    -c|--config|-o|--output) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    --report) COMPREPLY=($(compgen -W "text json none" -- "$cur")); return 0 ;;
    --native-sidecars) COMPREPLY=($(compgen -W "auto true false" -- "$cur")); return 0 ;;
    -p|--pattern) COMPREPLY=($(compgen -W "$(PROG patterns --names 2>/dev/null)" -- "$cur")); return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
    COMPREPLY=($(compgen -W "$opts" -- "$cur") $(compgen -f -- "$cur"))
  fi
  return 0
}
complete -o filenames -F _PROG_complete PROG
`

const zshCompletion = `#compdef PROG
# zsh completion for PROG: source <(PROG completion zsh), or save as _PROG in $fpath
_PROG() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  fi
  _files
}
compdef _PROG PROG
`

// starter is what `sidecarize init` writes: the modeline that gives
// editors with yaml-language-server the config's schema (this release's
// sidecarize.schema.json; main's for a development build), then
// starterConfig.
func starter() string {
	ref := "main"
	if releaseTag.MatchString(version()) {
		ref = version()
	}
	return "# yaml-language-server: $schema=" + strings.Replace(schema.ID, "/main/", "/"+ref+"/", 1) + "\n" + starterConfig
}

var releaseTag = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

// starterConfig must load as it is (runInit checks it; the schema tests
// validate init's output) and change nothing until it is edited to select
// a workload of the user's.
const starterConfig = `# sidecarize config. Use it with: sidecarize -c sidecarize.yaml app/ -o out/
# Every pattern, option and default: sidecarize patterns (or the README).
# Flags (-p, --set) are the lowest layer, this file is above them, and the
# workloads' sidecarize.dev/* annotations are above this file, within what
# spec.annotations allows them (README: Trust model).
apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata:
  name: sidecarize
spec:
  # nativeSidecars: auto            # auto | true | false (auto: true for kubeVersion >= 1.29)
  # kubeVersion: "1.33"             # the cluster you deploy to
  # images:                         # pin the images the patterns use (a digest pins fully)
  #   haproxy: haproxy:3.4-alpine
  # annotations:                    # what annotations may set beyond tuning
  #   allow: [secrets]              # images | exporters | secrets | collectors | resources | logFiles
  #   maxResources: {cpu: "1", memory: 1Gi}   # ceiling of annotation-set requests and limits
  rules:
    # Each rule selects workloads (all given conditions must hold; no select:
    # every workload) and says which patterns they get. Replace "my-app".
    - select:
        names: [my-app]
        # kinds: [Deployment, StatefulSet]
        # namespaces: [shop]
        # matchLabels: {tier: backend}
      # sidecar: HAProxy in front of the app's port, Prometheus metrics and a ServiceMonitor.
      monitor:
        rules: true                   # also a PrometheusRule (request rate, 5xx ratio, alert)
        # port: http                  # default: the first declared port
        # scrape: serviceMonitor      # serviceMonitor | podMonitor | annotations | none
      # adapter: the app's log file as JSON lines on stdout.
      # logs:
      #   files: [/logs/app.log]
      #   format: json                # json | logfmt | nginx | apache | clf | syslog | regex
      # ambassador: timeouts, retries and a circuit breaker for an upstream.
      # ambassadors:
      #   upstreams:
      #     - name: api
      #       upstream: http://api
      #       env: [API_URL]
      # sidecar: a Prometheus exporter beside a database.
      # exporter:
      #   type: postgres
      #   secretRef: {name: db-credentials}
      # sidecar: Envoy, request ids and traces.
      # tracing:
      #   tracer: zipkin
      # sidecar: TLS termination from a kubernetes.io/tls Secret.
      # tls:
      #   secretName: my-app-tls
`

func runInit(c *cli.Context) error {
	path := "sidecarize.yaml"
	if c.NArg() > 1 {
		return usageErr("init: at most one file name")
	}
	if c.NArg() == 1 {
		path = c.Args().First()
	}
	// The starter must stay a valid config.
	if _, err := transform.LoadConfig("starter config", []byte(starterConfig), patterns.All()); err != nil {
		return exitErr{exitError, fmt.Errorf("internal error: the starter config does not load: %w", err)}
	}
	if path == "-" {
		_, err := io.WriteString(c.App.Writer, starter())
		return err
	}
	if _, err := os.Lstat(path); err == nil && !c.Bool("force") {
		return exitErr{exitError, fmt.Errorf("%s exists; not overwriting it (--force replaces it)", path)}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return exitErr{exitError, err}
	}
	if _, err := writeTargets([]*target{{name: path, data: []byte(starter())}}); err != nil {
		return exitErr{exitError, err}
	}
	fmt.Fprintf(c.App.ErrWriter, "sidecarize: wrote %s; edit its rules, then: sidecarize -c %s app/ -o out/\n", path, path)
	return nil
}

func runSchema(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("schema: takes no arguments")
	}
	b, err := schema.JSON(patterns.All())
	if err != nil {
		return exitErr{exitError, fmt.Errorf("internal error: %w", err)}
	}
	_, err = c.App.Writer.Write(b)
	return err
}
