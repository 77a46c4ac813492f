package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// roundTripInputs are files whose bytes the golden cases (each an
// input.yaml written with a final newline or not, read from memory) do not
// all cover: the file's end, its line endings, JSON.
var roundTripInputs = map[string]string{
	// The workload is the last document and gets generated objects after
	// it; the file has no final newline.
	"workload-last.yaml": deployment + "        ports:\n        - containerPort: 8080",
	// The last document is not changed.
	"unchanged-last.yaml": deployment + "        ports:\n        - containerPort: 8080\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b",
	// The last document is a Service that is changed (its targetPort).
	"service-last.yaml": deployment + "        ports:\n        - containerPort: 8080\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080",
	// With a final newline.
	"final-newline.yaml": deployment + "        ports:\n        - containerPort: 8080\n",
	// Explicit tags on what sidecarize edits (flow and block maps and
	// lists that grow, a targetPort, a Service's empty labels; the golden
	// case tagged-collections has more).
	"tags.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    sidecarize.dev/inject: monitor
    sidecarize.dev/monitor.scrape: serviceMonitor
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      annotations: !!map {}
      labels: !!map
        app: web
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env: !!seq
        - {name: A, value: !!str 1}
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: !!map {}
spec:
  selector: {app: web}
  ports: !!seq
  - port: 80
    targetPort: !!int 8080
`,
	// A YAML stream with a JSON object in it (a Service that is retargeted).
	"mixed.yaml": deployment + "        ports:\n        - containerPort: 8080\n---\n" +
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}}` + "\n",
	// One YAML document in flow style (not JSON: its keys are not quoted)
	// is YAML: it was written as JSON.
	"flow.yaml": "{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, annotations: {sidecarize.dev/inject: monitor}},\n  spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}},\n      spec: {containers: [{name: app, image: 'nginx:1.27', ports: [{containerPort: 8080}]}]}}}}\n",
	// JSON in the layouts tools write: compact, indented by four spaces
	// (kubectl), on one line with spaces (Python); without a final newline.
	"compact.json": "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"annotations\":{\"sidecarize.dev/inject\":\"monitor\",\"note\":\"a<b&c\"}},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.27\",\"ports\":[{\"containerPort\":8080}]}]}}}}" + "\n",
	"kubectl.json": "{\n    \"apiVersion\": \"apps/v1\",\n    \"kind\": \"Deployment\",\n    \"metadata\": {\n        \"name\": \"web\",\n        \"annotations\": {\n            \"sidecarize.dev/inject\": \"monitor\",\n            \"note\": \"a<b&c\"\n        }\n    },\n    \"spec\": {\n        \"selector\": {\n            \"matchLabels\": {\n                \"app\": \"web\"\n            }\n        },\n        \"template\": {\n            \"metadata\": {\n                \"labels\": {\n                    \"app\": \"web\"\n                }\n            },\n            \"spec\": {\n                \"containers\": [\n                    {\n                        \"name\": \"app\",\n                        \"image\": \"nginx:1.27\",\n                        \"ports\": [\n                            {\n                                \"containerPort\": 8080\n                            }\n                        ]\n                    }\n                ]\n            }\n        }\n    }\n}" + "\n",
	"python.json":  "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {\"name\": \"web\", \"annotations\": {\"sidecarize.dev/inject\": \"monitor\", \"note\": \"a<b&c\"}}, \"spec\": {\"selector\": {\"matchLabels\": {\"app\": \"web\"}}, \"template\": {\"metadata\": {\"labels\": {\"app\": \"web\"}}, \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"nginx:1.27\", \"ports\": [{\"containerPort\": 8080}]}]}}}}" + "\n",
	// What kubectl and Python write by default: encoding/json escapes <, >
	// and & (kubectl get -o json), json.dumps every character past ASCII.
	"kubectl-escaped.json": "{\n    \"apiVersion\": \"apps/v1\",\n    \"kind\": \"Deployment\",\n    \"metadata\": {\n        \"name\": \"web\",\n        \"annotations\": {\n            \"sidecarize.dev/inject\": \"monitor\",\n            \"note\": \"a\\u003cb\\u0026c\\u003e ü\"\n        }\n    },\n    \"spec\": {\n        \"selector\": {\n            \"matchLabels\": {\n                \"app\": \"web\"\n            }\n        },\n        \"template\": {\n            \"metadata\": {\n                \"labels\": {\n                    \"app\": \"web\"\n                }\n            },\n            \"spec\": {\n                \"containers\": [\n                    {\n                        \"name\": \"app\",\n                        \"image\": \"nginx:1.27\",\n                        \"ports\": [\n                            {\n                                \"containerPort\": 8080\n                            }\n                        ]\n                    }\n                ]\n            }\n        }\n    }\n}" + "\n",
	"python-ascii.json":    "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {\"name\": \"web\", \"annotations\": {\"sidecarize.dev/inject\": \"monitor\", \"note\": \"a<b&c \\u00fc \\u2713\"}}, \"spec\": {\"selector\": {\"matchLabels\": {\"app\": \"web\"}}, \"template\": {\"metadata\": {\"labels\": {\"app\": \"web\"}}, \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"nginx:1.27\", \"ports\": [{\"containerPort\": 8080}]}]}}}}" + "\n",
	"no-newline.json":      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"annotations\":{\"sidecarize.dev/inject\":\"monitor\",\"note\":\"a<b&c\"}},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.27\",\"ports\":[{\"containerPort\":8080}]}]}}}}",
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    sidecarize.dev/inject: monitor
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
`

// Uninject of sidecarize's output gives the input back byte for byte,
// however the output is written (stdout, -i, -o), and injecting again (the
// output or the uninjected input) gives the same output. Each input is
// tried as written and with CRLF line endings.
func TestRoundTripBytes(t *testing.T) {
	for name, in := range roundTripInputs {
		for _, crlf := range []bool{false, true} {
			file, data := name, in
			if crlf {
				data = strings.ReplaceAll(in, "\n", "\r\n")
				file = strings.TrimSuffix(name, filepath.Ext(name)) + "-crlf" + filepath.Ext(name)
			}
			t.Run(file, func(t *testing.T) { roundTrip(t, file, []byte(data)) })
		}
	}
}

func roundTrip(t *testing.T, name string, in []byte) {
	dir := t.TempDir()
	file := filepath.Join(dir, name)
	writeFile(t, file, in)
	stdout := func(args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Run(append([]string{"sidecarize", "--report", "none"}, args...), nil, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.Bytes()
	}
	injected := stdout(file)
	if bytes.Equal(injected, in) {
		t.Fatalf("nothing injected:\n%s", injected)
	}
	if crlf := bytes.Contains(in, []byte("\r\n")); crlf && bytes.Count(injected, []byte("\n")) != bytes.Count(injected, []byte("\r\n")) {
		t.Errorf("a CRLF file's output has LF line endings:\n%q", injected)
	}
	writeFile(t, file, injected)
	if again := stdout(file); !bytes.Equal(again, injected) {
		t.Errorf("not idempotent:\n%q\n%q", injected, again)
	}
	back := stdout("uninject", file)
	if !bytes.Equal(back, in) {
		t.Errorf("uninject (stdout) does not give the input back:\n%q\n%q", in, back)
	}
	writeFile(t, file, back)
	if again := stdout(file); !bytes.Equal(again, injected) {
		t.Errorf("injecting the uninjected input again differs:\n%q\n%q", injected, again)
	}

	// -i: the file itself, there and back.
	writeFile(t, file, in)
	stdout("-i", file)
	if got := readFile(t, file); !bytes.Equal(got, injected) {
		t.Errorf("-i writes other bytes than stdout:\n%q\n%q", injected, got)
	}
	stdout("uninject", "-i", file)
	if got := readFile(t, file); !bytes.Equal(got, in) {
		t.Errorf("uninject -i does not give the input back:\n%q\n%q", in, got)
	}

	// -o a directory, and -o a file: there and back.
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	stdout("-o", out1+"/", file)
	if got := readFile(t, filepath.Join(out1, name)); !bytes.Equal(got, injected) {
		t.Errorf("-o dir/ writes other bytes than stdout:\n%q\n%q", injected, got)
	}
	stdout("uninject", "-o", out2+"/", filepath.Join(out1, name))
	if got := readFile(t, filepath.Join(out2, name)); !bytes.Equal(got, in) {
		t.Errorf("uninject -o dir/ does not give the input back:\n%q\n%q", in, got)
	}
	out3, out4 := filepath.Join(dir, "out3.yaml"), filepath.Join(dir, "out4.yaml")
	stdout("-o", out3, file)
	if got := readFile(t, out3); !bytes.Equal(got, injected) {
		t.Errorf("-o file writes other bytes than stdout:\n%q\n%q", injected, got)
	}
	stdout("uninject", "-o", out4, out3)
	if got := readFile(t, out4); !bytes.Equal(got, in) {
		t.Errorf("uninject -o file does not give the input back:\n%q\n%q", in, got)
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
