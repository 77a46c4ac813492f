package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/urfave/cli/v2"

	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// defaultVersion is the version of a build that is neither a release
// (-ldflags -X …/cli.Version=) nor `go install …@version`.
const defaultVersion = "v0.1.0-dev"

// Version is set at build time (-ldflags -X); see readBuildInfo.
var Version = defaultVersion

// Exit codes (docs/contract.md#exit-codes).
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	exitDrift = 3
)

// exitErr carries an exit code through urfave/cli.
type exitErr struct {
	code int
	err  error
}

func (e exitErr) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return exitErr{exitUsage, fmt.Errorf(format, args...)}
}

// Main runs the command line and returns the exit code.
func Main() int {
	// Parsing and building allocate heavily while little stays live (a
	// summary per object, the input's bytes): three times Go's default GC
	// target trades some of that memory for less GC time. `make bench`:
	// about 13% less CPU than 200, peak RSS still about 2x (input +
	// output) at 5,000 and 50,000 pairs. GOGC in the environment still
	// wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	return Run(os.Args, os.Stdin, os.Stdout, os.Stderr)
}

// Run is Main with explicit streams, for tests.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	// The last guard: a panic is a bug, reported as an internal error with
	// the error exit code (never Go's 2, the usage-error code).
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "sidecarize: internal error (a bug: please report it with the input that caused it): %v\n%s", r, debug.Stack())
			code = exitError
		}
	}()
	if underHelm4() {
		return runUnderHelm4(args, stdin, stdout, stderr)
	}
	return run(args, stdin, stdout, stderr)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	app.Metadata = map[string]any{"configFlag": hasConfigFlag(args)}
	err := app.Run(permute(args))
	if err == nil {
		return exitOK
	}
	var ee exitErr
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintf(stderr, "sidecarize: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "sidecarize: %v\n", err)
	// An error about a workload is never a usage error, whatever its text.
	var we *transform.WorkloadError
	if errors.As(err, &we) {
		return exitError
	}
	if strings.Contains(err.Error(), "flag provided but not defined") || strings.Contains(err.Error(), "flag needs an argument") || strings.Contains(err.Error(), "invalid value") {
		return exitUsage
	}
	return exitError
}

// hasConfigFlag reports whether -c/--config is on the command line (as
// opposed to SIDECARIZE_CONFIG in the environment).
func hasConfigFlag(args []string) bool {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-c" || a == "--config" || a == "-config" || strings.HasPrefix(a, "-c=") || strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config=") {
			return true
		}
	}
	return false
}

var subcommands = map[string]bool{"uninject": true, "fn": true, "patterns": true, "version": true, "init": true, "completion": true, "help": true, "h": true}

// valueFlags take a value as the next argument.
var valueFlags = map[string]bool{
	"-c": true, "--config": true, "-o": true, "--output": true, "--report": true,
	"--native-sidecars": true, "--kube-version": true, "-p": true, "--pattern": true,
	"--set": true, "--api-versions": true, "-l": true, "--selector": true, "--kind": true, "--name": true,
}

