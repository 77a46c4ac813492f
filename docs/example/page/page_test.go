package page_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/docs/example/page"
	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// withPage is the six registered patterns plus this one, in the place a
// registry entry would give it (last).
func withPage() []transform.Pattern { return append(patterns.All(), page.Pattern{}) }

// The golden cases run the whole engine: each case twice (idempotency) and
// through uninject, as every real pattern's do.
func TestGolden(t *testing.T) {
	golden.Run(t, "testdata", withPage())
}

// The generated page and command work with a real busybox httpd: it is
// started as the container would start it (its -p and -h pointed at a free
// port and a directory holding the ConfigMap's data) and the page is
// fetched.
func TestServesThePage(t *testing.T) {
	bin, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("busybox not found (scripts/deps.sh)")
		}
		t.Skip("busybox not found")
	}
	out, err := os.ReadFile("testdata/basic/expected.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := golden.Objects(t, out)
	cm := objs["ConfigMap/shop-page"]
	if cm == nil {
		t.Fatalf("no ConfigMap shop-page in the output")
	}
	dir := t.TempDir()
	for k, v := range cm.GetDataMap() {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := objs["Deployment/shop"].Pipe(yaml.Lookup("spec", "template", "spec", "initContainers", "[name="+page.ContainerName+"]", "command"))
	if err != nil || c == nil {
		t.Fatalf("no command of the page container: %v", err)
	}
	var cmd []string
	for _, a := range c.Content() {
		cmd = append(cmd, a.Value)
	}
	if len(cmd) == 0 || cmd[0] != "httpd" {
		t.Fatalf("page container command: %q", cmd)
	}
	port := freePort(t)
	for i := 0; i+1 < len(cmd); i++ {
		switch cmd[i] {
		case "-p":
			cmd[i+1] = "127.0.0.1:" + port
		case "-h":
			cmd[i+1] = dir
		}
	}
	srv := exec.Command(bin, cmd...)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })

	var body string
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get("http://127.0.0.1:" + port + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET /: %s", resp.Status)
			}
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("httpd did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"<title>Shop &lt;closed&gt; &amp; back soon</title>", "<p>We are moving the warehouse.</p>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// Adding the page pattern touched no engine file: it is registered only
// here, and no file of the engine (transform/) or of the registry
// (patterns/registry.go) names it or imports it. The golden cases above run
// it through the whole engine all the same.
func TestNoEngineFileKnowsThePattern(t *testing.T) {
	for _, p := range patterns.All() {
		if p.Name() == (page.Pattern{}).Name() {
			t.Fatalf("the registry lists %q", p.Name())
		}
	}
	files, err := filepath.Glob("../../../transform/*.go")
	if err != nil || len(files) < 20 {
		t.Fatalf("engine files: %d, %v", len(files), err)
	}
	files = append(files, "../../../patterns/registry.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"docs/example/page", `"page"`, "page.Pattern"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s mentions %s", f, bad)
			}
		}
	}
}

// The seventh pattern's defaults collide with none of the six's: all seven
// with default options on an app that uses no default of theirs move no
// port and no name (the status records no allocation, the report no
// "port … is used by" warning), and container ports and names are unique
// (golden.CheckPod).
func TestDefaultsDoNotCollide(t *testing.T) {
	const app = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: example.com/api:1.0
        env: [{name: DB_URL, value: "http://db:5432"}]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: http}]
`
	var names []string
	for _, p := range withPage() {
		names = append(names, p.Name())
	}
	set := []string{"tls.secretName=api-tls", "ambassador.db.upstream=http://db:5432", "ambassador.db.env=DB_URL",
		"exporter.type=redis", "exporter.port=8080", "logs.files=/var/log/api/app.log"}
	e := &transform.Engine{Patterns: withPage(), Version: "test", Flags: transform.Flags{Patterns: names, Set: set}}
	out, rep, err := e.Process("app.yaml", []byte(app))
	if err != nil {
		t.Fatal(err)
	}
	w := rep.Workloads[0]
	if w.Action != transform.ActionInjected || len(w.Patterns) != len(names) {
		t.Fatalf("want all %d patterns applied: %+v", len(names), w)
	}
	for _, m := range w.Warnings {
		if strings.Contains(m, " is used by ") {
			t.Errorf("a default moved: %s", m)
		}
	}
	dep := golden.Objects(t, out)["Deployment/api"]
	if dep == nil {
		t.Fatalf("no Deployment in the output:\n%s", out)
	}
	if s := dep.GetAnnotations()[transform.AnnotationStatus]; !strings.Contains(s, `"patterns":[`) || strings.Contains(s, `"allocated"`) {
		t.Errorf("a default moved (allocated) or no status:\n%s", s)
	}
	golden.CheckPod(t, out)
}
