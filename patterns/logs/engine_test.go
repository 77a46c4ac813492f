package logs_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarize/sidecarize/patterns/logs"
	"github.com/sidecarize/sidecarize/transform"
)

const webInput = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.29.3
`

func run(t *testing.T, config, input string) (string, *transform.Report) {
	t.Helper()
	ps := []transform.Pattern{logs.Pattern{}}
	cfg, err := transform.LoadConfig("config.yaml", []byte(config), ps)
	if err != nil {
		t.Fatal(err)
	}
	e := &transform.Engine{Patterns: ps, Config: cfg, Version: "test"}
	out, rep, err := e.Process("input.yaml", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return string(out), rep
}

func rule(logsOpts string) string {
	return `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: t}
spec:
  rules:
    - select: {names: [web]}
      logs: ` + logsOpts + "\n"
}

// Mounting an emptyDir over /var/log/nginx hides the image's own files
// there (the official nginx image ships access.log -> /dev/stdout): warned.
func TestWarnsOverImageDirectory(t *testing.T) {
	_, rep := run(t, rule(`{files: [/var/log/nginx/access.log], format: nginx}`), webInput)
	var msgs []string
	for _, w := range rep.Workloads {
		msgs = append(msgs, w.Warnings...)
	}
	for _, m := range rep.Warnings {
		msgs = append(msgs, m.Message)
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], "/var/log/nginx") || !strings.Contains(msgs[0], "hides") {
		t.Errorf("warnings: %q", msgs)
	}
	_, rep = run(t, rule(`{files: [/logs/app.log]}`), webInput)
	for _, w := range rep.Workloads {
		if len(w.Warnings) > 0 {
			t.Errorf("a dedicated directory is warned about: %q", w.Warnings)
		}
	}
}

// Changing the options and re-running upgrades in place: the output equals
// a fresh run with the new options (nothing duplicated or left behind).
func TestUpgradeInPlace(t *testing.T) {
	steps := []string{
		`{files: [/logs/app.log], engine: tail}`,
		`{files: [/logs/app.log, /audit/*.log], format: logfmt, fields: {app: web}}`,
		`{files: [/logs/app.log], format: regex, regex: '^(?<level>[A-Z]+) (?<message>[\s\S]*)$', multiline: '^[A-Z]+ '}`,
		`{files: [/logs/app.log], engine: tail}`,
	}
	prev := webInput
	for i, s := range steps {
		got, _ := run(t, rule(s), prev)
		fresh, _ := run(t, rule(s), webInput)
		if d := cmp.Diff(fresh, got); d != "" {
			t.Errorf("step %d: re-run on the previous output differs from a fresh run (-fresh +rerun):\n%s", i, d)
		}
		prev = got
	}
	if strings.Count(prev, "emptyDir") != 1 || strings.Contains(prev, "ConfigMap") {
		t.Errorf("leftovers after going back to the tail engine:\n%s", prev)
	}
}

// Inject errors name the option.
func TestInjectErrors(t *testing.T) {
	ps := []transform.Pattern{logs.Pattern{}}
	for cfg, want := range map[string]string{
		rule(`{files: [/logs/app.log], container: sidecar}`):                                `container: "sidecar": no such container`,
		rule(`{files: [/logs/a.log, /logs/b.log, /x/c.log], engine: tail, image: busybox}`): `pin a tag`,
	} {
		c, err := transform.LoadConfig("config.yaml", []byte(cfg), ps)
		if err != nil {
			t.Fatal(err)
		}
		e := &transform.Engine{Patterns: ps, Config: c, Version: "test"}
		_, _, err = e.Process("input.yaml", []byte(webInput))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Deployment web") {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

// A directory under another shared one uses its volume: one emptyDir.
func TestNestedDirectories(t *testing.T) {
	out, _ := run(t, rule(`{files: [/logs/audit/audit.log, /logs/app.log, /data/x.log]}`), webInput)
	if n := strings.Count(out, "emptyDir:"); n != 3 { // /logs, /data and the fluent-bit DB
		t.Errorf("%d emptyDirs:\n%s", n, out)
	}
	if strings.Contains(out, "mountPath: /logs/audit") {
		t.Errorf("/logs/audit mounted on its own:\n%s", out)
	}
}

// The adapter runs as the pod's own non-root user when the pod declares one
// (it can then read the app's files whatever their mode); the option wins.
func TestRunAsPodUser(t *testing.T) {
	in := strings.Replace(webInput, "    spec:\n      containers:", "    spec:\n      securityContext: {runAsUser: 1001, runAsGroup: 2002}\n      containers:", 1)
	out, _ := run(t, rule(`{files: [/logs/app.log], engine: tail}`), in)
	if !strings.Contains(out, "runAsUser: 1001") || !strings.Contains(out, "runAsGroup: 2002") || strings.Contains(out, "65532") {
		t.Errorf("adapter does not run as the pod's user:\n%s", out)
	}
	out, _ = run(t, rule(`{files: [/logs/app.log], engine: tail, runAsUser: 3003}`), in)
	if !strings.Contains(out, "runAsUser: 3003") || !strings.Contains(out, "runAsGroup: 3003") {
		t.Errorf("the option does not win:\n%s", out)
	}
	root := strings.Replace(webInput, "    spec:\n      containers:", "    spec:\n      securityContext: {runAsUser: 0}\n      containers:", 1)
	out, _ = run(t, rule(`{files: [/logs/app.log], engine: tail}`), root)
	if !strings.Contains(out, "runAsUser: 65532") {
		t.Errorf("a root pod user is copied:\n%s", out)
	}
}