// permute moves flags before positional arguments, so that
// `sidecarize app/ -o out/` works like `sidecarize -o out/ app/`
// (urfave/cli stops parsing flags at the first argument).
func permute(args []string) []string {
	if len(args) < 2 {
		return args
	}
	// Shell completion (urfave/cli's --generate-bash-completion, last):
	// leave the words as typed.
	if args[len(args)-1] == "--generate-bash-completion" {
		return args
	}
	var flags, pos []string
	sub := ""
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			if valueFlags[a] && i+1 < len(rest) {
				flags = append(flags, rest[i+1])
				i++
			}
			continue
		}
		// The first positional argument may name a subcommand, wherever
		// the flags are: `sidecarize --report none uninject app/`.
		if sub == "" && len(pos) == 0 && subcommands[a] {
			sub = a
			continue
		}
		pos = append(pos, a)
	}
	out := []string{args[0]}
	if sub != "" {
		out = append(out, sub)
	}
	out = append(out, flags...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

func transformFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "Sidecarize config file (`FILE`)", EnvVars: []string{"SIDECARIZE_CONFIG"}},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `PATH`: a file, or a directory (mirrors the input tree)"},
		&cli.BoolFlag{Name: "in-place", Aliases: []string{"i"}, Usage: "rewrite the input files in place (all of them or none)"},
		&cli.StringFlag{Name: "report", Value: "text", Usage: "summary on stderr: text, json or none"},
		&cli.BoolFlag{Name: "check", Usage: "write nothing; exit 3 if the output would differ from the input, or with -o from the files there"},
		&cli.BoolFlag{Name: "diff", Usage: "print a unified diff of the changes instead of the output"},
		&cli.StringFlag{Name: "native-sidecars", Usage: "auto, true or false"},
		&cli.StringFlag{Name: "kube-version", Usage: "target Kubernetes version, e.g. 1.33"},
		&cli.StringSliceFlag{Name: "api-versions", Usage: "API versions the cluster serves, as helm template takes them (monitoring.coreos.com/v1: scrape auto makes ServiceMonitors)"},
		&cli.StringSliceFlag{Name: "pattern", Aliases: []string{"p"}, Usage: "apply patterns to the selected workloads (monitor,logs …)"},
		&cli.StringSliceFlag{Name: "set", Usage: "set an option: pattern.option=value (repeatable)"},
		&cli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "select workloads by label: k=v[,k=v]"},
		&cli.StringSliceFlag{Name: "kind", Usage: "select workloads by kind"},
		&cli.StringSliceFlag{Name: "name", Usage: "select workloads by name"},
	}
}

// krmFlags are the transform flags that apply to a ResourceList.
func krmFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range transformFlags() {
		switch f.Names()[0] {
		case "output", "in-place", "report", "check", "diff":
			continue
		}
		out = append(out, f)
	}
	return out
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	usageErrs := func(c *cli.Context, err error, _ bool) error { return usageErr("%v", err) }
	name := "sidecarize"
	if progName() == "kubectl-sidecarize" {
		name = "kubectl sidecarize"
	}
	app := &cli.App{
		Name:                 name,
		Usage:                "productionise Kubernetes workloads with sidecar, adapter and ambassador patterns",
		UsageText:            name + " [flags] [FILE|DIR|-]...   (stdin when no file is given)\n" + name + " COMMAND [flags] [ARGS]...",
		Description:          strings.ReplaceAll(rootExamples, "sidecarize ", name+" "),
		Version:              version(),
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		Flags:                transformFlags(),
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
		Action:               func(c *cli.Context) error { return runTransform(c, false) },
		OnUsageError:         usageErrs,
		Commands: []*cli.Command{
			{
				Name: "uninject", Usage: "remove what sidecarize injected: restores workloads and Services, drops generated objects",
				ArgsUsage:    "[FILE|DIR|-]...",
				Description:  "Examples:\n  sidecarize uninject out/api.yaml > api.yaml\n  sidecarize uninject -i manifests/\n  sidecarize uninject --check manifests/   # exit 3 if anything is still injected",
				Flags:        transformFlags(),
				Action:       func(c *cli.Context) error { return runTransform(c, true) },
				OnUsageError: usageErrs,
			},
			{
				Name: "fn", Usage: "run as a KRM function: ResourceList on stdin, ResourceList on stdout",
				Description: "A ResourceList on stdin is detected without `fn` too. The functionConfig is a Sidecarize config;\n" +
					"-p, --set and the selection flags apply; -c (or SIDECARIZE_CONFIG) gives the config when there is no functionConfig.\n\n" +
					"Examples:\n" +
					"  kustomize build --enable-alpha-plugins --enable-exec overlay/   # transformers: with config.kubernetes.io/function: {exec: {path: ./sidecarize}}\n" +
					"  kpt fn eval --exec ./sidecarize --fn-config sidecarize.yaml app/\n" +
					"  kpt fn source app/ | sidecarize fn -p monitor",
				Flags:        krmFlags(),
				Action:       func(c *cli.Context) error { return runKRM(c, stdin, stdout, false) },
				OnUsageError: usageErrs,
			},
			{
				Name: "patterns", Usage: "list every pattern, option, default and annotation",
				Description: "Examples:\n  sidecarize patterns\n  sidecarize patterns --markdown",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "markdown", Usage: "as Markdown tables"},
					&cli.BoolFlag{Name: "names", Usage: "only the pattern names, one a line"},
				},
				Action: func(c *cli.Context) error {
					if c.Bool("names") {
						_, err := fmt.Fprintln(stdout, strings.Join(names(patterns.All()), "\n"))
						return err
					}
					return listPatterns(stdout, c.Bool("markdown"))
				},
				OnUsageError: usageErrs,
			},
			{
				Name: "schema", Usage: "print the config file's JSON Schema (for editors: yaml-language-server)",
				Description: "Generated from the options types, as `patterns` is; the repository commits it as sidecarize.schema.json.\n\n" +
					"Examples:\n" +
					"  sidecarize schema > sidecarize.schema.json\n" +
					"  # then, as the first line of sidecarize.yaml:\n" +
					"  # yaml-language-server: $schema=sidecarize.schema.json",
				Action:       runSchema,
				OnUsageError: usageErrs,
			},
			{
				Name: "init", Usage: "write a commented starter config (default sidecarize.yaml; - for stdout)",
				ArgsUsage:    "[FILE|-]",
				Description:  "Examples:\n  sidecarize init && $EDITOR sidecarize.yaml\n  sidecarize init - > config/sidecarize.yaml",
				Flags:        []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "replace an existing file"}},
				Action:       runInit,
				OnUsageError: usageErrs,
			},
			{
				Name: "version", Usage: "print the version, commit, build date, Go version and platform",
				Description:  "Examples:\n  sidecarize version\n  sidecarize version -o json",
				Flags:        []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "text or json"}},
				Action:       runVersion,
				OnUsageError: usageErrs,
			},
			{
				Name: "completion", Usage: "print a shell completion script: bash, zsh or fish",
				ArgsUsage: "bash|zsh|fish",
				Description: "Examples:\n" +
					"  source <(sidecarize completion bash)          # in ~/.bashrc\n" +
					"  sidecarize completion zsh > \"${fpath[1]}/_sidecarize\"\n" +
					"  sidecarize completion fish > ~/.config/fish/completions/sidecarize.fish",
				Action:       runCompletion,
				OnUsageError: usageErrs,
			},
		},
	}
	return app
}

// rootExamples is the top-level help's description: one example per front end.
const rootExamples = `Examples, one per front end:

  filter:         sidecarize -c sidecarize.yaml < app.yaml | kubectl apply -f -
  files:          sidecarize -c sidecarize.yaml app/ -o out/
  in place:       sidecarize -c sidecarize.yaml -i manifests/
  CI gate:        sidecarize -c sidecarize.yaml app/ -o out/ --check    # exit 3 when out/ is stale
  diff:           sidecarize -c sidecarize.yaml --diff app/
  one-off:        sidecarize -p monitor,logs --set logs.files=/logs/app.log --name api app.yaml
  KRM function:   kpt fn eval --exec ./sidecarize --fn-config sidecarize.yaml app/
  Helm 3:         SIDECARIZE_CONFIG=sidecarize.yaml helm install web ./chart --post-renderer ./sidecarize
  kubectl plugin: kubectl sidecarize -c sidecarize.yaml app/ -o out/
  undo:           sidecarize uninject -i manifests/
  start:          sidecarize init

Exit codes: 0 success, 1 error (nothing written), 2 usage error, 3 --check found drift.
More: sidecarize help COMMAND, sidecarize patterns, the README.`

// input is one file (or stdin) with its documents.
type input struct {
	path   string // "" for stdin
	rel    string // path relative to its input root, for -o DIR
	data   []byte
	docs   []*transform.Doc
	stream *transform.Stream // the output
	out    []byte            // the output, in memory (not when written to stdout)
}

func runTransform(c *cli.Context, uninject bool) error {
	stdin, stdout, stderr := c.App.Reader, c.App.Writer, c.App.ErrWriter
	report := c.String("report")
	switch report {
	case "text", "json", "none":
	default:
		return usageErr("--report %q: must be text, json or none", report)
	}
	if c.Bool("in-place") && c.String("output") != "" {
		return usageErr("-i and -o cannot be used together")
	}
	args := c.Args().Slice()
	if len(args) == 0 {
		args = []string{"-"}
		stdinHint(stdin, stderr)
	}
	inputs, skipped, err := readInputs(args, stdin)
	if err != nil {
		return exitErr{exitError, err}
	}
	for _, in := range inputs {
		if in.path == "" && c.Bool("in-place") {
			return usageErr("-i needs files, not stdin")
		}
	}
	// A ResourceList on stdin is a KRM function call (kustomize, kpt).
	if len(inputs) == 1 && inputs[0].path == "" && isResourceList(inputs[0].data) {
		if c.Bool("in-place") || c.String("output") != "" || c.Bool("check") || c.Bool("diff") {
			return usageErr("a ResourceList on stdin is answered on stdout: -o, -i, --check and --diff do not apply")
		}
		return runKRM(c, bytes.NewReader(inputs[0].data), stdout, uninject)
	}

	all := patterns.All()
	e := &transform.Engine{Patterns: all, Uninject: uninject, Version: version()}
	if cfg := c.String("config"); cfg != "" {
		conf, err := loadConfigFile(cfg, all)
		if err != nil {
			return exitErr{exitError, err}
		}
		e.Config = conf
	}
	if err := setFlags(c, e, all); err != nil {
		return err
	}

	// Everything is computed before anything is written. Written to
	// stdout, the finished documents wait in a temporary file (a spool)
	// rather than in memory.
	toStdout := !c.Bool("in-place") && c.String("output") == "" && !c.Bool("check") && !c.Bool("diff")
	var spool *transform.Spool
	if toStdout {
		spool = transform.NewSpool()
		defer spool.Close()
	}
	var docs []*transform.Doc
	for _, in := range inputs {
		in.docs = transform.SplitStream(in.name(), in.data)
		transform.UseSpool(in.docs, spool)
		docs = append(docs, in.docs...)
	}
	rep, err := e.Run(docs)
	if err != nil {
		return exitErr{exitError, err}
	}
	if !c.Bool("in-place") && (c.String("output") != "" || !(c.Bool("check") || c.Bool("diff"))) {
		inputs = withoutLocalConfig(inputs) // localconfig.go
	}
	for _, in := range inputs {
		if in.stream, err = transform.Collect(in.docs); err != nil {
			return exitErr{exitError, err}
		}
		if !toStdout {
			if in.out, err = in.stream.Bytes(); err != nil {
				return exitErr{exitError, err}
			}
		}
		rep.NoteReencoded(in.docs)
	}
	r := &runReport{Report: rep, Skipped: skipped}

	out := c.String("output")
	var targets []*target // what -o or -i would write; nil: stdout
	switch {
	case out != "":
		targets, err = outputTargets(out, inputs, len(args) > 1 || isDir(args[0]))
		if err != nil {
			return exitErr{exitError, err}
		}
	case c.Bool("in-place"):
		for _, in := range inputs {
			targets = append(targets, &target{name: in.path, data: in.out, read: in.data})
		}
	}

	if c.Bool("check") || c.Bool("diff") {
		// Compare with what -o would overwrite, else with the inputs.
		type pair struct {
			name     string
			old, new []byte
		}
		var pairs []pair
		if out != "" {
			if r.Files, err = compareTargets(targets); err != nil {
				return exitErr{exitError, err}
			}
			for _, t := range targets {
				pairs = append(pairs, pair{t.name, t.current(), t.data})
			}
		} else {
			for _, in := range inputs {
				action := "unchanged"
				if !bytes.Equal(in.out, in.data) {
					action = "would_change"
				}
				r.Files = append(r.Files, fileResult{Path: in.name(), Action: action})
				pairs = append(pairs, pair{in.name(), in.data, in.out})
			}
		}
		r.check = true
		if err := r.write(stderr, report); err != nil {
			return exitErr{exitError, err}
		}
		if c.Bool("diff") {
			for _, p := range pairs {
				if d := diff.Diff("a/"+p.name, p.old, "b/"+p.name, p.new); len(d) > 0 {
					if _, err := stdout.Write(d); err != nil {
						return err
					}
				}
			}
		}
		if c.Bool("check") && r.drift() {
			return exitErr{exitDrift, nil}
		}
		return nil
	}

	if targets != nil {
		if r.Files, err = writeTargets(targets); err != nil {
			return exitErr{exitError, err}
		}
		return wrapErr(r.write(stderr, report))
	}
	if err := r.write(stderr, report); err != nil {
		return exitErr{exitError, err}
	}
	return writeStream(stdout, inputs)
}

func wrapErr(err error) error {
	if err == nil {
		return nil
	}
	return exitErr{exitError, err}
}

// loadConfigFile reads and checks a Sidecarize config file.
func loadConfigFile(path string, all []transform.Pattern) (*transform.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return transform.LoadConfig(path, b, all)
}

// outputTargets maps the outputs to -o PATH: one stream to a file (or a
// device), or the input tree mirrored into a directory.
func outputTargets(path string, inputs []*input, many bool) ([]*target, error) {
	if many || strings.HasSuffix(path, "/") || isDir(path) {
		var ts []*target
		for _, in := range inputs {
			ts = append(ts, &target{name: filepath.Join(path, in.rel), data: in.out})
		}
		return ts, nil
	}
	var buf bytes.Buffer
	if err := writeStream(&buf, inputs); err != nil {
		return nil, err
	}
	return []*target{{name: path, data: buf.Bytes()}}, nil
}

func (in *input) name() string {
	if in.path == "" {
		return "<stdin>"
	}
	return in.path
}

func setFlags(c *cli.Context, e *transform.Engine, all []transform.Pattern) error {
	e.Flags.NativeSidecars = c.String("native-sidecars")
	e.Flags.KubeVersion = c.String("kube-version")
	for _, v := range c.StringSlice("api-versions") {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if err := transform.ValidAPIVersion(s); err != nil {
				return usageErr("--api-versions %w", err)
			}
			e.Flags.APIVersions = append(e.Flags.APIVersions, s)
		}
	}
	for _, p := range c.StringSlice("pattern") {
		for _, name := range strings.Split(p, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !knownPattern(all, name) {
				return usageErr("--pattern %q: unknown pattern (patterns: %s)", name, strings.Join(names(all), ", "))
			}
			e.Flags.Patterns = append(e.Flags.Patterns, name)
		}
	}
	for _, s := range c.StringSlice("set") {
		key, _, ok := strings.Cut(s, "=")
		pn, _, hasDot := strings.Cut(key, ".")
		if !ok || !hasDot {
			return usageErr("--set %q: expected pattern.option=value", s)
		}
		if !knownPattern(all, pn) {
			return usageErr("--set %q: unknown pattern %q (patterns: %s)", s, pn, strings.Join(names(all), ", "))
		}
		e.Flags.Set = append(e.Flags.Set, s)
	}
	if sel := c.String("selector"); sel != "" {
		e.Flags.Select.MatchLabels = map[string]string{}
		for _, kv := range strings.Split(sel, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return usageErr("--selector %q: expected key=value[,key=value]", sel)
			}
			e.Flags.Select.MatchLabels[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	e.Flags.Select.Kinds = c.StringSlice("kind")
	e.Flags.Select.Names = c.StringSlice("name")
	if (len(e.Flags.Select.Kinds) > 0 || len(e.Flags.Select.Names) > 0 || e.Flags.Select.MatchLabels != nil) && len(e.Flags.Patterns) == 0 {
		return usageErr("--selector, --kind and --name select workloads for --pattern; give -p too")
	}
	return nil
}

func knownPattern(all []transform.Pattern, name string) bool {
	for _, p := range all {
		if p.Name() == name {
			return true
		}
	}
	return false
}

func names(all []transform.Pattern) []string {
	var out []string
	for _, p := range all {
		out = append(out, p.Name())
	}
	return out
}

// readInputs reads files, directories (recursively: *.yaml, *.yml, *.json,
// sorted; hidden directories skipped) and "-" (stdin). A file named on the
// command line is read whatever it is (a FIFO, /dev/stdin, a process
// substitution); inside a directory only regular files and symlinks to them
// are read, anything else is skipped and reported (a FIFO would block).
func readInputs(args []string, stdin io.Reader) ([]*input, []string, error) {
	var out []*input
	var skipped []string
	seenStdin := false
	for _, a := range args {
		if a == "-" {
			if seenStdin {
				return nil, nil, usageErr("stdin (-) given twice")
			}
			seenStdin = true
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, &input{data: b, rel: "stdin.yaml"})
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, nil, err
		}
		if !fi.IsDir() {
			b, err := os.ReadFile(a)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, &input{path: a, rel: filepath.Base(a), data: b})
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != a && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml", ".json":
			default:
				return nil
			}
			if why := notRegular(p, d); why != "" {
				skipped = append(skipped, fmt.Sprintf("%s: %s; skipped", p, why))
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, err
			}
			rel, _ := filepath.Rel(a, f)
			out = append(out, &input{path: f, rel: rel, data: b})
		}
	}
	return out, skipped, nil
}

// notRegular says why a directory entry is not read ("" when it is a
// regular file or a symlink to one).
func notRegular(p string, d os.DirEntry) string {
	t := d.Type()
	if t&fs.ModeSymlink != 0 {
		fi, err := os.Stat(p)
		if err != nil {
			return "a symlink to nothing readable (" + err.Error() + ")"
		}
		if fi.Mode().IsRegular() {
			return ""
		}
		return "a symlink to something else (" + typeName(fi.Mode()) + ")"
	}
	if t.IsRegular() {
		return ""
	}
	return "not a regular file (" + typeName(t) + ")"
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "irregular file"
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// writeStream concatenates the outputs as one YAML stream.
func writeStream(w io.Writer, inputs []*input) error {
	// Written input by input: the stream is not copied into one more
	// buffer (it is most of a large run's memory).
	bw := bufio.NewWriterSize(w, 1<<16)
	var last byte
	for _, in := range inputs {
		if in.stream.Empty() {
			continue
		}
		if last != 0 {
			var sep []byte
			if last != '\n' {
				sep = append(sep, '\n')
			}
			if !in.stream.OpensWithSeparator() {
				sep = append(sep, "---\n"...)
			}
			if _, err := bw.Write(sep); err != nil {
				return err
			}
		}
		if _, err := in.stream.WriteTo(bw); err != nil {
			return err
		}
		last = in.stream.Last()
	}
	return bw.Flush()
}

func listPatterns(w io.Writer, markdown bool) error {
	for i, p := range patterns.All() {
		if markdown {
			fmt.Fprintf(w, "### %s\n\n%s\n\n| option | type | default | annotation | description |\n|---|---|---|---|---|\n", p.Name(), p.Summary())
			for _, o := range transform.DescribeOptions(p) {
				fmt.Fprintf(w, "| `%s` | %s | %s | `%s` | %s |\n", o.Name, o.Type, mdCode(o.Default), o.Annotation, o.Doc)
			}
			fmt.Fprintln(w)
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (config key %q, annotation %s: %s)\n  %s\n", p.Name(), p.ConfigKey(), transform.AnnotationInject, p.Name(), p.Summary())
		for _, o := range transform.DescribeOptions(p) {
			def := o.Default
			if def == "" {
				def = "-"
			}
			fmt.Fprintf(w, "  %-32s %-14s default %-18s %s\n", o.Name, o.Type, def, o.Doc)
		}
	}
	return nil
}

func mdCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "|", "\\|") + "`"
}
